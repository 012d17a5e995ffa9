"""Classroom lab: step through convolution and pooling on the current photo, with real numbers."""

from __future__ import annotations

import streamlit as st

from app.lab import controls as lab_controls
from app.lab import figures, tasks
from app.lab import text as lab_text
from app.lab.gif import gif_bytes
from app.lab.player import player_html
from app.shell import resources
from app.shell import sidebar as widgets
from app.shell.static_assets import plotly_js_url

st.title("🧮 Classroom lab — convolution and pooling, step by step")
loaded = resources.current_model()
image = widgets.current_image()
resources.untrained_banner(loaded)

with st.container(border=True):
    p, big = lab_controls.settings(loaded)
relu = p["op"] in lab_controls.CONVS and st.toggle("Apply ReLU to the output", key="lab_relu")
st.markdown(f"**Output size** (per side): `{lab_controls.formula_text(p)}`")

try:
    with st.spinner("Preparing the steps…"):
        res = resources.compute(tasks.lab, loaded, image, centre=lab_controls.current_centre(image),
                                **p)
except ValueError as exc:
    st.error(f"**These settings don't work:** {exc}")
    st.info(f"Change the {lab_text.KNOBS.get(p['op'], 'settings')} above — the formula shows why.")
    st.stop()

if res.learned is not None:
    lf = res.learned
    st.info(f"**Real learned filter {lf.index} of {lf.count}** from `{lf.layer}` of "
            f"{loaded.spec.display_name} (stride {lf.stride[0]}, padding {lf.padding[0]} in the model)"
            f". {lf.note}" + ("" if loaded.trained else " ⚠️ The model is untrained: random numbers."))
st.caption(f"{res.values_note} {lab_text.GRID_LEGEND}")

view, spec, static = "forward", None, None
if res.routing is not None or res.grads is not None:
    view = st.segmented_control("View", ["forward", "backward (gradients)"], default="forward",
                                key="lab_view") or "forward"
conv_back = view != "forward" and res.grads is not None
try:
    if view == "forward":
        spec = figures.forward_figure(res.plan, res.channel_names, channel=p["channel"], relu=relu,
                                      big=big)
    elif res.routing is not None:
        spec = figures.backward_figure(res.plan, res.routing, channel=p["channel"], big=big)
    else:
        cell = lab_controls.upstream_cell(res.plan, p["channel"])
        grads = res.grads if cell is None else tasks.conv_gradients(res.plan, cell)
        static = figures.conv_backward_figure(res.plan, grads, res.channel_names, cell=cell, big=big)
except ValueError as exc:
    st.error(str(exc))
    st.stop()

left, middle, right = st.columns([1, 1, 1.6], gap="medium")
with left:
    st.markdown("**Region** of the photo")
    lab_controls.region_picker(image, res.box)
with middle:
    st.markdown("**The whole photo**")
    st.image(res.whole, caption=res.whole_note, width="stretch")
with right, st.expander("What is happening?", expanded=True):
    st.markdown(lab_text.CONV_BACKWARD if conv_back else lab_text.EXPLAIN[p["op"]])
if spec is not None:
    st.iframe(player_html(spec, big=big, plotly_src=plotly_js_url()),
              height=int(spec["layout"]["height"]) + 70)
if static is not None:
    st.markdown(lab_text.gradient_summary(res.plan, grads, res.channel_names, cell, relu=relu))
    st.plotly_chart(static, theme=None, config={"displayModeBar": False}, key="lab_conv_backward")
    st.caption(lab_text.CONV_BACKWARD_NOTE)
elif view != "forward":
    st.caption(lab_text.BACKWARD)

st.divider()
g1, g2, g3 = st.columns([1, 1, 2])
if g1.button("🎞️ Make an animated GIF", key="lab_gif_make"):
    with st.spinner("Drawing the frames…"):
        st.session_state["lab_gif"] = gif_bytes(res.plan, channel=p["channel"])
if st.session_state.get("lab_gif"):
    g2.download_button("⬇️ Download GIF", st.session_state["lab_gif"], file_name="cnn-lens-lab.gif",
                       mime="image/gif", key="lab_gif_dl")
if spec is not None:
    g3.download_button("⬇️ Download this animation as an offline HTML page",
                       lambda: player_html(spec, big=big), file_name="cnn-lens-lab.html",
                       mime="text/html", key="lab_html_dl")
