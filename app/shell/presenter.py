"""Presenter mode (projector): one switch for the whole app, also reachable as ``?present=1``."""

from __future__ import annotations

import streamlit as st

PRESENT_KEY = "present"


def presenting() -> bool:
    """True while presenter mode is on for this session."""
    if PRESENT_KEY not in st.session_state and st.query_params.get(PRESENT_KEY) == "1":
        st.session_state[PRESENT_KEY] = True
    return bool(st.session_state.get(PRESENT_KEY, False))
