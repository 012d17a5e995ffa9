"""The navigation menu: one entry per page file in ``app/views``."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

# Not "pages/": Streamlit would run a file from a folder of that name on its own, without main.py.
PAGES = Path(__file__).parent / "views"


def pages() -> dict[str, list[st.Page]]:
    """Sections and pages shown in the navigation menu."""
    return {
        "Predict": [
            st.Page(PAGES / "predict.py", title="Predict", icon="🎯", default=True),
        ],
        "Explain": [st.Page(PAGES / "explain.py", title="Explain (Grad-CAM lab)", icon="🔥")],
        "Inside the network": [
            st.Page(PAGES / "filters.py", title="Filters", icon="🧱"),
            st.Page(PAGES / "feature_maps.py", title="Feature maps", icon="🧩"),
            st.Page(PAGES / "architecture.py", title="Architecture", icon="🏛️"),
            st.Page(PAGES / "receptive_field.py", title="Receptive field", icon="🔭"),
            st.Page(PAGES / "feature_vis.py", title="Feature visualisation", icon="✨"),
        ],
        "Classroom": [st.Page(PAGES / "lab.py", title="Convolution lab", icon="🧮", url_path="lab")],
    }
