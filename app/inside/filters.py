"""Filters: the learned weights of any convolution layer, as pictures and as numbers."""

from __future__ import annotations

import numpy as np
import streamlit as st

from app.inside import figures, tasks
from app.shell import charts, resources, share
from app.shell.clickimage import click_image
from app.shell.pickers import layer_select
from vizcore.inside.filters import filter_order, norm_matrix, rgb_tiles, slice_tiles

st.title("🧱 Filters — the weights a convolution layer has learned")
loaded = resources.current_model()
resources.untrained_banner(loaded)
convs = resources.compute(tasks.conv_layers, loaded, None)

layer_key = f"flt_layer::{loaded.spec.name}"
share.sync(layer_key, "flt_sort", "flt_view", choices={layer_key: convs, "flt_sort": ("index", "norm"),
                                                      "flt_view": ("slices", "norms")})
layer = layer_select(st, "Convolution layer", convs, loaded=loaded, key=layer_key,
                     help="Every nn.Conv2d of the model, first layer first.")
c2, c3 = st.columns([1, 1])
sort = c2.radio("Order", ("index", "norm"), horizontal=True, key="flt_sort",
                help="norm: filters with the largest weights (L2 norm) first")
bank = resources.compute(tasks.filters, loaded, None, layer=layer)
order = filter_order(bank, sort=sort)
view = "rgb" if bank.is_rgb else c3.radio(
    "Show", ("slices", "norms"), horizontal=True, key="flt_view",
    help="slices: each row is one filter, each square one input channel's k×k kernel · "
    "norms: one pixel per (filter, input channel), brighter = larger weights")
st.markdown(f"**{layer}** · {bank.stats_line()}")

key = f"flt_pick::{loaded.spec.name}::{layer}"
share.sync(key, defaults={key: 0}, choices={key: range(bank.count)})
st.session_state.setdefault(key, int(order[0]))
left, right = st.columns([3, 2], gap="large")
with left:
    if view == "rgb":
        cols = min(8, int(np.ceil(np.sqrt(bank.count))) + 2)
        img, grid = figures.filter_mosaic(rgb_tiles(bank, order, size=56), cols=cols)
        grid = figures.Grid(order, grid.cols, grid.tile, tile_h=grid.tile_h)
        st.caption(f"Each tile is one filter seen as a tiny {'RGB' if bank.in_channels == 3 else 'grey'} "
                   "picture (mid-grey = 0, one scale for "
                   "the whole layer). Click a tile to read its numbers.")
    elif view == "slices":
        shown = order[:32]
        img, grid = figures.filter_mosaic(slice_tiles(bank, shown, channels=12), cols=2)
        grid = figures.Grid(shown, grid.cols, grid.tile, tile_h=grid.tile_h)
        st.caption(f"{len(shown)} of {bank.count} filters, first {min(12, bank.weight.shape[1])} "
                   "input channels each (blue < 0 < red). Click a row to read its numbers.")
    else:
        img = figures.norm_image(norm_matrix(bank, order))
        grid = None
        st.caption("Rows: filters (in the chosen order) · columns: input channels · brightness: "
                   "size of that slice of weights.")
    click = click_image(img, key=f"flt_click::{layer}::{view}::{sort}", pixelated=True,
                        max_width=3 * img.size[0], alt=f"filters of {layer}")
    xy = figures.click_xy(click, img.size)
    if grid is not None and xy is not None and st.session_state.get("flt_last") != xy[2]:
        st.session_state["flt_last"] = xy[2]
        picked = grid.index_at(xy[0], xy[1])
        if picked is not None:
            st.session_state[key] = picked
    charts.show(figures.filter_norms_bar(bank, order), width="stretch",
                config={"displayModeBar": False})
with right:
    f = st.number_input("Filter", 0, bank.count - 1, key=key, step=1)
    w = bank.weight[int(f)]
    zmax = float(np.abs(bank.weight).max())
    bias = "" if bank.bias is None else f" · bias {bank.bias[int(f)]:+.3f}"
    st.markdown(f"**Filter {f}** · norm {bank.norms[int(f)]:.3f}{bias}")
    if bank.is_rgb:
        names = ("red", "green", "blue") if bank.in_channels == 3 else ("grey",)  # 1-channel models
        tabs = st.tabs([f"{n} input" for n in names])
        for tab, ch, name in zip(tabs, range(len(names)), names, strict=True):
            charts.show(figures.filter_values(w[ch], f"weights on the {name} channel", zmax=zmax),
                        where=tab, width="stretch", config={"displayModeBar": False})
        st.image(figures.filter_mosaic(rgb_tiles(bank, np.array([int(f)]), size=120), cols=1)[0],
                 caption="the same filter as a picture (grey = 0)", width=124)
    else:
        strongest = int(np.argmax(np.abs(w).sum(axis=(1, 2))))
        i = st.number_input(f"Input channel (0–{w.shape[0] - 1})", 0, w.shape[0] - 1,
                            value=strongest, key=f"flt_in::{layer}::{f}")
        charts.show(figures.filter_values(w[int(i)], f"filter {f}, input channel {i}", zmax=zmax),
                    width="stretch", config={"displayModeBar": False})
        st.caption(f"Input channel {strongest} has the largest weights in this filter.")

with st.expander("Trained vs untrained filters", expanded=not loaded.trained):
    st.markdown(
        "A filter is a small block of numbers that slides over its input; at each place it "
        "multiplies and sums, so it responds to inputs that look like it. In a **trained** "
        "network the first-layer filters look like oriented edges, colour blobs and stripes "
        "(smooth, structured). In an **untrained** network they are random noise with no "
        "structure — pick a model, continue with random weights, and compare: the difference is "
        "what training learned. Deeper filters combine many input channels, so we show them "
        "channel by channel instead of as pictures.")
