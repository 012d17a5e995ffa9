"""Pure plotly builders for the Transfer learning page."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from vizcore.transfer import EpochStats

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#bcbd22", "#7f7f7f")
FONT = {"size": 16}


def curves(history: Sequence[EpochStats], best_epoch: int | None = None) -> go.Figure:
    """Loss and accuracy per epoch, training (solid) vs validation (dashed)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss (lower is better)", "Accuracy"))
    epochs = [h.epoch for h in history]
    for col, (tr, va) in enumerate((("train_loss", "val_loss"), ("train_acc", "val_acc")), start=1):
        for attr, name, dash, colour in ((tr, "training", "solid", "#1f77b4"),
                                         (va, "validation", "dash", "#d62728")):
            fig.add_trace(go.Scatter(x=epochs, y=[getattr(h, attr) for h in history], name=name,
                                     mode="lines+markers" if len(epochs) < 40 else "lines",
                                     line={"dash": dash, "color": colour, "width": 3},
                                     showlegend=col == 1), row=1, col=col)
        if best_epoch:
            fig.add_vline(x=best_epoch, line={"color": "#555", "dash": "dot"}, row=1, col=col)
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%", row=1, col=2)
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(height=340, margin={"l": 50, "r": 20, "t": 50, "b": 40}, font=FONT,
                      legend={"orientation": "h", "y": -0.25})
    return fig


def embedding_map(before: np.ndarray, after: np.ndarray, labels: np.ndarray, classes: Sequence[str],
                  val: Sequence[int]) -> go.Figure:
    """Two PCA maps of the (N, 2) embeddings before and after training, coloured by class;
    validation images drawn as open circles."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Before: pretrained features",
                                                        "After: the trained model's features"))
    is_val = np.zeros(len(labels), dtype=bool)
    is_val[list(val)] = True
    for col, pts in enumerate((before, after), start=1):
        for k, name in enumerate(classes):
            for held_out in (False, True):
                sel = (labels == k) & (is_val == held_out)
                fig.add_trace(go.Scatter(
                    x=pts[sel, 0], y=pts[sel, 1], mode="markers",
                    name=f"{name} ({'validation' if held_out else 'training'})",
                    legendgroup=name, showlegend=col == 1 and not held_out,
                    marker={"size": 12, "color": PALETTE[k % len(PALETTE)],
                            "symbol": "circle-open" if held_out else "circle",
                            "line": {"width": 2}}), row=1, col=col)
    fig.update_xaxes(showticklabels=False, title_text="1st principal axis")
    fig.update_yaxes(showticklabels=False, title_text="2nd principal axis")
    fig.update_layout(height=380, margin={"l": 40, "r": 20, "t": 50, "b": 40}, font=FONT,
                      legend={"orientation": "h", "y": -0.15})
    return fig
