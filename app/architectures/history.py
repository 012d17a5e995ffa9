"""The history chart: every registry model by year and ImageNet top-1; click a point to open it."""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st
import torch

from app.architectures import figures, tasks
from app.shell import charts, resources
from models.registry import get_spec
from vizcore.architectures.latency import machine_label

CHART_KEY = "arch_history_chart"
OPENED_KEY = "arch_opened_model"


def _on_click() -> None:
    """Plotly selection → the sidebar's model (runs before the script, so the widget may change)."""
    event = st.session_state.get(CHART_KEY)
    points = (event or {}).get("selection", {}).get("points", [])
    if not points:
        return
    data = points[0].get("customdata") or []
    name = data[0] if isinstance(data, list) and data else None
    if name:
        st.session_state[resources.MODEL_KEY] = name
        st.session_state[OPENED_KEY] = name


def _table(rows, lats) -> pd.DataFrame:
    out = []
    for r in rows:
        s, p, lat = r.structure, r.published, lats.get(r.name)
        out.append({
            "model": r.display, "family": r.family, "year": r.year,
            "top-1 %": p.top1, "params (M)": s.params / 1e6 if s else None,
            "MACs (G)": s.macs / 1e9 if s else None, "depth": s.depth if s else None,
            "latency ms": round(lat.median_ms, 1) if lat else None,
            "load when timed": round(lat.load, 1) if lat and lat.load is not None else None,
            "weights": p.weights or "–",
        })
    return pd.DataFrame(out)


def _measure(names: tuple[str, ...]) -> None:
    bar = st.progress(0.0, text="Measuring…")
    status = st.empty()
    for i, name in enumerate(names):
        bar.progress(i / len(names), text=f"Timing {get_spec(name).display_name} ({i + 1}/{len(names)})…")
        with resources.compute_slot(status):  # one model per slot: other requests run in between
            status.empty()
            tasks.measure(name)
    bar.progress(1.0, text="Done.")


def render() -> None:
    """Draw the history view."""
    names = tasks.registry_names()
    with st.spinner("Counting parameters and MACs of every model…"):
        rows = tasks.cached(tasks.catalog, names)
    lats = tasks.latencies(names)
    st.caption("Each point is a model in this app: **year** it was published, **ImageNet top-1** "
               "accuracy of the weights the app uses (torchvision's metadata), **area** ∝ parameters, "
               "**colour** = family. Hover for MACs, depth and latency; **click a point to open that "
               "model** (it becomes the sidebar's model on every page).")
    charts.show(figures.history_chart(rows, lats), key=CHART_KEY, on_select=_on_click,
                selection_mode="points", width="stretch", config={"displayModeBar": False})
    opened = st.session_state.get(OPENED_KEY)
    if opened and opened == resources.selected_model_name():
        st.success(f"Opened **{get_spec(opened).display_name}** — it is now the model in the sidebar "
                   "for every page (Predict, Explain, Architecture…).", icon="✅")
    st.dataframe(_table(rows, lats), hide_index=True, width="stretch", column_config={
        "top-1 %": st.column_config.NumberColumn(format="%.1f"),
        "params (M)": st.column_config.NumberColumn(format="%.2f"),
        "MACs (G)": st.column_config.NumberColumn(format="%.3f")})
    missing = tuple(n for n in names if n not in lats)
    st.markdown(f"**CPU latency** — one image, median of 5 timed runs after 2 warm-up runs, "
                f"{torch.get_num_threads()} torch threads, on *{machine_label()}*. Stored on disk, so "
                "each model is timed once per machine; *load when timed* is the 1-minute load average "
                f"then (above {os.cpu_count()} other work was competing for the cores, so times are "
                "inflated).")
    label = (f"⏱️ Measure latency of {len(missing)} model{'s' if len(missing) != 1 else ''} not yet timed"
             if missing else "⏱️ Measure all again")
    if st.button(label, key="arch_measure"):
        _measure(missing or names)
        st.rerun()
    unknown = [r.display for r in rows if r.published.top1 is None]
    if unknown:
        st.caption(f"No ImageNet accuracy is published for: {', '.join(unknown)} — drawn on the "
                   f"“{figures.UNKNOWN_LABEL}” line.")
