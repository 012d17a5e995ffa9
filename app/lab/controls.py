"""Widgets of the Classroom lab page: read the teacher's choices into hashable task parameters."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
from PIL import ImageDraw
from streamlit_image_coordinates import streamlit_image_coordinates

from app.lab.tasks import OPS
from models.registry import LoadedModel
from vizcore.core.hooks import conv_layer_names, resolve_layer
from vizcore.core.images import LoadedImage
from vizcore.lab.kernels import PRESET_NOTES, PRESETS, preset
from vizcore.lab.stepping import StepPlan, same_padding, size_formula

CONVS = ("conv", "depthwise", "transposed")
PICK_WIDTH = 300


def current_centre(image: LoadedImage) -> tuple[float, float]:
    """Centre of the region as (x, y) fractions of the photo; the middle until the user clicks."""
    return st.session_state.get(f"lab_centre::{image.digest}", (0.5, 0.5))


def region_picker(image: LoadedImage, box: tuple[int, int, int, int] | None) -> None:
    """Thumbnail with the current region drawn; a click moves its centre (and reruns)."""
    key = f"lab_centre::{image.digest}"
    thumb = image.image.copy()
    scale = PICK_WIDTH / thumb.width
    thumb = thumb.resize((PICK_WIDTH, max(1, round(thumb.height * scale))))
    if box is not None:
        ImageDraw.Draw(thumb).rectangle([round(v * scale) for v in box], outline="#e4572e", width=3)
    click = streamlit_image_coordinates(thumb, key=f"lab_click::{image.digest}", cursor="crosshair")
    if click:
        raw = (click["x"], click["y"], thumb.width, thumb.height)
        if raw != st.session_state.get(f"{key}::last"):  # a new click (the value persists)
            st.session_state[f"{key}::last"] = raw
            st.session_state[key] = (round(click["x"] / thumb.width, 3),
                                     round(click["y"] / thumb.height, 3))
            st.rerun()
    st.caption("Click the photo to move the region (orange box).")


def _custom_kernel(k: int, start: str) -> tuple[tuple[float, ...], ...]:
    base = pd.DataFrame(preset(start, k).round(3), columns=[str(c) for c in range(k)])
    edited = st.data_editor(base, key=f"lab_custom::{k}::{start}", hide_index=True,
                            column_config={c: st.column_config.NumberColumn(c, format="%.3f")
                                           for c in base.columns})
    return tuple(tuple(float(v) for v in row) for row in edited.to_numpy(dtype=float, na_value=np.nan))


def settings(loaded: LoadedModel) -> tuple[dict[str, Any], bool]:
    """All options (hashable) for ``app.lab.tasks.lab`` and the large-font choice."""
    c1, c2, c3, c4 = st.columns([2.2, 1.2, 1, 1.3])
    op = c1.selectbox("Operation", list(OPS), format_func=OPS.get, key="lab_op")
    grid = c2.select_slider("Grid (cells)", list(range(4, 17)), value=8, key="lab_grid",
                            help="The region is box-downsampled to this many cells per side.")
    rgb = c3.radio("Colour", ["RGB", "gray"], horizontal=True, key="lab_rgb") == "RGB"
    big = c4.toggle("Large font (projector)", key="lab_big")
    side = c4.slider("Region (photo pixels)", 8, 512, 96, step=8, key="lab_side")
    p: dict[str, Any] = dict(op=op, grid=grid, rgb=rgb, side=side, source="preset",
                             preset_name="Sobel x", custom=(), k=3, filter_index=0, fold_bn=True,
                             stride=1, padding=0, dilation=1, output_padding=0, channel=0)
    d1, d2, d3, d4, d5, d6 = st.columns([1.3, 1.55, 1, 0.85, 1.15, 0.85])
    if op in CONVS:
        src = d1.radio("Kernel", ["learned filter", "preset", "custom"], horizontal=True,
                       key="lab_src", help="A real filter of the selected model's first conv layer, "
                       "a classic hand-made kernel, or your own numbers.")
        p["source"] = {"learned filter": "learned"}.get(src, src)
        if p["source"] == "learned":
            conv = resolve_layer(loaded.model, conv_layer_names(loaded.model)[0])
            p["k"] = int(conv.kernel_size[0])
            p["filter_index"] = int(d2.number_input(
                f"Filter of {conv_layer_names(loaded.model)[0]} (0–{conv.out_channels - 1})", 0,
                conv.out_channels - 1, 0, key="lab_filter"))
            p["fold_bn"] = d2.checkbox("Fold the BatchNorm after it", True, key="lab_fold")
            d3.markdown(f"Kernel size  \n**{p['k']}×{p['k']}** (the layer's)")
        else:
            p["k"] = d3.slider("Kernel size", 1, 7, 3, key="lab_k")
            p["preset_name"] = d2.selectbox("Preset" if p["source"] == "preset" else "Start from",
                                            PRESETS, index=4, key="lab_preset")
            if p["source"] == "preset":
                d2.caption(f"{p['preset_name']}: {PRESET_NOTES[p['preset_name']]}")
        p["stride"] = d4.number_input("Stride", 1, 4, 1, key="lab_stride")
        pad = d5.selectbox("Padding", ["0", "1", "2", "3", "same"], key="lab_pad",
                           help="Zero padding on every side; 'same' keeps the size (stride 1).")
        p["padding"] = pad if pad == "same" else int(pad)
        if op == "transposed":
            p["output_padding"] = d5.selectbox(
                "Output padding", [0, 1, 2, 3], key="lab_out_pad",
                help="Extra cells at the bottom and right (blue): a strided convolution maps several "
                "sizes to the same one, this picks which. Must be smaller than the stride or the "
                "dilation (torch's rule).")
        p["dilation"] = d6.number_input("Dilation", 1, 4, 1, key="lab_dil")
        if p["source"] == "custom":
            st.markdown("**Your kernel** — edit the numbers:")
            p["custom"] = _custom_kernel(p["k"], p["preset_name"])
    elif op != "gap":
        p["k"] = d1.slider("Window", 1, 5, 2, key="lab_pool_k")
        p["stride"] = d2.number_input("Stride", 1, 5, p["k"], key="lab_pool_s")
        p["padding"] = d3.selectbox(
            "Padding", [0, 1, 2], key="lab_pool_pad",
            help="Cells added on every side, at most half the window (torch's rule). Max pooling "
            "pads with −∞ (never the winner); average pooling pads with zeros that count in the mean.")
    if op in ("depthwise", "max", "avg", "gap") and rgb:
        p["channel"] = ["R", "G", "B"].index(st.radio("Step channel", ["R", "G", "B"],
                                                      horizontal=True, key="lab_ch"))
    return p, big


def upstream_cell(plan: StepPlan, channel: int) -> tuple[int, int, int] | None:
    """The teacher's upstream gradient for the convolution backward view: None = all ones, or the
    (channel, row, col) of the one output cell g is 1 at (kept inside the current output)."""
    c1, c2, c3 = st.columns([2.4, 1, 1])
    one = c1.radio("Upstream gradient g = ∂L/∂y", ["all ones (L = the sum of the outputs)",
                                                   "one output cell"], horizontal=True,
                   key="lab_grad_mode") == "one output cell"
    if not one:
        return None
    c_out, ho, wo = plan.output.shape
    picks = []
    for col, key, n, what in ((c2, "lab_grad_row", ho, "row"), (c3, "lab_grad_col", wo, "column")):
        st.session_state[key] = min(st.session_state.get(key, n // 2), n - 1)
        picks.append(int(col.number_input(f"Output {what} (0–{n - 1})", 0, n - 1, key=key)))
    return (min(channel, c_out - 1), picks[0], picks[1])


def formula_text(p: dict[str, Any]) -> str:
    """The output-size formula with the numbers substituted (also for impossible settings)."""
    n, k = p["grid"], (p["grid"] if p["op"] == "gap" else p["k"])
    if p["op"] == "transposed":
        op = p.get("output_padding", 0)
        o = (n - 1) * p["stride"] - 2 * int(p["padding"] if p["padding"] != "same" else 0) \
            + p["dilation"] * (k - 1) + op + 1
        return (f"(n − 1)·s − 2p + d(k−1) + output_padding + 1 = ({n} − 1)·{p['stride']} − "
                f"2·{p['padding']} + {p['dilation']}·{k - 1} + {op} + 1 = {o}")
    pad = 0 if p["op"] == "gap" else p["padding"]
    total = sum(same_padding(k, p["dilation"])) if pad == "same" else 2 * int(pad)
    stride = 1 if p["op"] == "gap" else p["stride"]
    dil = p["dilation"] if p["op"] in CONVS else 1
    return size_formula(n, k, stride=stride, pad_total=total, dilation=dil)
