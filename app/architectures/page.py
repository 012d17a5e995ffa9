"""Architectures compared: the history chart, the key-idea cards with real blocks, two models on one photo."""

from __future__ import annotations

import streamlit as st

from app.architectures import compare_view, history, ideas

VIEWS = {"📈 History chart": history.render, "🧱 Key ideas": ideas.render,
         "🆚 Two models on one photo": compare_view.render}

st.title("🆚 Architectures compared — from AlexNet to ConvNeXt")
choice = st.segmented_control("View", list(VIEWS), key="arch_view", default=next(iter(VIEWS)),
                              label_visibility="collapsed")
VIEWS[choice or next(iter(VIEWS))]()
