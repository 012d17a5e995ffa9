"""Explain: why did the CNN decide what it did? Grad-CAM, a method lab, faithfulness and sanity checks."""

from __future__ import annotations

import streamlit as st

from app.explain import figures, lab, tasks
from app.shell import pickers, resources, share
from app.shell import sidebar as widgets
from vizcore.core.render import COLORMAPS

CLASS, CHIP, LAYER = "explain_class", "explain_chip", "explain_layer"

st.title("🔥 Explain — where does the network look?")
loaded = resources.current_model()
image = widgets.current_image()
resources.untrained_banner(loaded)
spec, names = loaded.spec, loaded.spec.categories
inp = resources.model_input(loaded, image)  # the one resize / crop of this rerun
view = resources.compute(tasks.layer_choices, loaded, None)
share.sync(CLASS, LAYER, lab.SHARED_METHODS, defaults={CLASS: 0, LAYER: ""},
           choices={CLASS: range(len(names)), LAYER: view.layers})
if st.session_state.get(LAYER) not in view.layers:
    st.session_state.pop(LAYER, None)  # another model's layer, or an old link: the default
layer = st.session_state.get(LAYER, view.layers[0])
try:  # the first view — prediction and top-5 Grad-CAMs — from one forward pass
    first = resources.compute(tasks.first_view, loaded, inp, layer=layer)
except (ValueError, RuntimeError) as exc:  # bad layer, or the server stayed busy (GateTimeout)
    st.error(f"Cannot explain at layer `{layer}`: {exc}")
    st.stop()
pred, top5, photo = first.prediction, first.cams, inp.crop

# ── one class selection: the search box holds it, a top-5 chip is lit only when it is that class ──
view_id = f"{spec.name}-{loaded.trained}-{image.digest[:12]}"
if st.session_state.get("_explain_view") != view_id:
    if "_explain_view" in st.session_state or st.session_state.get(CLASS) is None:
        st.session_state[CLASS] = pred.top1  # a new photo or model starts at its top class
    st.session_state["_explain_view"] = view_id
chips = {f"{names[i]} · {100 * p:.0f}%": i for i, p in zip(pred.indices, pred.probs, strict=True)}


def _chip_picked() -> None:
    label = st.session_state.get(CHIP)
    st.session_state[CLASS] = chips.get(label, pred.top1)


if st.session_state.get(CLASS) is None:
    st.session_state[CLASS] = pred.top1
target = int(st.session_state[CLASS])
st.session_state[CHIP] = next((lbl for lbl, i in chips.items() if i == target), None)
st.pills("Target class (top-5)", list(chips), key=CHIP, on_change=_chip_picked)
c1, c2, c3, c4 = st.columns([3, 3, 1.2, 1.3], vertical_alignment="bottom")
c1.selectbox(f"…or any {'ImageNet ' if len(names) == 1000 else ''}class", range(len(names)), key=CLASS,
             format_func=lambda i: f"{names[i]} ({i})", placeholder="Type to search 1000 classes")
picked = pickers.layer_select(
    c2, "Target layer", view.layers, loaded=loaded, key=LAYER,
    help="Every conv layer; the first entry is the model's default (the last conv block). "
         "Deeper = coarser but more about the class.")
if picked != layer:  # cannot happen (the picker shows the state read above); never show a stale map
    st.rerun()
cmap = c3.selectbox("Colours", [c for c in figures.CMAPS if c in COLORMAPS], key="explain_cmap")
alpha = c4.slider("Map opacity", 0.0, 1.0, figures.ALPHA, 0.05,
                  help="Opacity where the map is hottest; cold regions leave the photo clear.")

# ── first view: Grad-CAM for the chosen class (from the top-5 pass when it is one of them) ─────────
main = next((c for c in top5 if c.target == target), None)
if main is None:  # a class outside the top 5
    try:
        main = resources.compute(tasks.method_view, loaded, inp, method="gradcam", layer=layer,
                                 target=target).cam
    except (ValueError, RuntimeError) as exc:
        st.error(f"Cannot explain “{names[target]}” at layer `{layer}`: {exc}")
        st.stop()
a, b, c = st.columns([1, 1, 1.4], gap="medium")
a.image(figures.cam_overlay(photo, main, cmap=cmap, alpha=alpha), width="stretch",
        caption=f"Grad-CAM for “{names[target]}” at `{layer}`")
h, w = main.raw.shape
b.image(figures.raw_map(main, cmap=cmap, size=photo.size[0]), width="stretch",
        caption=f"The raw map: {h}×{w} cells, one per position of the layer")
if main.message:
    b.warning(main.message)
c.markdown(
    "**What Grad-CAM computes.** The layer's output is a stack of feature maps. Grad-CAM asks how much "
    f"the score of *{names[target]}* would grow if each map grew (its gradient), averages that per map "
    "into one weight, and adds the maps up with those weights. Negative totals are cut to zero.\n\n"
    "**Colours.** Where the colour shows, that region *raised* the class score; where the photo is "
    "clear there is no evidence for it (not evidence against). Each map is scaled to its own maximum.\n\n"
    "**Layers and methods differ** because deep layers see big regions but only a few cells "
    f"(here {h}×{w}), early layers are sharp but know little about classes, and each method weighs "
    "the same evidence its own way. Check them with the faithfulness scores below.")

st.subheader("Top-5 classes, one forward pass")
for col, cam in zip(st.columns(5), top5, strict=False):
    col.image(figures.cam_overlay(photo, cam, cmap=cmap, alpha=alpha), width="stretch",
              caption=f"{names[cam.target]} ({cam.target})")

lab.method_lab(loaded, inp, layer=layer, target=target, cmap=cmap, alpha=alpha)
lab.sanity_check(loaded, inp, layer=layer, target=target, cmap=cmap, randomisable=view.randomisable)
