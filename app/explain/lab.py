"""The lower half of the Explain page: the method lab (maps, downloads, faithfulness on demand) and
the cascading-randomisation sanity check. Every result goes through ``resources.compute`` (one cache,
shared by every session, keyed by the settings)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app.explain import figures, tasks
from app.shell import charts, resources
from models.registry import LoadedModel
from vizcore.core.preprocess import ModelInput
from vizcore.explain.methods import METHODS
from vizcore.explain.sanity import SanityResult

METHODS_KEY, SHARED_METHODS, FAITHFUL = "methods", "explain_methods", "faithful"
DEFAULT_METHODS = ["gradcam", "gradcam++", "layercam", "saliency"]


def _restore_methods() -> None:
    """A shared link's comma-separated method list → the multiselect (once, before it is drawn)."""
    raw = st.session_state.get(SHARED_METHODS)
    if METHODS_KEY not in st.session_state and isinstance(raw, str) and raw:
        st.session_state[METHODS_KEY] = [m for m in raw.split(",") if m in METHODS]


def _run(loaded: LoadedModel, inp: ModelInput, m: str, layer: str, target: int) -> tasks.MethodView | None:
    """One method's map (slow ones with a live progress bar); ``None`` with an error shown on failure."""
    label = METHODS[m].label
    try:
        if not METHODS[m].slow:
            return resources.compute(tasks.method_view, loaded, inp, method=m, layer=layer, target=target)
        bar = st.progress(0.0, text=f"{label}: running masked forwards…")
        try:
            return resources.compute(  # on a private copy: the shared model stays free meanwhile
                tasks.method_view, loaded, inp, method=m, layer=layer, target=target, private=True,
                progress=lambda f: bar.progress(f, text=f"{label}: {100 * f:.0f}%"))
        finally:
            bar.empty()
    except (ValueError, RuntimeError) as exc:  # GateTimeout is a RuntimeError too
        st.error(f"{label} failed at layer `{layer}`: {exc}")
        return None


def _tile(col, photo, m: str, view: tasks.MethodView, *, name: str, cmap: str, alpha: float) -> None:
    cam, record = view.cam, METHODS[m]
    col.image(figures.cam_overlay(photo, cam, cmap=cmap, alpha=alpha), width="stretch",
              caption=f"{record.label} · {1000 * cam.seconds:.0f} ms — {record.blurb}")
    if cam.message:
        col.caption(f"⚠️ {cam.message}")
    d1, d2 = col.columns(2)
    d1.download_button("Overlay PNG", lambda: figures.overlay_png(photo, cam, cmap=cmap, alpha=alpha),
                       f"{m}-{name}.png", "image/png", key=f"png-{m}", width="stretch")
    d2.download_button("Raw .npy", figures.npy_bytes(cam.raw), f"{m}-{name}.npy",
                       "application/octet-stream", key=f"npy-{m}", width="stretch")


def method_lab(loaded: LoadedModel, inp: ModelInput, *, layer: str, target: int, cmap: str,
               alpha: float) -> None:
    """Several methods side by side for the same photo, class and layer; faithfulness on demand."""
    st.subheader("Method lab: same photo, same class, side by side")
    _restore_methods()
    default = DEFAULT_METHODS if METHODS_KEY not in st.session_state else None
    methods = st.multiselect("Methods", list(METHODS), default, format_func=lambda m: METHODS[m].label,
                             key=METHODS_KEY, help="Score-CAM and Occlusion run hundreds of forwards: "
                             "they show a progress bar.")
    st.session_state[SHARED_METHODS] = ",".join(methods)
    st.query_params[SHARED_METHODS] = ",".join(methods)
    results = {m: r for m in methods if (r := _run(loaded, inp, m, layer, target)) is not None}
    shown = list(results)
    name = loaded.spec.categories[target]
    for row in range(0, len(shown), 4):
        for col, m in zip(st.columns(4), shown[row:row + 4], strict=False):
            _tile(col, inp.crop, m, results[m], name=name, cmap=cmap, alpha=alpha)
    if results:
        _faithfulness(loaded, inp, results)


def _faithfulness(loaded: LoadedModel, inp: ModelInput, results: dict[str, tasks.MethodView]) -> None:
    """Deletion / insertion / average drop — computed only when asked for (cached per map)."""
    if not st.session_state.get(FAITHFUL):
        st.button("📉 Compute faithfulness scores (deletion / insertion / average drop)", key="faith-on",
                  help="About 24 forward passes per method; cached, so asking again is instant.",
                  on_click=lambda: st.session_state.update({FAITHFUL: True}))
        return
    st.button("Hide faithfulness scores", key="faith-off",
              on_click=lambda: st.session_state.update({FAITHFUL: False}))
    scores, seconds = {}, {}
    with st.spinner("Scoring faithfulness (deleting / inserting pixels in order of importance)…"):
        for m, r in results.items():
            try:
                scores[METHODS[m].label] = resources.compute(tasks.faith, loaded, inp,
                                                             heatmap=r.cam.heatmap, target=r.cam.target)
                seconds[METHODS[m].label] = r.cam.seconds
            except (ValueError, RuntimeError) as exc:
                st.error(f"Faithfulness of {METHODS[m].label} failed: {exc}")
    charts.show(figures.faithfulness_figure(scores), width="stretch")
    st.dataframe(pd.DataFrame(figures.faithfulness_rows(scores, seconds)), hide_index=True)
    st.caption("A faithful map points at the pixels the model really uses: deleting them first makes "
               "the probability collapse (small deletion area), inserting them first brings it back "
               "fast (large insertion area). Average drop: confidence lost when the photo is multiplied "
               "by the map. A pretty map is not necessarily a faithful one.")


def verdict_text(label: str, res: SanityResult) -> str:
    """The sanity verdict in words, judged on every randomisation step and naming the steps."""
    steps = " → ".join(f"top {n}: ρ {r:.2f}" for n, r in zip(res.randomised, res.similarity, strict=True))
    if res.verdict == "passes":
        return (f"**{label} passes**: every randomisation step changed the map ({steps}), so it depends "
                "on what the model learned.")
    if res.verdict == "fails":
        return (f"**{label} barely changes** at any step ({steps}): it shows the photo's edges more than "
                "the model's reasoning.")
    similar = ", ".join(f"top {n}" for n in res.unchanged_steps)
    return (f"**{label} is inconclusive**: the map stays similar to the original after re-initialising "
            f"the {similar} layer(s) ({steps}). A method that depends on the learned weights should "
            "change clearly (ρ < 0.3) at every step.")


def sanity_check(loaded: LoadedModel, inp: ModelInput, *, layer: str, target: int, cmap: str,
                 randomisable: int) -> None:
    """Cascading randomisation (Adebayo et al. 2018) on a copy of the model, on request."""
    st.subheader("Sanity check: does the map depend on what the network learned?")
    if not st.toggle("Run the cascading-randomisation check (Adebayo et al. 2018)", key="sanity"):
        return
    s1, s2 = st.columns(2)
    fast = [m for m in METHODS if not METHODS[m].slow]
    sm = s1.selectbox("Method", fast, format_func=lambda m: METHODS[m].label, key="sanity-method")
    top_n = s2.slider("Re-initialise the top N layers", 1, min(40, randomisable), min(8, randomisable))
    counts = tuple(sorted({int(v + 0.5) for v in np.linspace(1, top_n, 3)}))
    with st.spinner(f"Re-computing {METHODS[sm].label} on {len(counts)} randomised copies…"):
        res = resources.compute(tasks.sanity, loaded, inp, method=sm, layer=layer, target=target,
                                counts=counts)
    imgs = figures.sanity_strip(res.maps, cmap=cmap, size=160)
    caps = ["original"] + [f"top {n} random · ρ = {r:.2f}" for n, r in zip(res.randomised,
                                                                          res.similarity, strict=True)]
    for col, img, cap in zip(st.columns(len(imgs)), imgs, caps, strict=True):
        col.image(img, caption=cap, width="stretch")
    show = {"passes": st.success, "fails": st.warning}.get(res.verdict, st.info)
    show(verdict_text(METHODS[sm].label, res))
    st.caption(f"Randomised, top first: {', '.join(f'`{n}`' for n in res.layer_names)}. "
               "ρ = Spearman rank correlation with the original map (1 = same ranking).")
