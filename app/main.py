"""CNN Lens entry point: page config, shared sidebar, navigation."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.shell import presenter, static_assets, style  # noqa: E402  (light: no torch)

st.set_page_config(page_title="CNN Lens", page_icon="🔍", layout="wide",
                   initial_sidebar_state=presenter.sidebar_state())
style.apply(presenter.presenting())
static_assets.ready()  # plotly.js in app/static before any page asks for it

if "torch" not in sys.modules:
    with st.spinner("Starting PyTorch (first start only, a few seconds)…"):
        import torch  # noqa: F401

from app.shell import share, sidebar  # noqa: E402
from app.shell.errors import guarded  # noqa: E402
from app.shell.navigation import pages  # noqa: E402

page = st.navigation(pages())
sidebar.sidebar()
sidebar.image_messages()
guarded(page.run)  # unexpected errors: logged with an id, no traceback
share.dialog(page.url_path)  # "Share this view" pressed: the link includes what the page synced
