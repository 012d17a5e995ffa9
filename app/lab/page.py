"""Classroom lab: step through convolution and pooling on the current photo, with real numbers."""

from __future__ import annotations

import json

import streamlit as st

from app.lab import controls as lab_controls
from app.lab import tasks
from app.lab import text as lab_text
from app.lab.player import bar_px, player_html
from app.lab.tasks import View
from app.shell import resources, share
from app.shell import sidebar as widgets
from app.shell.presenter import presenting
from app.shell.static_assets import plotly_js_url
from vizcore.lab.lesson import conv_gradients, formula
from vizcore.lab.settings import LabSettings

lab_controls.init_defaults()
share.sync(*lab_controls.SHARE_DEFAULTS, defaults=lab_controls.SHARE_DEFAULTS,
           choices=lab_controls.SHARE_CHOICES)
present = presenting()
TITLE = "🧮 Classroom lab — convolution and pooling, step by step"
if present:  # presenter mode: a compact heading, so the player and its grid fit one screen
    st.markdown(f"### {TITLE}")
else:
    st.title(TITLE)
loaded = resources.current_model()
image = widgets.current_image()
resources.untrained_banner(loaded)

head = st.container()
above = st.container()
player = st.container()
below = st.container()  # presenter mode: the formula and the view switch go under the player …
tail = st.container()  # … and the settings under them: the player and its grid get the screen
with (tail if present else head).expander("⚙️ Settings — operation, kernel, stride, padding, grid",
                                          expanded=not present):
    s, big = lab_controls.settings(loaded, lab_controls.current_centre(image), present)
    relu = s.op.is_conv and st.toggle("Apply ReLU to the output", key="lab_relu")
f1, f2 = (below if present else above).columns([3, 1.2], vertical_alignment="center")
f1.markdown(f"**Output size** (per side): `{formula(s)}`")
try:
    with st.spinner("Preparing the steps…"):
        res = resources.compute(tasks.lab, loaded, image, settings=s)
except ValueError as exc:
    st.error(f"**These settings don't work:** {exc}")
    st.info(f"Change the {s.op.knobs} in the settings above — the formula shows why.")
    st.stop()
view = View.FORWARD
if res.routing is not None or res.grads is not None:
    view = View(f2.segmented_control("View", [v.value for v in View], key="lab_view") or View.FORWARD)


def _start_step(settings: LabSettings, shown: View) -> int:
    """0-based step the player opens on: the shared link's ``?step=N`` until the settings change."""
    seen = st.session_state.get("lab_step_for")
    st.session_state["lab_step_for"] = (settings, shown)
    if seen is not None and seen != (settings, shown):
        st.query_params.pop("step", None)
        return 0
    try:
        return max(int(st.query_params.get("step", "1")) - 1, 0)
    except ValueError:
        return 0


cell = None
conv_back = view is View.BACKWARD and res.grads is not None
if conv_back:
    cell = lab_controls.upstream_cell(res.plan, s.channel)
try:
    fig = resources.compute(tasks.figure, loaded, image, settings=s, view=view, big=big, relu=relu,
                            cell=cell)
except ValueError as exc:
    st.error(str(exc))
    st.stop()
if fig.animated:
    player.iframe(player_html(fig.json, big=big, start=_start_step(s, view), plotly_src=plotly_js_url()),
                  height=fig.height + bar_px(big))
else:
    grads = res.grads if cell is None else conv_gradients(res.plan, cell)
    st.markdown(lab_text.gradient_summary(res.plan, grads, res.channel_names, cell, relu=relu))
    st.plotly_chart(json.loads(fig.json), theme=None, config={"displayModeBar": False},
                    key="lab_conv_backward")
    st.caption(lab_text.CONV_BACKWARD_NOTE)
if view is View.BACKWARD and res.routing is not None:
    st.caption(lab_text.BACKWARD)

if res.learned is not None:
    lf = res.learned
    st.info(f"**Real learned filter {lf.index + 1} of {lf.count}** from `{lf.layer}` of "
            f"{loaded.spec.display_name} (stride {lf.stride[0]}, padding {lf.padding[0]} in the model)"
            f". {lf.note}" + ("" if loaded.trained else " ⚠️ The model is untrained: random numbers."))
    if lf.folded:
        with st.expander("Why are these the network's numbers? (BatchNorm folding)"):
            st.markdown(lab_text.LEARNED)
elif s == LabSettings(centre=s.centre, side=s.side, grid=s.grid):
    st.caption(lab_text.START)
st.caption(f"{res.values_note} {lab_text.GRID_LEGEND}")

left, middle, right = st.columns([1, 1, 1.6], gap="medium")
with left:
    st.markdown("**Region** of the photo")
    lab_controls.region_picker(image, res.box)
with middle:
    st.markdown("**The whole photo**")
    st.image(res.whole, caption=res.whole_note, width="stretch")
with right, st.expander("What is happening?", expanded=True):
    st.markdown(lab_text.CONV_BACKWARD if conv_back else lab_text.EXPLAIN[s.op])

st.divider()
g1, g2, g3 = st.columns([1, 1, 2])
if g1.button("🎞️ Make an animated GIF", key="lab_gif_make",
             help="A colour GIF of the forward steps for slides (projector size)."):
    st.session_state["lab_gif_on"] = True
if st.session_state.get("lab_gif_on"):
    with st.spinner("Drawing the frames…"):
        gif = resources.compute(tasks.gif, loaded, image, settings=s, relu=relu)
    g2.download_button("⬇️ Download GIF", gif, file_name=f"cnn-lens-lab-{s.op.value}.gif",
                       mime="image/gif", key="lab_gif_dl")
if fig.animated:
    g3.download_button("⬇️ Download this animation as an offline HTML page",
                       lambda: player_html(fig.json, big=big), file_name="cnn-lens-lab.html",
                       mime="text/html", key="lab_html_dl")
