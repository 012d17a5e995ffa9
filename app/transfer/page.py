"""Transfer learning: teach the network new classes from a few photos, then use it on every page."""

from __future__ import annotations

import html

import streamlit as st

from app.shell import charts, resources
from app.transfer import classes, figures, results, tasks
from app.transfer.state import training_set
from vizcore.transfer import Progress
from vizcore.transfer.finetune import block_units

st.title("Transfer learning — teach the network new classes")
st.markdown("A network trained on ImageNet already turns a photo into a vector of useful features. "
            "Give it a few photos of **your own classes** and train only a small part of it.")
loaded = resources.current_model()
resources.untrained_banner(loaded)
if "-transfer-" in loaded.spec.name:
    st.info("The current model was itself trained here; new classes are learned on top of its backbone.")

st.header("1 · Classes and photos")
ts = training_set()
classes.editor()

st.header("2 · Train")
left, right = st.columns(2)
with left:
    strategy = st.radio(
        "Strategy", ["head", "finetune"], key="tl_strategy", horizontal=True,
        format_func={"head": "Feature extractor (frozen backbone)",
                     "finetune": "Fine-tune the last blocks"}.get)
    if strategy == "head":
        st.caption("The pretrained network is frozen: each photo's features are computed once, then only "
                   "a new linear layer (one weight per feature and class) learns — about a second.")
    else:
        st.caption("A private copy of the network trains its last blocks together with the new layer, on "
                   "randomly flipped, cropped and recoloured photos every epoch — slower, more flexible, "
                   "easier to overfit.")
    augment = st.toggle("Augmentation (flip, crop, colour jitter)", value=True, key="tl_augment")
with right:
    head = strategy == "head"
    epochs = st.slider("Epochs", 1, tasks.MAX_HEAD_EPOCHS if head else tasks.MAX_FINETUNE_EPOCHS,
                       200 if head else 8, key=f"tl_epochs_{strategy}")
    lr = st.select_slider("Learning rate", [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2], value=1e-2 if head else 1e-3,
                          key=f"tl_lr_{strategy}", format_func=lambda v: f"{v:g}")
    blocks = 0 if head else st.slider("Blocks to fine-tune (from the top)", 1, tasks.MAX_BLOCKS, 2,
                                      key="tl_blocks")
    if blocks:
        units = block_units(loaded.model)[-blocks:]
        st.caption("Trains: " + ", ".join(f"`{u}`" for u in units) + " and the new head.")
    val_pct = st.slider("Validation share (held out)", 10, 50, 25, 5, key="tl_val", format="%d %%")

settings = tasks.TrainSettings(strategy, augment, epochs, lr, blocks or 2, val_pct / 100).checked()
sizes = {name: len(imgs) for name, imgs in ts.classes.items()}
ready = len(sizes) >= 2 and all(n >= 2 for n in sizes.values())
if sizes:
    st.caption("Per class, about " + ", ".join(
        f"{name}: {max(1, round(n * settings.val_fraction)) if n >= 2 else 0} validation / "
        f"{n - (max(1, round(n * settings.val_fraction)) if n >= 2 else 0)} training"
        for name, n in sizes.items()) + ".")
key = tasks.result_key(loaded, ts, settings)
result = tasks.last_result(key)
if st.button("Train", type="primary", key="tl_train", disabled=not ready,
             help=None if ready else "Needs at least 2 classes with at least 2 photos each."):
    bar = st.progress(0.0, text="Starting…")
    live = st.empty()
    seen: list = []

    def on_progress(p: Progress) -> None:
        bar.progress(min(1.0, p.done / max(1, p.total)), text=f"{p.stage}: {p.done} / {p.total}")
        if p.stats is not None:
            seen.append(p.stats)
            if len(seen) % max(1, settings.epochs // 20) == 0 or p.done == p.total:
                charts.show(figures.curves(seen), where=live, key=f"tl_live_{len(seen)}", width="stretch")

    try:
        result = tasks.train(loaded, ts, settings, on_progress)
    except ValueError as exc:
        st.error(str(exc))
    bar.empty()
    live.empty()
elif not ready:
    st.caption("The Train button needs at least 2 classes with at least 2 photos each.")

result = result or tasks.any_result()
if result is not None:
    st.header("3 · Results")
    in_use = loaded.spec.name == result.model.spec.name
    if in_use:
        st.success(f"Now using **{html.escape(result.model.spec.display_name)}** on every page — open "
                   "Predict, Explain or Feature maps (or train again: new classes then learn on top of it).",
                   icon="✅")
    elif tasks.last_result(key) is None:
        st.caption("These results are from an earlier training (the photos or settings changed since).")
    results.show(result, ts)
    st.header("4 · Use it")
    results.use_and_download(result, loaded.spec.name.split("-transfer-")[0], tasks.use)
