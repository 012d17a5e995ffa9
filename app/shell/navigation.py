"""The navigation menu: sections of pages, each page a file in its feature's folder under ``app/``.

A new page is one file in its feature folder plus one line in ``PAGES``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

APP = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class PageEntry:
    """One navigation entry: section, file (relative to ``app/``), title, icon and URL path."""

    section: str
    file: str
    title: str
    icon: str
    url_path: str


PAGES: tuple[PageEntry, ...] = (
    PageEntry("Predict", "predict/page.py", "Predict", "🎯", "predict"),
    PageEntry("Explain", "explain/page.py", "Explain (Grad-CAM lab)", "🔥", "explain"),
    PageEntry("Explain", "adversarial/page.py", "Adversarial examples", "🎭", "adversarial"),
    PageEntry("Inside the network", "inside/filters.py", "Filters", "🧱", "filters"),
    PageEntry("Inside the network", "inside/feature_maps.py", "Feature maps", "🧩", "feature_maps"),
    PageEntry("Inside the network", "inside/architecture.py", "Architecture", "🏛️", "architecture"),
    PageEntry("Inside the network", "architectures/page.py", "Architectures compared", "🆚", "architectures"),
    PageEntry("Inside the network", "inside/receptive_field.py", "Receptive field", "🔭", "receptive_field"),
    PageEntry("Inside the network", "featvis/page.py", "Feature visualisation", "✨", "feature_vis"),
    PageEntry("Classroom", "lab/page.py", "Convolution lab", "🧮", "lab"),
    PageEntry("Train", "transfer/page.py", "Transfer learning", "🎓", "transfer"),
)


def page_file(url_path: str) -> str:
    """The file (relative to ``app/``) of the page served at ``url_path``."""
    for entry in PAGES:
        if entry.url_path == url_path:
            return entry.file
    raise ValueError(f"no page {url_path!r}; pages: {', '.join(e.url_path for e in PAGES)}")


def pages() -> dict[str, list[st.Page]]:
    """Sections and pages shown in the navigation menu (the first page is the default)."""
    menu: dict[str, list[st.Page]] = {}
    for i, e in enumerate(PAGES):
        menu.setdefault(e.section, []).append(
            st.Page(APP / e.file, title=e.title, icon=e.icon, url_path=e.url_path, default=i == 0))
    return menu
