"""Receptive field explorer: click a unit of a feature map, see which input pixels it can see
(theoretical box) and which ones actually move it (effective receptive field, a gradient)."""

from __future__ import annotations

import streamlit as st

from app.inside import figures, tasks
from app.shell import resources, share
from app.shell import sidebar as widgets
from app.shell.clickimage import click_image
from app.shell.pickers import labels_task, layer_select
from vizcore.core.preprocess import resize_crop
from vizcore.inside.features import spatial_layers, stage_layers
from vizcore.inside.receptive import rf_box

MODES = ("all channels at a position", "one channel")
st.title("🔭 Receptive field — which pixels can one unit see?")
loaded = resources.current_model()
image = widgets.current_image()
resources.untrained_banner(loaded)
trace = resources.compute(tasks.model_trace, loaded, None)
layers = [n for n in spatial_layers(trace) if n in trace.layer_rf]
stages = [n for n in stage_layers(trace) if n in layers]
default = stages[len(stages) // 2] if stages else layers[len(layers) // 2]  # a middle stage

layer_key = f"rf_layer::{loaded.spec.name}"
share.sync(layer_key, "rf_mode", choices={layer_key: layers, "rf_mode": MODES})
layer = layer_select(st, "Layer", layers, loaded=loaded, index=layers.index(default), key=layer_key,
                     extra={n: f"RF {trace.layer_rf[n].size} px" for n in layers})
n_ch, h, w = trace.layer_shape[layer]
c2, c3 = st.columns([3, 1])
mode = c2.radio("Unit", MODES, horizontal=True, key="rf_mode")
channel = -1
if mode == "one channel":
    ch_key = f"rf_ch::{layer}"
    share.sync(ch_key, defaults={ch_key: 0}, choices={ch_key: range(n_ch)})
    channel = int(c3.number_input("Channel", 0, n_ch - 1, key=ch_key))

with st.spinner("Computing the feature map…"):
    fm = resources.compute(tasks.maps, loaded, image, layer=layer)
shown = fm.maps.mean(axis=0) if channel < 0 else fm.maps[channel]
pos_key = f"rf_unit::{loaded.spec.name}::{layer}"
st.session_state.setdefault(pos_key, (h // 2, w // 2))
unit_key = f"rf_at::{loaded.spec.name}"  # the unit as "row,col" in the URL (shareable)
share.sync(unit_key, choices={unit_key: [f"{r},{c}" for r in range(h) for c in range(w)]},
           on_restore={unit_key: lambda: st.session_state.__setitem__(
               pos_key, tuple(int(v) for v in st.session_state[unit_key].split(",")))})

info = trace.layer_rf[layer]
size = loaded.spec.input_size
left, mid, right = st.columns(3, gap="medium")
with left:
    where = resources.compute(labels_task, loaded, None)[layer]
    st.markdown(f"**1 · Click a unit** of {where.where or where.what} ({h}×{w} units)")
    img = figures.clickable_map(shown, st.session_state[pos_key])
    click = click_image(img, key=f"rf_click::{layer}", cursor="crosshair", pixelated=True,
                        alt=f"feature map of {layer}: click a unit")
    xy = figures.click_xy(click, img.size)
    if xy is not None and st.session_state.get("rf_last") != xy[2]:
        st.session_state["rf_last"] = xy[2]
        unit = (min(h - 1, int(xy[1] * h / img.size[1])), min(w - 1, int(xy[0] * w / img.size[0])))
        if unit != st.session_state[pos_key]:
            st.session_state[pos_key] = unit
            st.rerun()
    row, col = st.session_state[pos_key]
    st.session_state[unit_key] = f"{row},{col}"
    st.query_params[unit_key] = f"{row},{col}"
    st.caption(f"The ring marks unit row {row + 1}, column {col + 1} (of {h}×{w}) · "
               + ("mean over all channels shown" if channel < 0 else f"channel {channel} shown"))

with st.spinner("Back-propagating from that unit to the pixels…"):
    erf = resources.compute(tasks.erf, loaded, image, layer=layer, row=row, col=col, channel=channel)
base = resize_crop(image.image, loaded.spec)
top, lft, bottom, rgt = rf_box(info, row, col, size)
boxed, heat = figures.rf_views(base, (top, lft, bottom, rgt), erf.grad)
with mid:
    st.markdown("**2 · Theoretical receptive field**")
    st.image(boxed, width="stretch")
    clipped = " (clipped at the image border)" if (bottom - top, rgt - lft) != (info.size,) * 2 else ""
    st.caption(f"{info.size}×{info.size} px{clipped}: pixel rows {top + 1}–{bottom}, columns "
               f"{lft + 1}–{rgt} of {size} · "
               f"jump {info.jump} px between neighbouring units")
with right:
    st.markdown("**3 · Effective receptive field**")
    st.image(heat, width="stretch")
    if erf.extent is None:
        st.caption("The gradient is zero everywhere: this unit is switched off (ReLU) for this "
                   "photo, so no pixel can move it a little. Try another unit.")
    else:
        share = float((erf.grad > 0.1).mean()) * 100
        st.caption(f"|∂ unit / ∂ pixel| (square-root scaled) · unit value {erf.value:.3f} · "
                   f"{share:.1f}% of the image above 10% of the peak")

st.info("**Theoretical vs effective.** The theoretical receptive field is every input pixel that "
        "can reach the unit through the layers' kernels, computed from kernel sizes, strides and "
        "padding alone. The effective receptive field measures how much each pixel actually "
        "changes the unit for this photo: it is concentrated near the centre and fades out, "
        "usually far smaller than the box.", icon="💡")
with st.expander("How the box is computed"):
    st.markdown(
        "Walking from the input to this layer, each layer with kernel *k*, stride *s* and "
        "dilation *d* grows the field by (d·(k−1))·jump and multiplies the jump by *s*. Where "
        "branches meet (residual additions, Inception/DenseNet concatenations) we keep the "
        "largest field. We trace the real model to get this, and our tests check it against the "
        "gradient of a central unit for every model in the app.")
