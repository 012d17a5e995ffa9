"""Files Streamlit serves statically from ``app/static`` (``server.enableStaticServing``).

The folder itself is in the repository (``app/static/README.md``), so Streamlit finds it at start
(no "no static folder found" warning); ``ready()``, called by ``app/main.py`` on every run (cached),
writes plotly.js there on the server's first script run, before any page refers to it.

plotly.js (4.6 MB) is served once over HTTP and cached by the browser instead of being inlined
into every animation iframe (which would travel over the websocket on every rerun).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import streamlit as st

STATIC = Path(__file__).resolve().parent.parent / "static"  # next to app/main.py
PLOTLY_JS = STATIC / "plotly.min.js"
LOG = logging.getLogger(__name__)


def ensure_plotly_js() -> bool:
    """Write plotly.js (the version the plotly package ships) into ``app/static``; False if we can't."""
    from plotly.offline import get_plotlyjs

    js = get_plotlyjs()
    try:
        if not PLOTLY_JS.exists() or PLOTLY_JS.stat().st_size != len(js.encode()):
            STATIC.mkdir(exist_ok=True)
            tmp = PLOTLY_JS.with_suffix(".tmp")
            tmp.write_text(js, encoding="utf-8")
            tmp.replace(PLOTLY_JS)
    except OSError as exc:  # read-only install: fall back to inlining
        LOG.warning("cannot write %s (%s); plotly.js will be inlined", PLOTLY_JS, exc)
        return False
    return True


@lru_cache(maxsize=1)
def _available() -> bool:
    return ensure_plotly_js()


def ready() -> bool:
    """Make sure the static files exist (once per process); False when they cannot be written."""
    return _available()


def plotly_js_url() -> str | None:
    """Relative URL of the served plotly.js, or None when static serving is off (then inline it)."""
    if not st.get_option("server.enableStaticServing") or not _available():
        return None
    return "app/static/plotly.min.js"
