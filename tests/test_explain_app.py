"""AppTest of the Explain page: first view, class / layer pickers, method grid with faithfulness,
slow methods with progress, sanity check, an untrained torchvision model."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from app.shell.navigation import page_file
from tests.apptest_utils import fresh_app, open_page


def explain_page(**state: object) -> AppTest:
    """The Explain page after the first app run, with ``state`` put in the session first."""
    at = fresh_app().run()
    for k, v in state.items():
        at.session_state[k] = v
    at.switch_page(page_file("explain"))
    return at.run()


def texts(at) -> str:
    """Markdown, captions, alerts and image captions of the page."""
    parts = [str(e.value) for e in [*at.markdown, *at.caption, *at.warning, *at.success, *at.info, *at.error]]
    parts += [img.caption for el in at.get("image") for img in el.proto.imgs]
    return " ".join(parts)


def no_errors(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_first_view_and_method_lab() -> None:
    at = open_page("explain.py")
    no_errors(at)
    body = texts(at)
    assert "Grad-CAM for “tabby”" in body and "7×7 cells" in body
    assert len(at.get("image")) >= 11  # overlay, raw map, top-5, 4 method tiles
    assert not at.get("plotly_chart") and not at.dataframe  # faithfulness only on demand
    at.button(key="faith-on").click().run()
    no_errors(at)
    assert at.get("plotly_chart"), "faithfulness chart missing"
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) == 4  # one row per default method
    # any class from the searchable list, another layer, slow methods with a progress bar
    at.selectbox(key=next(s.key for s in at.selectbox if s.label == "…or any ImageNet class")).set_value(
        954).run()  # banana
    no_errors(at)
    assert "“banana”" in texts(at)
    assert at.session_state["explain_chip"] is None  # one active selection: no top-5 chip stays lit
    at.selectbox(key="explain_layer").set_value("_blocks.15._project_conv").run()
    no_errors(at)
    at.multiselect(key="methods").set_value(["gradcam", "occlusion", "guided_gradcam"]).run()
    no_errors(at)
    assert "Occlusion ·" in texts(at)
    assert len(at.dataframe[0].value) == 3


def test_sanity_check_flags_guided_backprop() -> None:
    at = explain_page(faithful=False, methods=["gradcam"], sanity=True)
    no_errors(at)
    # Grad-CAM of the cat: ρ ≈ 0.46 → 0.00 → 0.49 over the three steps: judged on every step, this
    # is not a pass, and the verdict names the steps where the map stayed similar
    body = texts(at)
    assert "inconclusive" in body and "top 1" in body and "passes" not in body, body
    at.selectbox(key="sanity-method").set_value("guided").run()
    no_errors(at)
    assert "barely changes" in texts(at)


def test_untrained_torchvision_model() -> None:
    at = explain_page(faithful=False, model_name="resnet18", **{"untrained::resnet18": True})
    no_errors(at)
    assert "UNTRAINED" in " ".join(str(w.value) for w in at.warning)
    assert "at `layer4`" in texts(at)
