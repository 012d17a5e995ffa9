"""Step 3 of the Transfer learning page: accuracy, curves, a clickable confusion matrix, the
embedding map before/after, and "use it" / "download"."""

from __future__ import annotations

import html
from collections.abc import Callable

import streamlit as st

from app.shell import charts
from app.transfer import figures
from app.transfer.state import TrainingSet
from models.registry import LoadedModel
from vizcore.transfer import TransferResult
from vizcore.transfer.export import export

CELL_KEY = "tl_cell"


def show(result: TransferResult, ts: TrainingSet) -> None:
    """Everything about one finished training."""
    t = result.trained
    n_train, n_val = len(t.split.train), len(t.split.val)
    st.metric("Validation accuracy", f"{result.val_accuracy:.0%}",
              help=f"On {n_val} images the model never trained on ({n_train} used for training).")
    last = t.history[-1]
    gap = last.train_acc - last.val_acc
    if gap > 0.2:
        st.warning(f"**Overfitting:** {last.train_acc:.0%} right on the training images but "
                   f"{last.val_acc:.0%} on validation. With few images the model memorises them; try "
                   "augmentation, more photos, or the frozen-backbone strategy.", icon="📉")
    charts.show(figures.curves(t.history, t.best_epoch), key="tl_curves", width="stretch")
    st.caption(f"Kept the epoch with the lowest validation loss (epoch {t.best_epoch} of {len(t.history)} "
               "run; training stops early when validation stops improving). Trained: "
               + ", ".join(f"`{u}`" for u in t.trained_units) + f" · {t.seconds:.1f} s.")
    _confusion(result, ts)
    charts.show(figures.embedding_map(t.embed_before, t.embed_after, t.labels, t.classes, t.split.val),
                key="tl_pca", width="stretch")
    st.caption("Each dot is one image, placed by the two main directions of variation of the features "
               "entering the classifier. Classes that form separate clouds are easy for a linear head.")


def _confusion(result: TransferResult, ts: TrainingSet) -> None:
    t = result.trained
    k = len(t.classes)
    st.markdown("**Confusion matrix (validation images)** — rows: true class, columns: predicted. "
                "Press a number to see those images.")
    grid = st.columns(k + 1)
    grid[0].markdown("true ↓ / predicted →")
    for j, name in enumerate(t.classes):
        grid[j + 1].markdown(f"**{html.escape(name)}**")
    for i, true_name in enumerate(t.classes):
        row = st.columns(k + 1)
        row[0].markdown(f"**{html.escape(true_name)}**")
        for j in range(k):
            n = int(t.confusion[i, j])
            row[j + 1].button(str(n), key=f"tl_cm_{i}_{j}", type="primary" if i == j and n else "secondary",
                              disabled=n == 0, width="stretch",
                              on_click=st.session_state.__setitem__, args=(CELL_KEY, (i, j)))
    cell = st.session_state.get(CELL_KEY)
    if cell and cell[0] < k and cell[1] < k:
        i, j = cell
        flat = [img for name in t.classes for img in ts.classes.get(name, [])]
        val = list(t.split.val)
        picks = [flat[val[v]] for v in range(len(val))
                 if t.labels[val[v]] == i and t.val_predictions[v] == j and val[v] < len(flat)]
        verdict = "correct" if i == j else "misclassified"
        st.markdown(f"**{len(picks)} {verdict}: true “{html.escape(t.classes[i])}”, predicted "
                    f"“{html.escape(t.classes[j])}”**")
        if picks:
            st.image(picks[:16], width=120)


def use_and_download(result: TransferResult, base_name: str, use: Callable[[LoadedModel], None]) -> None:
    """The "use this model" button and the two downloads."""
    cols = st.columns(3)
    if cols[0].button("Use this model on every page", type="primary", key="tl_use", width="stretch"):
        use(result.model)
    cols[1].download_button("Download weights (.safetensors)", lambda: export(result.model, base_name)[0],
                            file_name="transfer.safetensors",
                            mime="application/octet-stream", key="tl_dl_w", width="stretch")
    labels = "\n".join(result.model.spec.categories) + "\n"
    cols[2].download_button("Download labels (.txt)", labels, file_name="labels.txt", mime="text/plain",
                            key="tl_dl_l", width="stretch")
    st.caption(f"Load them back with *Model → Your own model…*: architecture **{base_name}**, "
               "the weights file and the labels file.")
