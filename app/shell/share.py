"""Shareable views: the URL carries the page's key settings (``st.query_params``).

A page calls ``sync("key1", "key2", …)`` with the session-state keys of the widgets that define its view,
BEFORE creating those widgets. On the session's first visit the values come from the URL; afterwards the
URL follows the widgets, so the address bar always holds a link to the exact view.
"""

from __future__ import annotations

import contextlib

import streamlit as st

_LOADED = "_share_loaded"


def _parse(raw: str, like: object) -> object:
    if isinstance(like, bool):
        return raw in ("1", "true", "True")
    if isinstance(like, int):
        return int(raw)
    if isinstance(like, float):
        return float(raw)
    return raw


def sync(*keys: str, defaults: dict[str, object] | None = None) -> None:
    """Restore ``keys`` from the URL once per session and page, then mirror them into the URL."""
    defaults = defaults or {}
    loaded: set[str] = st.session_state.setdefault(_LOADED, set())
    for key in keys:
        if key not in loaded:
            loaded.add(key)
            raw = st.query_params.get(key)
            if raw is not None:
                like = st.session_state.get(key, defaults.get(key, ""))
                with contextlib.suppress(ValueError):
                    st.session_state[key] = _parse(raw, like)
        if key in st.session_state and st.session_state[key] is not None:
            st.query_params[key] = str(st.session_state[key])
