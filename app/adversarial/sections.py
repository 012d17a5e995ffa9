"""The sections of the Adversarial page below the attack form (Streamlit drawing; work via resources)."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from app.adversarial import figures, tasks, texts
from app.shell import charts, resources
from models.registry import LoadedModel, WeightsUnavailable
from vizcore.adversarial.defences import KINDS
from vizcore.core.images import LoadedImage
from vizcore.core.render import overlay


def _cls(names: tuple[str, ...], i: int, probs) -> str:
    return f"{names[i]} · {100 * float(probs[i]):.1f}%"


def pictures(view: tasks.AttackView, names: tuple[str, ...], eps_levels: float) -> None:
    """Original · amplified perturbation · adversarial, side by side."""
    r = view.result
    a, b, c = st.columns(3, gap="small")
    a.image(figures.to_image(r.clean), width="stretch",
            caption=f"Original: {_cls(names, r.source, r.clean_probs)}")
    b.image(figures.perturbation(r.delta, eps_levels), width="stretch",
            caption="The change, amplified (grey = unchanged)")
    verdict = "fooled ✓" if r.success else "not fooled ✗"
    c.image(figures.to_image(r.pixels), width="stretch",
            caption=f"Adversarial: {_cls(names, r.pred, r.probs)} — {verdict}")


def metrics(view: tasks.AttackView) -> None:
    """L∞, L2 (levels), PSNR, SSIM."""
    d = view.distortion
    cols = st.columns(5)
    cols[0].metric("L∞ (levels of 255)", f"{d.linf:.2f}", help="The largest change of any colour value.")
    cols[1].metric("L2 (levels)", f"{d.l2:.0f}", help="Square root of the sum of squared changes, in levels.")
    cols[2].metric("PSNR", "∞" if math.isinf(d.psnr) else f"{d.psnr:.1f} dB",
                   help="Peak signal-to-noise ratio; above ~40 dB changes are invisible.")
    cols[3].metric("SSIM", f"{d.ssim:.4f}", help="Structural similarity, 1 = identical.")
    cols[4].metric("Attack time", f"{view.result.seconds:.1f} s")


def gradcams(view: tasks.AttackView, names: tuple[str, ...]) -> None:
    """Grad-CAM for the original and the new class, before and after."""
    r = view.result
    st.subheader("Where does the network look? Grad-CAM before and after")
    photos = (figures.to_image(r.clean), figures.to_image(r.pixels))
    caps = [f"{when} · evidence for “{names[cls]}”" for cls in (r.source, view.new_class)
            for when in ("before", "after")]
    for col, cam, cap, photo in zip(st.columns(4), view.cams, caps, photos * 2, strict=True):
        col.image(overlay(photo, cam.heatmap, cmap="inferno", alpha=0.5), width="stretch", caption=cap)
    st.caption(f"Layer `{view.cams[0].layer}`. Each map is scaled to its own maximum; bright = regions that "
               "raise that class's score. “New class” is the adversarial prediction (or the runner-up "
               "when the attack failed).")


def download(view: tasks.AttackView, names: tuple[str, ...], s: tasks.AttackSettings) -> None:
    """The 8-bit PNG, verified by reloading it through the app's loader."""
    ex = view.export
    st.subheader("Download the adversarial photo")
    c1, c2 = st.columns([1, 3], vertical_alignment="center")
    c1.download_button("Download 8-bit PNG", ex.png, f"adversarial-{s.method}-eps{s.eps_levels:g}.png",
                       "image/png", key="adv-download", type="primary", width="stretch")
    (c2.success if ex.success else c2.warning)(
        f"{ex.message} Reloaded prediction: **{names[ex.pred]}**; largest change {ex.linf_levels} levels.")
    st.caption("The PNG is your photo resized as the model sees it (not cropped), with the attacked centre "
               "pasted in — upload it in the sidebar and the Predict page shows the fooled answer.")


def sweep(loaded: LoadedModel, image: LoadedImage, s: tasks.AttackSettings, names: tuple[str, ...]) -> None:
    """Probability of the original class and success vs ε (all 8 budgets in one batch)."""
    st.subheader("ε sweep: how large must the change be?")
    if not st.toggle("Run the ε sweep (8 budgets as one batch)", key="adv-sweep"):
        st.caption("Runs the same attack at ε = 0.5 … 16/255 in one batched computation.")
        return
    with st.spinner("Attacking at 8 budgets in one batch…"):
        sw = resources.compute(tasks.sweep, loaded, image, method=s.method, steps=s.steps, target=s.target,
                               seed=s.seed)
    charts.show(figures.sweep_figure(sw, names, chosen=s.eps_levels), width="stretch",
                key="adv-sweep-chart")
    first = next((lv for lv, ok in zip(sw.levels, sw.success, strict=True) if ok), None)
    st.caption((f"The attack first succeeds at ε = {first:g}/255. " if first is not None else
                "The attack failed at every budget. ") + f"{sw.seconds:.1f} s for all 8 budgets" + (
               "." if sw.method == "fgsm" else
               "; each uses step size 2.5·ε/steps and leaves the batch once its outcome is settled (the "
               "original class below 1 %, or the target above 99 %): "
               f"{sum(sw.steps_used)} budget-steps instead of {sw.steps * len(sw.levels)}."))


def transfer(loaded: LoadedModel, image: LoadedImage, view: tasks.AttackView, names: tuple[str, ...]) -> None:
    """Does the same adversarial image fool the other models on this machine?"""
    st.subheader("Transfer: does it fool other networks too?")
    usable, skipped = tasks.transfer_candidates(loaded.spec)
    rows, clean, adv = [], tasks.to_bytes(view.result.clean), tasks.to_bytes(view.result.pixels)
    for spec in usable:
        try:
            other = resources.shared_model(spec.name, trained=True)
        except WeightsUnavailable as exc:
            skipped.append((spec, f"weights unusable ({exc.reason})"))
            continue
        with st.spinner(f"Showing the adversarial photo to {spec.display_name}…"):
            row = resources.compute(tasks.transfer_row, other, None, clean=clean, adv=adv)
        rows.append({"model": row.model,
                     "clean photo": f"{names[row.clean_pred]} ({100 * row.clean_prob:.0f}%)",
                     "adversarial photo": f"{names[row.adv_pred]} ({100 * row.adv_prob:.0f}%)",
                     "fooled?": "✓ fooled" if row.fooled else "✗ not fooled"})
    if rows:
        st.table(pd.DataFrame(rows).set_index("model"))
    else:
        st.info("No other model with ImageNet weights is available on this machine, so transfer cannot be "
                "tested here.", icon="ℹ️")
    if skipped:
        st.caption("Skipped: " + "; ".join(f"{s.display_name} ({why})" for s, why in skipped) +
                   ". torchvision weights load offline once their file is in the torch hub cache "
                   "(`$TORCH_HOME/hub/checkpoints`).")


def _defence_controls() -> list[tuple[str, float, int]]:
    """One toggle (+ its strength) per defence; returns the enabled (kind, strength, draws)."""
    chosen = []
    for kind, title in KINDS.items():
        c1, c2, c3 = st.columns([1.6, 2, 1.4], vertical_alignment="center")
        on = c1.toggle(title, value=kind == "jpeg", key=f"adv-def-{kind}")
        draws = 1
        if kind == "jpeg":
            v = c2.slider("JPEG quality", 10, 95, 75, 5, key="adv-jpeg-q", disabled=not on)
        elif kind == "blur":
            v = c2.slider("Blur σ (px)", 0.5, 3.0, 1.0, 0.25, key="adv-blur-s", disabled=not on)
        elif kind == "bits":
            v = c2.slider("Bits per channel", 1, 8, 4, key="adv-bits", disabled=not on)
        elif kind == "median":
            v = c2.select_slider("Median window", (3, 5, 7), 3, key="adv-median", disabled=not on,
                                 format_func=lambda k: f"{k}×{k}")
        else:
            v = c2.slider("Smallest resize ratio", 0.7, 0.95, 0.85, 0.05, key="adv-rp-ratio", disabled=not on)
            draws = c3.slider("Random draws (N)", 2, 32, 10, key="adv-rp-draws", disabled=not on)
        if on:
            chosen.append((kind, float(v), int(draws)))
    return chosen


def _row(row: tasks.DefenceRow, source: int, names: tuple[str, ...]) -> dict[str, str]:
    c, a = row.clean, row.adversarial
    votes = ", ".join(f"{names[k]} {n}/{a.draws}" for k, n in a.votes[:3]) if row.defence.random else "—"
    out = {"defence": row.defence.label,
           "clean photo → (cost)": f"{names[c.pred]} {100 * c.probs[source]:.0f}%"
                                   + ("" if c.pred == source else " ✗ broken"),
           "adversarial →": f"{names[a.pred]} ({100 * a.probs[a.pred]:.0f}%)",
           "recovered?": "✓ recovered" if a.pred == source else "✗ still fooled",
           "votes (adversarial)": votes}
    if row.adaptive is not None:
        ad = row.adaptive
        out["attack through it →"] = f"{names[ad.pred]} ({100 * ad.probs[ad.pred]:.0f}%)"
        out["broken again?"] = "✓ broken again" if ad.success else "✗ defence holds"
    return out


def defences(loaded: LoadedModel, image: LoadedImage, view: tasks.AttackView, s: tasks.AttackSettings,
             names: tuple[str, ...]) -> None:
    """Toggles for the course's input defences; recovery, clean cost, and the attack through them."""
    st.subheader("Defences: can an input transformation undo the attack?")
    st.markdown(texts.DEFENCES)
    chosen = _defence_controls()
    adaptive = st.toggle("Attack through the enabled defences (BPDA / EOT, same ε and steps)",
                         key="adv-adaptive")
    if not chosen:
        st.caption("Switch on a defence above to test it.")
        return
    r, adv = view.result, tasks.to_bytes(view.result.pixels)
    rows = []
    for kind, strength, draws in chosen:
        with st.spinner(f"{KINDS[kind]}{': attacking through it' if adaptive else ''}…"):
            row = resources.compute(tasks.defence_row, loaded, image, adv=adv, kind=kind, strength=strength,
                                    draws=draws, adaptive=adaptive, eps_levels=s.eps_levels, steps=s.steps,
                                    seed=s.seed)
        rows.append(_row(row, r.source, names))
    st.table(pd.DataFrame(rows).set_index("defence"))
    st.caption(f"Original class: “{names[r.source]}”. Clean cost = the defended clean photo's probability "
               "of the original class (✗ broken: the defence alone already changes the answer).")
