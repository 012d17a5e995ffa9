"""Classroom lab: the backward view of pooling (how the upstream gradient is routed), animated."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.figures.lab_anim import ACCENT, Spec, boxes, channel_steps, finish, sizes
from vizcore.stepping import Routing, StepPlan


def backward_figure(
    plan: StepPlan, routing: Routing, *, channel: int = 0, big: bool = False, speed_ms: int = 700
) -> Spec:
    """Pooling backward: the upstream gradient cell of each step and where it is routed to.

    Left: upstream gradient (Ho, Wo); right: the input gradient (H, W) accumulating step by step.
    """
    idx = channel_steps(plan, channel)
    font, cell = sizes(big)
    g_out = routing.grad_out[channel]
    h, w = routing.grad_in.shape[1:]
    t0, _, l0, _ = plan.pad
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[max(g_out.shape[1], 3), w],
        horizontal_spacing=0.06,
        subplot_titles=["upstream gradient ∂L/∂output", "gradient at the input ∂L/∂x"],
    )
    acc = np.zeros((h, w))
    zmax = float(routing.grad_in[channel].max()) or 1.0
    for col, z, extra in ((1, g_out, {}), (2, acc, dict(zmin=0, zmax=zmax))):
        fig.add_trace(
            go.Heatmap(z=z.tolist(), colorscale="Oranges", showscale=False, texttemplate="%{z:.3g}",
                       xgap=1, ygap=1, hoverinfo="skip", **extra),
            row=1, col=col,
        )
    for col in (1, 2):
        fig.add_trace(
            go.Scatter(
                x=[], y=[], mode="lines", line=dict(color=ACCENT, width=4), hoverinfo="skip", showlegend=False
            ),
            row=1,
            col=col,
        )
    frames = []
    for pos, t in enumerate(idx):
        s, share = plan.steps[t], routing.shares[t]
        rows, cols = s.rows[0] - t0, s.cols[0] - l0
        inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
        np.add.at(acc, (rows[inside], cols[inside]), share[inside])
        gv = g_out[s.out[1:]]
        if plan.op == "max_pool":
            wr, wc = np.unravel_index(s.winner, rows.shape)
            msg = (
                f"max: all of {gv:.3g} goes to the winner (input row {rows[wr, wc]}, col "
                f"{cols[wr, wc]}); the other cells get 0"
            )
            tr, tc = [rows[wr, wc]], [cols[wr, wc]]
        else:
            msg = f"average: {gv:.3g} / {rows.size} = {gv / rows.size:.3g} to each cell of the window"
            lost = int(rows.size - inside.sum())
            msg += f" ({lost} on padding: dropped)" if lost else ""
            tr, tc = rows[inside], cols[inside]
        ox, oy = boxes(np.array([s.out[1]]), np.array([s.out[2]]))
        ix, iy = boxes(np.asarray(tr), np.asarray(tc))
        frames.append(
            dict(
                name=str(pos),
                traces=[1, 2, 3],
                data=[
                    dict(type="heatmap", z=np.round(acc, 4).tolist()),
                    dict(type="scatter", x=ox, y=oy),
                    dict(type="scatter", x=ix, y=iy),
                ],
                layout=dict(title=dict(text=f"step {pos + 1}/{len(idx)} · {msg}")),
            )
        )
    return finish(
        fig, frames, height=int(max(h, 4) * (cell + 18) + 190), margin_left=20, font=font,
        speed_ms=speed_ms, title_size=font + 4, n_axes=2,
    )
