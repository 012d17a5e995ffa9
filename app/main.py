"""CNN Lens entry point: page config, shared sidebar, navigation."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

st.set_page_config(page_title="CNN Lens", page_icon="🔍", layout="wide")

if "torch" not in sys.modules:
    with st.spinner("Starting PyTorch (first start only, a few seconds)…"):
        import torch  # noqa: F401

from app.shell import sidebar  # noqa: E402
from app.shell.navigation import pages  # noqa: E402

sidebar.sidebar()
sidebar.image_messages()
st.navigation(pages()).run()
