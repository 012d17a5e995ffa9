"""Widgets of the Classroom lab page: read the teacher's choices into one ``LabSettings``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st
from PIL import ImageDraw

from app.shell.clickimage import click_image
from models.registry import LoadedModel
from vizcore.core.hooks import conv_layer_names, resolve_layer
from vizcore.core.images import LoadedImage
from vizcore.lab.kernels import PRESET_NOTES, PRESETS, preset
from vizcore.lab.settings import Kernel, LabSettings, Op, Source
from vizcore.lab.stepping import StepPlan

PICK_WIDTH = 300
SOURCES = {"preset": Source.PRESET, "learned filter": Source.LEARNED, "custom": Source.CUSTOM}
# the session-state keys a shared link carries (with the type each is parsed to)
SHARE_DEFAULTS: dict[str, object] = {
    "lab_op": Op.CONV.value, "lab_src": "preset", "lab_preset": "Sobel x", "lab_k": 3, "lab_grid": 8,
    "lab_rgb": "gray", "lab_stride": 1, "lab_pad": "0", "lab_dil": 1, "lab_filter": 1,
    "lab_pool_k": 2, "lab_pool_s": 2, "lab_pool_pad": 0, "lab_side": 96, "lab_view": "forward",
}
SHARE_CHOICES: dict[str, tuple[object, ...]] = {
    "lab_op": tuple(o.value for o in Op), "lab_src": tuple(SOURCES), "lab_preset": PRESETS,
    "lab_k": tuple(range(1, 8)), "lab_grid": tuple(range(4, 17)), "lab_rgb": ("gray", "RGB"),
    "lab_stride": (1, 2, 3, 4), "lab_pad": ("0", "1", "2", "3", "same"), "lab_dil": (1, 2, 3, 4),
    "lab_pool_k": tuple(range(1, 6)), "lab_pool_s": tuple(range(1, 6)), "lab_pool_pad": (0, 1, 2),
    "lab_side": tuple(range(8, 513, 8)), "lab_view": ("forward", "backward (gradients)"),
}


def init_defaults() -> None:
    """Give every shared widget its default through session state (before ``share.sync`` and the
    widgets), so a value restored from the URL never clashes with a widget's own default."""
    for key, value in SHARE_DEFAULTS.items():
        st.session_state.setdefault(key, value)


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
    click = click_image(thumb, key=f"lab_click::{image.digest}", cursor="crosshair",
                        alt="Photo: click to move the region")  # fits its column at any width
    if click:
        raw = (click["x"], click["y"], click["width"], click["height"], click.get("unix_time"))
        if raw != st.session_state.get(f"{key}::last"):  # a new click (the value persists)
            st.session_state[f"{key}::last"] = raw
            st.session_state[key] = (round(min(max(click["x"] / click["width"], 0.0), 1.0), 3),
                                     round(min(max(click["y"] / click["height"], 0.0), 1.0), 3))
            st.rerun()
    st.caption("Click the photo to move the region (orange box).")


def _custom_kernel(k: int, start: str) -> Kernel:
    base = pd.DataFrame(preset(start, k).round(3), columns=[str(c + 1) for c in range(k)])
    edited = st.data_editor(base, key=f"lab_custom::{k}::{start}", hide_index=True,
                            column_config={c: st.column_config.NumberColumn(c, format="%.3f")
                                           for c in base.columns})
    return tuple(tuple(float(v) for v in row) for row in edited.to_numpy(dtype=float, na_value=np.nan))


def _kernel_knobs(loaded: LoadedModel, cols: list) -> dict[str, object]:
    """Kernel source, preset / learned filter and kernel size of a convolution."""
    d1, d2, d3 = cols
    src = SOURCES[d1.radio("Kernel", list(SOURCES), horizontal=True, key="lab_src",
                           help="A classic hand-made kernel, a real filter of the selected model's "
                           "first conv layer, or your own numbers.")]
    p: dict[str, object] = {"source": src}
    if src is Source.LEARNED:
        layer = conv_layer_names(loaded.model)[0]
        conv = resolve_layer(loaded.model, layer)
        p["k"] = int(conv.kernel_size[0])
        p["filter_index"] = int(d2.number_input(
            f"Filter of {layer} (1–{conv.out_channels})", 1, conv.out_channels, key="lab_filter")) - 1
        p["fold_bn"] = d2.checkbox("Fold the BatchNorm after it", True, key="lab_fold")
        d3.markdown(f"Kernel size  \n**{p['k']}×{p['k']}** (the layer's)")
        return p
    p["k"] = d3.slider("Kernel size", 1, 7, key="lab_k")
    p["preset_name"] = d2.selectbox("Preset" if src is Source.PRESET else "Start from", PRESETS,
                                    key="lab_preset")
    if src is Source.PRESET:
        d2.caption(f"{p['preset_name']}: {PRESET_NOTES[str(p['preset_name'])]}")
    return p


def _conv_knobs(loaded: LoadedModel, op: Op) -> dict[str, object]:
    d1, d2, d3, d4, d5, d6 = st.columns([1.3, 1.55, 1, 0.85, 1.15, 0.85])
    p = _kernel_knobs(loaded, [d1, d2, d3])
    p["stride"] = d4.number_input("Stride", 1, 4, key="lab_stride")
    pad = d5.selectbox("Padding", ["0", "1", "2", "3", "same"], key="lab_pad",
                       help="Zero padding on every side; 'same' keeps the size (stride 1).")
    p["padding"] = pad if pad == "same" else int(pad)
    if op is Op.TRANSPOSED:
        p["output_padding"] = d5.selectbox(
            "Output padding", [0, 1, 2, 3], key="lab_out_pad",
            help="Extra cells at the bottom and right (blue): a strided convolution maps several "
            "sizes to the same one, this picks which. Must be smaller than the stride or the "
            "dilation (torch's rule).")
    p["dilation"] = d6.number_input("Dilation", 1, 4, key="lab_dil")
    if p["source"] is Source.CUSTOM:
        st.markdown("**Your kernel** — edit the numbers:")
        p["custom"] = _custom_kernel(int(p["k"]), str(p["preset_name"]))
    return p


def _pool_knobs() -> dict[str, object]:
    d1, d2, d3, _ = st.columns([1.3, 1, 1, 2])
    k = d1.slider("Window", 1, 5, key="lab_pool_k")
    return {"k": k, "stride": d2.number_input("Stride", 1, 5, key="lab_pool_s"),
            "padding": d3.selectbox(
                "Padding", [0, 1, 2], key="lab_pool_pad",
                help="Cells added on every side, at most half the window (torch's rule). Max "
                "pooling pads with −∞ (never the winner); average pooling pads with zeros that "
                "count in the mean.")}


def settings(loaded: LoadedModel, centre: tuple[float, float], big_default: bool) -> tuple[LabSettings, bool]:
    """Every option as one ``LabSettings`` and the large-font choice."""
    c1, c2, c3, c4 = st.columns([2.2, 1.2, 1, 1.3])
    op = Op(c1.selectbox("Operation", [o.value for o in Op], format_func=lambda v: Op(v).label,
                         key="lab_op"))
    grid = c2.select_slider("Grid (cells)", list(range(4, 17)), key="lab_grid",
                            help="The region is box-downsampled to this many cells per side.")
    rgb = c3.radio("Colour", ["gray", "RGB"], horizontal=True, key="lab_rgb") == "RGB"
    big = c4.toggle("Large numbers", value=big_default, key="lab_big",
                    help="For a projector: bigger digits in every cell (on in presenter mode).")
    side = c4.slider("Region (photo pixels)", 8, 512, step=8, key="lab_side")
    p: dict[str, object] = {}
    if op.is_conv:
        p = _conv_knobs(loaded, op)
    elif op is not Op.GAP:
        p = _pool_knobs()
    if op.per_channel and (rgb or p.get("source") is Source.LEARNED):
        p["channel"] = ["R", "G", "B"].index(st.radio("Step channel", ["R", "G", "B"],
                                                      horizontal=True, key="lab_ch"))
    return LabSettings(op=op, grid=grid, rgb=rgb, side=side, centre=centre, **p).canonical(), big


def upstream_cell(plan: StepPlan, channel: int) -> tuple[int, int, int] | None:
    """The teacher's upstream gradient for the convolution backward view: None = all ones, or the
    (channel, row, col) (0-based) of the one output cell g is 1 at; the widgets count from 1."""
    c1, c2, c3 = st.columns([2.4, 1, 1])
    one = c1.radio("Upstream gradient g = ∂L/∂y", ["all ones (L = the sum of the outputs)",
                                                   "one output cell"], horizontal=True,
                   key="lab_grad_mode") == "one output cell"
    if not one:
        return None
    c_out, ho, wo = plan.output.shape
    picks = []
    for col, key, n, what in ((c2, "lab_grad_row", ho, "row"), (c3, "lab_grad_col", wo, "column")):
        st.session_state[key] = min(st.session_state.get(key, n // 2 + 1), n)
        picks.append(int(col.number_input(f"Output {what} (1–{n})", 1, n, key=key)) - 1)
    return (min(channel, c_out - 1), picks[0], picks[1])
