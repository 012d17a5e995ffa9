"""Presenter mode and the app's stylesheet: ``?present=1`` and the sidebar switch, caption size and
WCAG-AA contrast, static folder present before the server starts."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from streamlit.testing.v1 import AppTest

from app.shell import style

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = """
import streamlit as st
from app.shell import presenter
st.session_state["sidebar_state"] = presenter.sidebar_state()
presenter.switch()
st.session_state["height"] = presenter.figure_height(400)
"""


def _contrast_on_white(hex_colour: str) -> float:
    """WCAG 2.x contrast ratio of ``#rrggbb`` text on white."""
    def lum(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    L = 0.2126 * lum(r) + 0.7152 * lum(g) + 0.0722 * lum(b)
    return 1.05 / (L + 0.05)


def test_present_1_in_the_url_turns_presenter_mode_on_and_the_switch_turns_it_off() -> None:
    at = AppTest.from_string(SCRIPT, default_timeout=30)
    at.query_params["present"] = "1"
    at.run()
    assert not at.exception
    assert at.toggle(key="present").value is True
    assert at.session_state["sidebar_state"] == "collapsed" and at.session_state["height"] == 540
    at.toggle(key="present").set_value(False).run()
    assert "present" not in at.query_params
    assert at.session_state["sidebar_state"] == "auto" and at.session_state["height"] == 400
    at.toggle(key="present").set_value(True).run()
    assert at.query_params["present"] in ("1", ["1"])


def test_without_the_url_flag_presenter_mode_is_off() -> None:
    at = AppTest.from_string(SCRIPT, default_timeout=30).run()
    assert at.toggle(key="present").value is False and "present" not in at.query_params


def test_captions_are_large_enough_and_pass_wcag_aa_everywhere() -> None:
    for css in (style.css(False), style.css(True)):
        sizes = [int(px) for px in re.findall(r"font-size: max\((\d+)px|font-size: (\d+)px", css)
                 for px in px if px]
        assert sizes and min(sizes) >= 14
    assert _contrast_on_white(style.CAPTION_COLOUR) >= 4.5
    assert "font-size: 20px" in style.css(True) and "font-size: 20px" not in style.css(False)
    assert style.PRESENT_BODY_PX >= 20


def test_static_folder_is_in_the_repository_so_it_exists_before_the_server_starts() -> None:
    readme = ROOT / "app" / "static" / "README.md"
    assert readme.is_file()
    ignored = subprocess.run(["git", "check-ignore", "-q", str(readme)], cwd=ROOT, check=False)
    assert ignored.returncode == 1, "app/static/README.md is git-ignored: a fresh clone has no app/static"
    generated = subprocess.run(["git", "check-ignore", "-q", str(ROOT / "app/static/plotly.min.js")],
                               cwd=ROOT, check=False)
    assert generated.returncode == 0


def test_toolbar_has_no_deploy_button() -> None:
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["toolbarMode"] in ("viewer", "minimal")
