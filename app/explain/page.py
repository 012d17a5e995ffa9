"""Explain: why did the CNN decide what it did? Grad-CAM, a method lab, faithfulness and sanity checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app.explain import figures, tasks
from app.shell import resources
from app.shell import sidebar as widgets
from vizcore.core.preprocess import resize_crop
from vizcore.core.render import COLORMAPS
from vizcore.explain.methods import METHODS

st.title("🔥 Explain — where does the network look?")
loaded = resources.current_model()
image = widgets.current_image()
resources.untrained_banner(loaded)
spec, tag = loaded.spec, f"{loaded.spec.name}-{loaded.trained}-{image.digest[:12]}"
view = resources.compute(tasks.overview, loaded, image)
pred, photo = view.prediction, resize_crop(image.image, spec)
names = spec.categories

# ── pickers: class (top-5 chips or any class), layer, colours ─────────────────────────────────────
chips = {f"{names[i]} · {100 * p:.0f}%": i for i, p in zip(pred.indices, pred.probs, strict=True)}
pill = st.pills("Target class (top-5)", list(chips), default=next(iter(chips)), key=f"pill-{tag}",
                on_change=lambda: st.session_state.update({f"cls-{tag}": None}))  # a chip wins
c1, c2, c3, c4 = st.columns([3, 3, 1.2, 1.3], vertical_alignment="bottom")
other = c1.selectbox("…or any ImageNet class", range(len(names)), index=None, key=f"cls-{tag}",
                     format_func=lambda i: f"{names[i]} ({i})", placeholder="Type to search 1000 classes")
target = other if other is not None else chips.get(pill, pred.top1)
layer = c2.selectbox("Target layer", view.layers, key=f"layer-{spec.name}",
                     help="Every conv layer by its module path; the first entry is the model's default "
                     "(the last conv block). Deeper = coarser but more about the class.")
cmap = c3.selectbox("Colours", [c for c in COLORMAPS if c in ("viridis", "inferno", "turbo")])
alpha = c4.slider("Map opacity", 0.0, 1.0, 0.5, 0.05)

# ── first view: Grad-CAM for the chosen class, raw map beside it, explanation ────────────────────
try:
    top5 = resources.compute(tasks.top_k, loaded, image, layer=layer)  # one forward, 5 classes
    main = next((c for c in top5 if c.target == target), None)  # the same map, already computed
    if main is None:  # a class outside the top 5
        main = resources.compute(tasks.method_view, loaded, image, method="gradcam", layer=layer,
                                 target=target, faithful=False).cam
except (ValueError, RuntimeError) as exc:  # bad layer, or the server stayed busy (GateTimeout)
    st.error(f"Cannot explain at layer `{layer}`: {exc}")
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
    "**Colours.** Bright = this region *raised* the class score most; dark = no evidence for it "
    "(not evidence against). Each map is scaled to its own maximum.\n\n"
    "**Layers and methods differ** because deep layers see big regions but only a few cells "
    f"(here {h}×{w}), early layers are sharp but know little about classes, and each method weighs "
    "the same evidence its own way. Check them with the faithfulness scores below.")

st.subheader("Top-5 classes, one forward pass")
for col, cam in zip(st.columns(5), top5, strict=False):
    col.image(figures.cam_overlay(photo, cam, cmap=cmap, alpha=alpha), width="stretch",
              caption=f"{names[cam.target]} ({cam.target})")

# ── method lab: grid, faithfulness, downloads ─────────────────────────────────────────────────────
st.subheader("Method lab: same photo, same class, side by side")
methods = st.multiselect("Methods", list(METHODS), ["gradcam", "gradcam++", "layercam", "saliency"],
                         format_func=lambda m: METHODS[m].label, key="methods",
                         help="Score-CAM and Occlusion run hundreds of forwards: they show a progress bar.")
faithful = st.toggle("Faithfulness scores (deletion / insertion / average drop)", value=True, key="faithful")
slow_store = st.session_state.setdefault("explain-slow", {})
results: dict[str, tasks.MethodView] = {}
for m in methods:
    params = dict(method=m, layer=layer, target=target, faithful=faithful)
    key = (tag, *params.values())
    try:
        if not METHODS[m].slow:
            results[m] = resources.compute(tasks.method_view, loaded, image, **params)
            continue
        if key not in slow_store:
            bar = st.progress(0.0, text=f"{METHODS[m].label}: running masked forwards…")
            with resources.exclusive(loaded):
                slow_store[key] = tasks.method_view(loaded, image, **params, progress=lambda f, m=m, b=bar:
                                                    b.progress(f, text=f"{METHODS[m].label}: {100 * f:.0f}%"))
            bar.empty()
            while len(slow_store) > 12:
                slow_store.pop(next(iter(slow_store)))
        results[m] = slow_store[key]
    except (ValueError, RuntimeError) as exc:  # GateTimeout is a RuntimeError too
        st.error(f"{METHODS[m].label} failed at layer `{layer}`: {exc}")
methods = [m for m in methods if m in results]
for row in range(0, len(methods), 4):
    for col, m in zip(st.columns(4), methods[row:row + 4], strict=False):
        cam = results[m].cam
        col.image(figures.cam_overlay(photo, cam, cmap=cmap, alpha=alpha), width="stretch",
                  caption=f"{METHODS[m].label} · {1000 * cam.seconds:.0f} ms — {METHODS[m].blurb}")
        if cam.message:
            col.caption(f"⚠️ {cam.message}")
        d1, d2 = col.columns(2)
        d1.download_button("Overlay PNG", lambda cam=cam: figures.overlay_png(photo, cam, cmap=cmap,
                                                                             alpha=alpha),
                           f"{m}-{names[target]}.png", "image/png", key=f"png-{m}", width="stretch")
        d2.download_button("Raw .npy", figures.npy_bytes(cam.raw), f"{m}-{names[target]}.npy",
                           "application/octet-stream", key=f"npy-{m}", width="stretch")
if faithful and results:
    scores = {METHODS[m].label: r.faith for m, r in results.items() if r.faith is not None}
    st.plotly_chart(figures.faithfulness_figure(scores), width="stretch")
    st.dataframe(pd.DataFrame(figures.faithfulness_rows(
        scores, {METHODS[m].label: r.cam.seconds for m, r in results.items()})), hide_index=True)
    st.caption("A faithful map points at the pixels the model really uses: deleting them first makes "
               "the probability collapse (small deletion area), inserting them first brings it back "
               "fast (large insertion area). Average drop: confidence lost when the photo is multiplied "
               "by the map. A pretty map is not necessarily a faithful one.")

# ── sanity check: cascading randomisation on a copy of the model ─────────────────────────────────
st.subheader("Sanity check: does the map depend on what the network learned?")
if st.toggle("Run the cascading-randomisation check (Adebayo et al. 2018)", key="sanity"):
    s1, s2 = st.columns(2)
    fast = [m for m in METHODS if not METHODS[m].slow]
    sm = s1.selectbox("Method", fast, format_func=lambda m: METHODS[m].label, key="sanity-method")
    top_n = s2.slider("Re-initialise the top N layers", 1, min(40, view.randomisable),
                      min(8, view.randomisable))
    counts = tuple(sorted({int(v + 0.5) for v in np.linspace(1, top_n, 3)}))
    with st.spinner(f"Re-computing {METHODS[sm].label} on {len(counts)} randomised copies…"):
        res = resources.compute(tasks.sanity, loaded, image, method=sm, layer=layer, target=target,
                                counts=counts)
    imgs = figures.sanity_strip(res.maps, cmap=cmap, size=160)
    caps = ["original"] + [f"top {n} random · ρ = {r:.2f}" for n, r in zip(res.randomised,
                                                                          res.similarity, strict=True)]
    for col, img, cap in zip(st.columns(len(imgs)), imgs, caps, strict=True):
        col.image(img, caption=cap, width="stretch")
    verdict = (f"**{METHODS[sm].label} barely changes** (rank correlation {res.similarity[-1]:.2f} with "
               "the weights of the top layers destroyed): it shows the photo's edges more than the model's "
               "reasoning.") if res.flagged else (
               f"**{METHODS[sm].label} passes**: destroying the top layers' weights changes the map "
               f"(rank correlation {res.similarity[-1]:.2f}), so it depends on what the model learned.")
    (st.warning if res.flagged else st.success)(verdict)
    st.caption(f"Randomised, top first: {', '.join(f'`{n}`' for n in res.layer_names)}. "
               "ρ = Spearman rank correlation with the original map (1 = same ranking).")
