"""Presenter mode (projector): one switch for the whole app, also reachable as ``?present=1``.

``presenting()`` is what pages ask ("draw larger figures?"); ``switch()`` draws the sidebar toggle and
keeps ``?present=1`` in the address bar while it is on, so the teacher can bookmark it.
"""

from __future__ import annotations

import streamlit as st

PRESENT_KEY = "present"
FIGURE_SCALE = 1.35  # presenter mode: plotly figure heights grow by this factor


def presenting() -> bool:
    """True while presenter mode is on for this session."""
    if PRESENT_KEY not in st.session_state and st.query_params.get(PRESENT_KEY) == "1":
        st.session_state[PRESENT_KEY] = True
    return bool(st.session_state.get(PRESENT_KEY, False))


def sidebar_state() -> str:
    """``initial_sidebar_state`` for ``st.set_page_config``: collapsed while presenting."""
    return "collapsed" if presenting() else "auto"


def figure_height(height: int) -> int:
    """A figure height in CSS px, larger in presenter mode."""
    return round(height * FIGURE_SCALE) if presenting() else height


def switch() -> bool:
    """The sidebar toggle; mirrors the choice into the URL (``?present=1``). Returns the state."""
    presenting()  # adopt ?present=1 before the widget reads its state
    on = st.toggle("Presenter", key=PRESENT_KEY)
    if on:
        st.caption("Bookmark this address (it ends in ?present=1) to start in presenter mode.")
    if on:
        st.query_params[PRESENT_KEY] = "1"
    elif st.query_params.get(PRESENT_KEY) is not None:
        del st.query_params[PRESENT_KEY]
    return bool(on)
