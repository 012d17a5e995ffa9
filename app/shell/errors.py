"""Unexpected errors and untrusted text on the page.

``guarded(fn)`` runs a page script: an unexpected exception is logged server-side (with its
traceback) under a short id, and the page shows only "Something went wrong (error id …)" — stack
frames and server paths never reach the browser (``client.showErrorDetails`` is off too).
Streamlit's own control-flow exceptions (stop, rerun, page switch) pass through untouched.
``escape_md`` makes user-provided text (file names) safe to put into markdown.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable

import streamlit as st

LOG = logging.getLogger("cnn_lens.errors")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#!|~$:])")  # markup mid-line; ":" stops autolinks


def escape_md(text: str) -> str:
    """``text`` with the markdown/HTML characters that can start markup mid-line backslash-escaped
    and line breaks flattened (so ``![t](http://x)`` is shown literally, never fetched; ``my.png``
    stays as it is)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def report(exc: BaseException) -> str:
    """Log ``exc`` with its traceback under a new id; returns the id (shown to the user)."""
    error_id = uuid.uuid4().hex[:8]
    LOG.error("unexpected error %s: %s", error_id, exc, exc_info=exc)
    return error_id


def guarded(fn: Callable[[], None]) -> None:
    """Run ``fn``; an unexpected exception becomes a short message with an error id."""
    try:
        fn()
    except Exception as exc:  # Streamlit's stop/rerun are BaseExceptions: they pass through
        error_id = report(exc)
        st.error(f"Something went wrong on this page (error id `{error_id}`). The details were logged "
                 "on the server; please tell your teacher the error id.", icon="⚠️")
