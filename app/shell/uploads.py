"""Per-session upload limits and the upload store.

Every uploaded file is counted once (by Streamlit's file id) against the session's budget
(``SESSION_MAX_BYTES`` / ``SESSION_MAX_FILES``, across every uploader); over budget, the file is
refused with a message naming the limit. ``release`` drops a file from Streamlit's in-memory upload
store as soon as its bytes have been read, so a session that uploads many files does not keep them
all in server memory until it disconnects.
"""

from __future__ import annotations

import logging
from typing import Any

import streamlit as st

LOG = logging.getLogger(__name__)
SESSION_MAX_BYTES = 150 * 2**20
SESSION_MAX_FILES = 40
BUDGET_KEY = "upload_budget"  # session state: {"seen": set of file ids, "bytes": int, "files": int}


class UploadRefused(ValueError):
    """The session has used up its upload budget; the message says which limit."""


def _budget() -> dict[str, Any]:
    if BUDGET_KEY not in st.session_state:
        st.session_state[BUDGET_KEY] = {"seen": set(), "bytes": 0, "files": 0}
    return st.session_state[BUDGET_KEY]


def received(f: Any) -> bool:
    """True for an uploaded file whose bytes can be read. After ``release`` Streamlit hands the widget
    a ``DeletedFile`` placeholder (no bytes), e.g. when the sidebar uploader is redrawn on another
    page; callers treat it as no file."""
    return f is not None and callable(getattr(f, "getvalue", None))


def take(f: Any) -> bytes:
    """The bytes of uploaded file ``f`` (a Streamlit ``UploadedFile``), counted once against this
    session's budget; raises ``UploadRefused`` when the budget is used up."""
    budget = _budget()
    file_id = getattr(f, "file_id", None) or id(f)
    size = int(getattr(f, "size", 0) or len(f.getvalue()))
    if file_id not in budget["seen"]:
        if budget["files"] + 1 > SESSION_MAX_FILES:
            raise UploadRefused(f"this session has already uploaded {budget['files']} files; the limit "
                                f"is {SESSION_MAX_FILES} per session (reload the page to start over)")
        if budget["bytes"] + size > SESSION_MAX_BYTES:
            raise UploadRefused(f"this session has already uploaded {budget['bytes'] / 2**20:.0f} MB; "
                                f"the limit is {SESSION_MAX_BYTES / 2**20:.0f} MB per session (reload "
                                "the page to start over)")
        budget["seen"].add(file_id)
        budget["files"] += 1
        budget["bytes"] += size
    return f.getvalue()


def release(f: Any) -> None:
    """Remove ``f`` from Streamlit's upload store (its bytes stay valid for this run)."""
    try:
        from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

        ctx = get_script_run_ctx()
        if ctx is not None and getattr(f, "file_id", None):
            ctx.uploaded_file_mgr.remove_file(ctx.session_id, f.file_id)
    except (AttributeError, ImportError, KeyError) as exc:  # another Streamlit version: keep going
        LOG.warning("could not release an upload from the store: %s", exc)
