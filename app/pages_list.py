"""The navigation menu: one entry per page file in ``app/pages``."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

PAGES = Path(__file__).parent / "pages"


def pages() -> dict[str, list[st.Page]]:
    """Sections and pages shown in the navigation menu."""
    return {
        "Predict": [
            st.Page(PAGES / "predict.py", title="Predict", icon="🎯", default=True),
        ],
    }
