"""AppTest of the Adversarial page: first view (PGD on the cat), a targeted attack through the form,
the ε sweep, a defence with the attack through it, the verified download and the transfer note."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from app.shell.navigation import page_file
from tests.apptest_utils import fresh_app


def adversarial_page(**state: object) -> AppTest:
    """The Adversarial page after the first app run, with ``state`` put in the session first."""
    at = fresh_app(timeout=600).run()
    for k, v in state.items():
        at.session_state[k] = v
    at.switch_page(page_file("adversarial"))
    return at.run()


def texts(at: AppTest) -> str:
    parts = [str(e.value) for e in [*at.markdown, *at.caption, *at.warning, *at.success, *at.info]]
    parts += [img.caption for el in at.get("image") for img in el.proto.imgs]
    return " ".join(parts)


def no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_adversarial_page_end_to_end() -> None:
    at = adversarial_page(**{"adv-steps": 3})
    no_errors(at)
    body = texts(at)
    assert "Original: tabby" in body and "fooled ✓" in body, body
    assert "amplified 64x" not in body  # the scale is written ON the picture, not below
    assert "evidence for “tabby”" in body and "push the network away from **tabby**" in body
    assert {m.label for m in at.metric} >= {"L∞ (levels of 255)", "L2 (levels)", "PSNR", "SSIM"}
    assert next(m.value for m in at.metric if m.label.startswith("L∞")) == "2.00"
    assert "Still adversarial after rounding to 8 bits" in body
    assert at.get("download_button"), "download button missing"
    assert "weights not on this machine" in body  # transfer: skipped models are named
    assert len(at.table) == 1  # JPEG is on by default
    # a targeted attack through the form ("Run attack" submits it)
    at.radio(key="adv-method").set_value("targeted")
    at.select_slider(key="adv-eps").set_value(8.0)
    next(b for b in at.button if b.label == "Run attack").click()
    at.run()
    no_errors(at)
    assert "make the network say **toaster**" in texts(at)
    # the sweep (one chart more) and a second defence with the attack through it
    charts = len(at.get("plotly_chart"))
    at.toggle(key="adv-sweep").set_value(True).run()
    no_errors(at)
    assert len(at.get("plotly_chart")) == charts + 1 and "for all 8 budgets" in texts(at)
    at.toggle(key="adv-def-bits").set_value(True)
    at.toggle(key="adv-adaptive").set_value(True).run()
    no_errors(at)
    table = at.table[0].value
    assert len(table) == 2 and "broken again?" in table.columns
    assert list(table.index) == ["JPEG re-compression (quality 75)", "Bit-depth reduction (4 bits)"]
