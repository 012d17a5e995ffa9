"""Classroom lab: step through convolution and pooling on the current photo, with real numbers."""

from __future__ import annotations

import streamlit as st

from app import lab_controls, lab_text, resources, widgets
from app.figures import lab as figures
from app.figures.lab_gif import gif_bytes
from app.figures.lab_player import player_html
from app.static_assets import plotly_js_url
from app.tasks import lab as tasks

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

view = "forward"
if res.routing is not None:
    view = st.segmented_control("View", ["forward", "backward (gradient routing)"],
                                default="forward", key="lab_view") or "forward"
try:
    if view == "forward":
        spec = figures.forward_figure(res.plan, res.channel_names, channel=p["channel"], relu=relu,
                                      big=big)
    else:
        spec = figures.backward_figure(res.plan, res.routing, channel=p["channel"], big=big)
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
    st.markdown(lab_text.EXPLAIN[p["op"]])
st.iframe(player_html(spec, big=big, plotly_src=plotly_js_url()), height=int(spec["layout"]["height"]) + 70)
if view != "forward":
    st.caption(lab_text.BACKWARD)

st.divider()
g1, g2, g3 = st.columns([1, 1, 2])
if g1.button("🎞️ Make an animated GIF", key="lab_gif_make"):
    with st.spinner("Drawing the frames…"):
        st.session_state["lab_gif"] = gif_bytes(res.plan, channel=p["channel"])
if st.session_state.get("lab_gif"):
    g2.download_button("⬇️ Download GIF", st.session_state["lab_gif"], file_name="cnn-lens-lab.gif",
                       mime="image/gif", key="lab_gif_dl")
g3.download_button("⬇️ Download this animation as an offline HTML page",
                   lambda: player_html(spec, big=big), file_name="cnn-lens-lab.html", mime="text/html",
                   key="lab_html_dl")
