"""Pure figure builders (plotly / PIL), testable without Streamlit."""

from __future__ import annotations

import plotly.graph_objects as go

from vizcore.predict.topk import Prediction

FONT = dict(size=16)


def top_k_bar(pred: Prediction, *, untrained: bool = False, dataset: str = "ImageNet") -> go.Figure:
    """Horizontal bar chart of the top-k classes, best on top, probabilities in %."""
    labels = [f"{lab} ({idx})" for lab, idx in zip(pred.labels, pred.indices, strict=True)]
    probs = [100 * p for p in pred.probs]
    fig = go.Figure(go.Bar(
        x=probs[::-1], y=labels[::-1], orientation="h", text=[f"{p:.1f}%" for p in probs[::-1]],
        textposition="auto", marker_color=["#9aa5b1"] * (len(probs) - 1) + ["#e4572e"],
        hovertemplate="%{y}: %{x:.2f}%<extra></extra>",
    ))
    title = f"Top-{len(probs)} {dataset + ' ' if dataset else ''}classes"
    title += " — UNTRAINED model" if untrained else ""
    fig.update_layout(
        title=title, xaxis_title="probability (%)", xaxis_range=[0, 100], font=FONT,
        margin=dict(l=10, r=10, t=50, b=40), height=320,
    )
    return fig
