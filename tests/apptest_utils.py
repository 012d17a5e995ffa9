"""Helpers for driving pages with ``streamlit.testing.v1.AppTest`` (never in threads)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from app.shell.navigation import page_file

MAIN = str(Path(__file__).resolve().parent.parent / "app" / "main.py")


def fresh_app(timeout: float = 180) -> AppTest:
    """A new app session with both Streamlit caches cleared."""
    st.cache_data.clear()
    st.cache_resource.clear()
    return AppTest.from_file(MAIN, default_timeout=timeout)


def open_page(page: str, timeout: float = 180) -> AppTest:
    """Run the app, then switch to the page served at ``page`` (``"lab.py"`` or ``"lab"``) and run it."""
    at = fresh_app(timeout).run()
    at.switch_page(page_file(page.removesuffix(".py")))
    return at.run()


def no_exceptions(at: AppTest) -> None:
    """Assert the page rendered without a Python exception element."""
    assert not at.exception, [e.value for e in at.exception]
