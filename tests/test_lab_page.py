"""AppTest of the Classroom lab page (headless, caches cleared, no threads)."""

from __future__ import annotations

from tests.apptest_utils import no_exceptions, open_page


def _text(at) -> str:
    return " ".join(str(m.value) for m in [*at.markdown, *at.caption, *at.info, *at.error])


def _players(at) -> list:
    return [e for e in at.get("iframe") if "Plotly.newPlot" in str(getattr(e.proto, "srcdoc", ""))]


def test_lab_page_whole_lesson() -> None:
    at = open_page("lab.py")
    no_exceptions(at)
    text = _text(at)
    assert "Real learned filter 0 of 32" in text and "_conv_stem" in text and "BatchNorm" in text
    assert "⌊(8 + 0 − 1·2 − 1) / 1⌋ + 1" in text  # formula with the numbers substituted
    assert len(_players(at)) == 1

    # a classic preset, stride 2, padding 1: the formula follows live
    at.radio(key="lab_src").set_value("preset").run()
    at.number_input(key="lab_stride").set_value(2).run()
    at.selectbox(key="lab_pad").set_value("1").run()
    no_exceptions(at)
    assert "⌊(8 + 2 − 1·2 − 1) / 2⌋ + 1 = ⌊7 / 2⌋ + 1 = 4" in _text(at)

    # impossible: a 7×7 kernel with dilation 4 on a 4×4 grid is explained, not crashed on
    at.number_input(key="lab_stride").set_value(1).run()
    at.select_slider(key="lab_grid").set_value(4).run()
    at.slider(key="lab_k").set_value(7).run()
    at.number_input(key="lab_dil").set_value(4).run()
    no_exceptions(at)
    assert at.error and "no position to put it" in at.error[0].value
    assert "= -" in _text(at)  # the formula shows the negative size

    # custom kernel through the data editor
    at.number_input(key="lab_dil").set_value(1).run()
    at.slider(key="lab_k").set_value(3).run()
    at.radio(key="lab_src").set_value("custom").run()
    no_exceptions(at)
    assert not at.error and len(_players(at)) == 1

    # pooling: max with the winner, and the backward view
    at.selectbox(key="lab_op").set_value("max").run()
    no_exceptions(at)
    assert "Max pooling" in _text(at) and "winner" in _text(at)
    at.segmented_control(key="lab_view").set_value("backward (gradient routing)").run()
    no_exceptions(at)
    assert "made up (1, 2, 3" in _text(at)
    assert "goes to the winner" in str(_players(at)[0].proto.srcdoc)

    # depthwise, transposed and global average pooling also render
    for op in ("depthwise", "transposed", "gap"):
        at.selectbox(key="lab_op").set_value(op).run()
        no_exceptions(at)
        assert not at.error, (op, [e.value for e in at.error])
        assert len(_players(at)) == 1

    # GIF export
    at.selectbox(key="lab_op").set_value("conv").run()
    at.button(key="lab_gif_make").click().run()
    no_exceptions(at)
    assert at.session_state["lab_gif"][:6] == b"GIF89a"
