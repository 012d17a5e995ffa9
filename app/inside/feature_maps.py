"""Feature maps: every channel of a layer as one mosaic, a channel enlarged over the photo, and the
most active channel of every stage (edges → textures → parts)."""

from __future__ import annotations

import streamlit as st

from app.inside import figures, tasks
from app.shell import charts, presenter, resources, share
from app.shell import sidebar as widgets
from app.shell.clickimage import click_image
from app.shell.pickers import labels_task, layer_select
from vizcore.core.labels import SEP
from vizcore.core.preprocess import resize_crop
from vizcore.inside.features import spatial_layers, stage_layers

st.title("🧩 Feature maps — what each filter responds to in this photo")
loaded = resources.current_model()
image = widgets.current_image()
resources.untrained_banner(loaded)
trace = resources.compute(tasks.model_trace, loaded, None)
layers = spatial_layers(trace)
stages = stage_layers(trace)
default = stages[len(stages) // 2] if stages else layers[len(layers) // 2]  # a middle stage

layer_key = f"fm_layer::{loaded.spec.name}"
share.sync(layer_key, "fm_norm", "fm_sort", "fm_cmap",
           choices={layer_key: layers, "fm_norm": figures.NORMS, "fm_sort": figures.SORTS,
                    "fm_cmap": figures.CMAPS})
layer = layer_select(
    st, "Layer", layers, loaded=loaded, index=layers.index(default), key=layer_key,
    help="Every layer whose output is a stack of 2-D maps, in the order the network runs them.")
c2, c3, c4 = st.columns([2, 1, 1])
norm = c2.radio("Normalise colours", figures.NORMS, horizontal=True, key="fm_norm",
                help="per map: each tile uses its own min–max (shows pattern, hides strength) · "
                "per layer: one scale for this layer (strong channels stand out) · "
                "global: one scale for the whole network.")
sort = c3.selectbox("Sort by", figures.SORTS, key="fm_sort", help="mean / max activation, largest first")
cmap = c4.selectbox("Colours", figures.CMAPS, key="fm_cmap")

with st.spinner("Running the network once for this layer and the overview strip…"):
    fm = resources.compute(tasks.maps, loaded, image, layer=layer)
c, h, w = fm.maps.shape
zero = int((fm.channel_max <= 0).sum())
labels = resources.compute(labels_task, loaded, None)
plain = SEP.join(p for p in (labels[layer].where, labels[layer].what) if p)
st.markdown(f"**{plain}** (`{layer}`) · **{c} channels** (one per "
            f"filter) · each map **{h}×{w}** · values {fm.layer_range[0]:.2f} … {fm.layer_range[1]:.2f} · "
            f"**{zero}** channels all ≤ 0 for this photo")

scale = None
if norm == "global":
    with st.spinner("Running the network once to find the range of every layer…"):
        scale = resources.compute(tasks.global_range, loaded, image)
mosaic, grid = figures.feature_mosaic_image(fm, norm=norm, sort=sort, cmap=cmap, global_range=scale)
ch_key = f"fm_channel::{loaded.spec.name}::{layer}"
share.sync(ch_key, defaults={ch_key: 0}, choices={ch_key: range(c)})
if ch_key not in st.session_state:
    st.session_state[ch_key] = int(figures.channel_order(fm, "mean")[0])
left, right = st.columns([3, 2], gap="large")
with left:
    if scale is not None:
        span = (fm.layer_range[1] - fm.layer_range[0]) / max(scale[1] - scale[0], 1e-12)
        st.caption(f"Global scale: **{scale[0]:.2f} … {scale[1]:.2f}** over every layer of the network "
                   f"for this photo; this layer uses {100 * span:.0f}% of it, so weak layers look flat. "
                   "Compare layers with it; use *per map* to see patterns. Click a tile to enlarge "
                   "that channel.")
    else:
        st.caption("Click a tile to enlarge that channel.")
    click = click_image(mosaic, key=f"fm_click::{layer}::{norm}::{sort}::{cmap}", pixelated=True,
                        alt=f"{c} feature maps of {layer}")
    xy = figures.click_xy(click, mosaic.size)
    if xy is not None and st.session_state.get("fm_last_click") != xy[2]:
        st.session_state["fm_last_click"] = xy[2]
        picked = grid.index_at(xy[0], xy[1])
        if picked is not None:
            st.session_state[ch_key] = picked
with right:
    channel = st.number_input("Channel", 0, c - 1, key=ch_key, step=1)
    base = resize_crop(image.image, loaded.spec)
    charts.show(figures.channel_overlay(fm, int(channel), base, cmap=cmap,
                                        height=presenter.figure_height(440)),
                width="stretch", config={"displayModeBar": False})
    rank = int((figures.channel_order(fm, "mean") == channel).nonzero()[0][0]) + 1
    st.caption(f"Channel {channel}: mean {fm.channel_mean[channel]:.3f}, max "
               f"{fm.channel_max[channel]:.3f} (rank {rank} of {c} by mean). Hover for the value "
               "of each unit; bright = strong response at that place in the photo.")

st.subheader("Overview: the most active channel of every stage")
per_row = 4  # thumbnails large enough to read, captions wide enough at 150 % zoom
strip = [(base, f"input · {base.size[0]}×{base.size[1]}×{loaded.spec.channels}")] + [
    (figures.stage_thumb(s.map, cmap=cmap),
     f"{labels[s.layer].where or labels[s.layer].what} · {s.shape[1]}×{s.shape[2]}×{s.shape[0]} "
     f"· channel {s.channel}") for s in fm.stages]
for start in range(0, len(strip), per_row):
    cols = st.columns(per_row)
    for col, (pic, caption) in zip(cols, strip[start:start + per_row], strict=False):
        col.image(pic, caption=caption, width="stretch")
st.caption("Left to right the maps get smaller and the channels more numerous: early stages "
           "respond to edges and colours at every place, later ones to textures and object parts "
           "in a few places (each unit there sees a bigger patch of the photo).")
with st.expander("What am I looking at?"):
    st.markdown(
        "A convolution layer with *N* filters produces *N* feature maps: filter *k* slides over "
        "its input and writes how strongly each place matches it into map *k*. The mosaic shows "
        "all of them for your photo. After ReLU many maps are completely dark — that sparsity is "
        "normal. **Per map** colours show the pattern of every channel; **per layer** and "
        "**global** use one scale, so you can compare how strongly channels respond.")
