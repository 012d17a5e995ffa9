"""Two models on one photo: top-5, Grad-CAM, receptive field, size, cost and latency side by side,
and the difference of the two heatmaps on the part of the photo both models see."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
import torch

from app.architectures import figures, tasks
from app.predict.figures import top_k_bar
from app.shell import charts, resources
from app.shell import sidebar as widgets
from app.usermodel import store as usermodel_store
from models.registry import LoadedModel, WeightsUnavailable, get_spec, list_specs
from vizcore.architectures.compare import pair_heatmaps, photo_crop
from vizcore.core import render as draw

FAILED_KEY = "arch_cmp_download_failed"
CAM_PX = 360  # Grad-CAM overlays: big enough to read, small enough to keep the difference view near


def weights_on_disk(name: str) -> bool:
    """True when ``name``'s pretrained weights can be loaded without a download attempt."""
    src = get_spec(name).weights
    if hasattr(src, "arch") and hasattr(src, "filename"):  # torchvision: the torch hub cache
        return (Path(torch.hub.get_dir()) / "checkpoints" / src.filename).is_file()
    try:
        return Path(src.path()).is_file() if hasattr(src, "path") else True
    except (ImportError, OSError, ValueError):
        return False


def _yours(name: str) -> LoadedModel | None:
    """Your own model ``name`` (registered on the command line or uploaded in this session), or None."""
    return resources.registered_models().get(name) or usermodel_store.get(name)


def _display(name: str) -> str:
    yours = _yours(name)
    return f"📦 {yours.spec.display_name}" if yours is not None else get_spec(name).display_name


def _model(name: str) -> LoadedModel:
    """Your own model as loaded; a registry model pretrained when its weights are on this machine
    (or were fetched on request), else untrained."""
    yours = _yours(name)
    if yours is not None:
        return yours
    spec = get_spec(name)
    failed: dict[str, str] = st.session_state.setdefault(FAILED_KEY, {})
    wants = st.session_state.get(f"arch_cmp_fetch::{name}", False)
    if name not in failed and (weights_on_disk(name) or wants):
        try:
            with st.spinner(f"Loading {spec.display_name}…"):
                return resources.shared_model(name, trained=True)
        except WeightsUnavailable as exc:
            failed[name] = exc.reason
    with st.spinner(f"Building untrained {spec.display_name}…"):
        return resources.shared_model(name, trained=False)


def _weights_note(loaded: LoadedModel, slot: str) -> None:
    if _yours(loaded.spec.name) is not None:
        st.caption(f"📦 your own model · {len(loaded.spec.categories)} classes · "
                   f"{loaded.spec.input_size}² input")
        return
    if loaded.trained:
        st.caption(f"✅ pretrained weights · {getattr(loaded.spec.weights, 'description', '')}")
        return
    name = loaded.spec.name
    st.error(f"**{loaded.spec.display_name} is UNTRAINED** — random weights (its pretrained file is "
             "not on this machine). Its top-5 and heatmap show what an untrained network does.", icon="⚠️")
    reason = st.session_state.get(FAILED_KEY, {}).get(name)
    if reason:
        st.caption(f"Download failed: {reason}")
    elif st.button("Try to download the pretrained weights", key=f"arch_cmp_fetch_btn::{slot}"):
        st.session_state[f"arch_cmp_fetch::{name}"] = True
        st.rerun()


def _pickers() -> tuple[str, str, bool]:
    names = [s.name for s in list_specs()] + [*resources.registered_models(), *usermodel_store.names()]
    fmt = _display
    if st.session_state.get("arch_cmp_a") not in names:  # the sidebar's model (yours too) starts as A
        picked = resources.selected_model_name()
        st.session_state["arch_cmp_a"] = picked if picked in names else names[0]
    if st.session_state.get("arch_cmp_b") not in names:
        st.session_state["arch_cmp_b"] = next(
            (n for n in ("resnet18", *names) if n != st.session_state["arch_cmp_a"] and n in names), names[0])
    c1, c2, c3 = st.columns([2, 2, 3])
    a = c1.selectbox("Model A", names, key="arch_cmp_a", format_func=fmt)
    b = c2.selectbox("Model B", names, key="arch_cmp_b", format_func=fmt)
    same = c3.radio("Grad-CAM of", ["each model's own top class", "the same class for both (A's top class)"],
                    key="arch_cmp_target", horizontal=False) != "each model's own top class"
    return a, b, same


def _column(loaded: LoadedModel, side: tasks.Side, lat, slot: str, image) -> None:
    st.markdown(f"### {slot}: {loaded.label}")
    _weights_note(loaded, slot)
    if _yours(loaded.spec.name) is not None:
        s = resources.compute(tasks.structure_of, loaded, None)
    else:
        row = next((r for r in tasks.cached(tasks.catalog, tasks.registry_names())
                    if r.name == loaded.spec.name), None)
        s = row.structure if row else None
    m = [c for _ in range(2) for c in st.columns(2)]  # 2×2: four across truncated the values at 1366
    m[0].metric("Parameters", figures.compact(s.params) if s else "–")
    m[1].metric("MACs / image", figures.compact(s.macs) if s else "–")
    m[2].metric("RF of last conv", f"{side.rf_size} px" if side.rf_size else "–",
                help=f"theoretical receptive field of `{side.last_conv}`")
    m[3].metric("CPU latency", f"{lat.median_ms:.0f} ms" if lat else
                "–" if _yours(loaded.spec.name) is not None else "not timed",
                help="median of 5 runs after 2 warm-ups" + (f", {lat.threads} threads" if lat else "")
                + (f", load average {lat.load:.1f} when timed" if lat and lat.load is not None else ""))
    dataset = "ImageNet" if len(loaded.spec.categories) == 1000 else ""  # your own model: its classes
    charts.show(top_k_bar(side.prediction, untrained=not loaded.trained, dataset=dataset), width="stretch",
                key=f"arch_cmp_top5::{slot}", config={"displayModeBar": False})
    crop = photo_crop(image.image, side.box, loaded.spec.input_size)
    cls = side.prediction.labels[0] if side.cam.target == side.prediction.top1 else f"class {side.cam.target}"
    st.image(draw.png_bytes(draw.overlay(crop, side.cam.heatmap, cmap="inferno", alpha=0.55)),
             caption=f"Grad-CAM at `{side.cam.layer}` for “{cls}” · {loaded.spec.input_size}² crop",
             width=CAM_PX)
    if side.cam.message:
        st.caption(side.cam.message)


def render() -> None:
    """Draw the comparison view."""
    image = widgets.current_image()
    a_name, b_name, same = _pickers()
    loaded = {"A": _model(a_name), "B": _model(b_name)}
    if same and loaded["A"].spec.categories != loaded["B"].spec.categories:
        st.info("A and B have different classes, so there is no same class to explain: each heatmap "
                "shows its model's own top class.", icon="ℹ️")
        same = False
    sides: dict[str, tasks.Side] = {}
    target = -1
    for slot in ("A", "B"):
        mi = resources.model_input(loaded[slot], image)
        with st.spinner(f"Top-5 and Grad-CAM of {loaded[slot].spec.display_name}…"):
            sides[slot] = resources.compute(tasks.side, loaded[slot], mi, target=target,
                                            size=tuple(image.image.size))
        if same and slot == "A":
            target = sides["A"].prediction.top1
    timed = tuple(n for n in (a_name, b_name) if _yours(n) is None)  # registry models are timed
    lats = tasks.latencies(timed)
    cols = st.columns(2, gap="large")
    for col, slot in zip(cols, ("A", "B"), strict=True):
        with col:
            _column(loaded[slot], sides[slot], lats.get(loaded[slot].spec.name), slot, image)
    missing = tuple(dict.fromkeys(n for n in timed if n not in lats))
    label = "⏱️ Measure the latency of " + " and ".join(get_spec(n).display_name for n in missing)
    if missing and st.button(label, key="arch_cmp_measure"):
        status = st.empty()
        for n in missing:
            with st.spinner(f"Timing {get_spec(n).display_name}…"), resources.compute_slot(status):
                tasks.measure(n)
        st.rerun()
    _difference(sides, loaded, image)


def _difference(sides: dict[str, tasks.Side], loaded: dict[str, LoadedModel], image) -> None:
    pair = pair_heatmaps(sides["A"].cam.heatmap, sides["A"].box, sides["B"].cam.heatmap, sides["B"].box)
    crop = photo_crop(image.image, pair.box)
    st.markdown("#### Where they look differently — both heatmaps on the same grid")
    w = pair.box[2] - pair.box[0]
    st.caption(f"Grid: the {w:.0f}×{pair.box[3] - pair.box[1]:.0f} px part of the photo that both "
               "crops cover, resampled to 224×224. Red = A looks here more than B, blue = B more than A.")
    c = st.columns(3)
    c[0].image(draw.png_bytes(draw.overlay(crop, pair.a, cmap="inferno", alpha=0.55)),
               caption=f"A: {loaded['A'].spec.display_name}", width="stretch")
    c[1].image(draw.png_bytes(draw.overlay(crop, pair.b, cmap="inferno", alpha=0.55)),
               caption=f"B: {loaded['B'].spec.display_name}", width="stretch")
    diff = draw.colorize(pair.diff, "coolwarm", lo=-1.0, hi=1.0)
    c[2].image(draw.png_bytes(diff), caption="A − B (red: A, blue: B)", width="stretch")
    corr = f"{pair.correlation:+.2f}" if pair.correlation is not None else "undefined (a flat map)"
    st.markdown(f"Correlation of the two maps: **{corr}** · overlap of their hottest 20 %: "
                f"**{100 * pair.overlap:.0f} %** (IoU).")
