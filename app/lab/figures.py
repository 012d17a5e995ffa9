"""Classroom lab animations: plotly figures whose frames only update the traces that change.

Pure builders (no Streamlit). ``forward_figure`` steps a convolution / pooling plan; ``backward_figure``
steps the gradient routing of pooling (``conv_backward_figure``: the static convolution gradients).
Each frame is named ``"0" … "N-1"``; a slider and play/pause buttons drive them in the browser
(``app/lab/player.py`` adds step ± buttons and keys).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.lab.anim import (
    ACCENT,
    CHANNEL_SCALES,
    DIVERGING,
    KINDS_SCALE,
    WIN,
    Spec,
    boxes,
    channel_steps,
    finish,
    rounded,
    sizes,
    value_heatmap,
)
from app.lab.backward import backward_figure, conv_backward_figure
from vizcore.lab.stepping import PAD, REAL, Step, StepPlan

WIDTH_PX = 1000  # the width the page gives the animation (full main column)

__all__ = ["backward_figure", "channel_steps", "conv_backward_figure", "forward_figure"]


def _equation(plan: StepPlan, s: Step, names: tuple[str, ...], relu: bool) -> str:
    n_pad = int((plan.kinds[s.rows[0], s.cols[0]] == PAD).sum()) if plan.op.endswith("_pool") else 0
    if plan.op == "max_pool":
        r, c = np.unravel_index(s.winner, s.values.shape[1:])
        text = f"max of the window = <b>{s.value:.2f}</b> (winner: window row {r + 1}, col {c + 1})"
        return text + (" · padding (−∞) never wins" if n_pad else "")
    if plan.op == "avg_pool":
        k = s.values[0].size
        text = f"mean = sum {s.total:.2f} / {k} = <b>{s.value:.2f}</b>"
        return text + (f" ({n_pad} of the {k} are padding zeros)" if n_pad else "")
    parts = " + ".join(
        f"{names[c] if len(names) > 1 else 'Σ'} {v:.2f}"
        for c, v in zip(s.channels, s.channel_sums, strict=True)
    )
    text = f"{parts} + bias {s.bias:.2f} = <b>{s.value:.2f}</b>"
    return text + (f"  →  ReLU = <b>{max(s.value, 0.0):.2f}</b>" if relu else "")


def _input_title(plan: StepPlan) -> str:
    if not any(plan.pad):
        return "input"
    if plan.op == "max_pool":
        return "input (padded with −∞)"
    extra = plan.pad[1] - plan.pad[0]  # output padding (transposed) or uneven 'same' (even kernel)
    if not extra:
        return "input (padded)"
    why = "output padding" if plan.op == "conv_transpose" else "'same' with an even kernel"
    return f"input (padded, +{extra} bottom/right: {why})"


def forward_figure(
    plan: StepPlan,
    names: tuple[str, ...],
    *,
    channel: int = 0,
    relu: bool = False,
    big: bool = False,
    speed_ms: int = 500,
) -> Spec:
    """Padded input (one row per input channel) with the window · kernel · products · output grid.

    ``names`` labels the input channels (e.g. ("R", "G", "B")). Static traces: grids and kernel;
    per frame: window outlines, products (and the max-pool kernel), output cover and highlight.
    """
    idx = channel_steps(plan, channel)
    first = plan.steps[idx[0]]
    g, (kh, kw) = len(first.channels), plan.kernel
    hp, wp = plan.kinds.shape
    out = plan.output[channel]
    shown = np.maximum(out, 0) if relu else out
    wo = out.shape[1]
    font, cell = sizes(big)
    fmt = "%{z:.2f}" if wp <= 12 or big else "%{z:.1f}"
    conv = not plan.op.endswith("_pool")
    maxpool = plan.op == "max_pool"
    per_row = max(hp, kh + 1)
    # cells are square, so the width decides their size: aim for ~34 px (44 px in large-font mode)
    px = min(44 if big else 34, WIDTH_PX / (wp + 2.2 * (kw + 1) + 1.2 * max(wo, 4)))
    cell_font = int(min(max(px * (0.42 if wp <= 12 else 0.36), 7), font + 2))
    k_font = int(min(max(px * 1.1 * (kw + 1) / kw * 0.34, 8), font + 3))  # kernel cells are wider
    fig = make_subplots(
        rows=g,
        cols=4,
        column_widths=[wp, 1.1 * (kw + 1), 1.1 * (kw + 1), 1.2 * max(wo, 4)],
        horizontal_spacing=0.03,
        vertical_spacing=0.04,
        specs=[[{}, {}, {}, {"rowspan": g} if r == 0 else None] for r in range(g)],
        subplot_titles=[
            _input_title(plan),
            "kernel" if conv else ("winner mask" if plan.op == "max_pool" else "weights 1/k²"),
            "products" if plan.op != "max_pool" else "kept value",
            "output" + (" after ReLU" if relu and conv else ""),
        ]
        + [""] * (3 * (g - 1)),
    )
    frame_traces: list[int] = []
    zabs = max(float(np.abs(np.stack([plan.steps[t].products for t in idx])).max()), 1e-9)
    kabs = max(float(np.abs(first.weights).max()), 1e-9)
    for r, ch in enumerate(first.channels):
        name = names[ch] if ch < len(names) else str(ch)
        kinds = plan.kinds
        fig.add_trace(
            go.Heatmap(
                z=kinds,
                zmin=0,
                zmax=2,
                colorscale=KINDS_SCALE,
                showscale=False,
                text=np.where(kinds == REAL, "", np.where((kinds == PAD) & maxpool, "−∞", "0")).tolist(),
                texttemplate="%{text}",
                textfont=dict(size=cell_font),
                hoverinfo="skip",
                xgap=1,
                ygap=1,
            ),
            row=r + 1,
            col=1,
        )
        vals = np.where(kinds == REAL, plan.padded[ch], np.nan)
        fig.add_trace(
            go.Heatmap(
                z=rounded(vals),
                colorscale=CHANNEL_SCALES.get(name, DIVERGING),
                showscale=False,
                texttemplate=fmt,
                textfont=dict(size=cell_font),
                xgap=1,
                ygap=1,
                hovertemplate=f"{name} row %{{y}}, col %{{x}}: %{{z:.3f}}<extra></extra>",
            ),
            row=r + 1,
            col=1,
        )
        frame_traces.append(len(fig.data))
        fig.add_trace(
            go.Scatter(
                x=[], y=[], mode="lines", line=dict(color=ACCENT, width=3), hoverinfo="skip", showlegend=False
            ),
            row=r + 1,
            col=1,
        )
        if maxpool:
            frame_traces.append(len(fig.data))
        fig.add_trace(value_heatmap(first.weights[r], kabs, k_font), row=r + 1, col=2)
        frame_traces.append(len(fig.data))
        fig.add_trace(value_heatmap(first.products[r], zabs, k_font), row=r + 1, col=3)
        if maxpool:
            frame_traces.append(len(fig.data))
            fig.add_trace(
                go.Scatter(
                    x=[],
                    y=[],
                    mode="markers",
                    hoverinfo="skip",
                    showlegend=False,
                    marker=dict(symbol="star", size=max(9, cell * 0.42), color=WIN,
                                line=dict(color="#000", width=1)),  # a corner badge: the number stays
                ),
                row=r + 1,
                col=1,
            )
        fig.update_yaxes(title_text=name, showticklabels=False, row=r + 1, col=1)
    oscale = DIVERGING if conv else CHANNEL_SCALES.get(names[channel % len(names)], DIVERGING)
    fig.add_trace(
        go.Heatmap(
            z=rounded(shown),
            colorscale=oscale,
            zmid=0 if conv else None,
            showscale=False,
            texttemplate=fmt,
            textfont=dict(size=cell_font),
            xgap=1,
            ygap=1,
            hovertemplate="row %{y}, col %{x}: %{z:.3f}<extra></extra>",
        ),
        row=1,
        col=4,
    )
    order = np.full(out.shape, len(idx), dtype=float)
    for pos, t in enumerate(idx):
        order[plan.steps[t].out[1:]] = pos
    cover_scale = [[0, "rgba(255,255,255,0)"], [0.5, "rgba(255,255,255,0)"], [0.5, "#f1f2f4"], [1, "#f1f2f4"]]
    frame_traces.append(len(fig.data))
    fig.add_trace(
        go.Heatmap(
            z=order.tolist(),
            colorscale=cover_scale,
            zmin=0.5 - len(idx),
            zmax=0.5 + len(idx),
            showscale=False,
            hoverinfo="skip",
        ),
        row=1,
        col=4,
    )
    frame_traces.append(len(fig.data))
    fig.add_trace(
        go.Scatter(
            x=[], y=[], mode="lines", line=dict(color=ACCENT, width=4), hoverinfo="skip", showlegend=False
        ),
        row=1,
        col=4,
    )
    frames = []
    for pos, t in enumerate(idx):
        s = plan.steps[t]
        data: list = []
        for r in range(g):
            xs, ys = boxes(s.rows[r], s.cols[r])
            data.append(dict(type="scatter", x=xs, y=ys))
            if maxpool:
                data.append(dict(type="heatmap", z=rounded(s.weights[r])))
            data.append(dict(type="heatmap", z=rounded(s.products[r])))
            if maxpool:
                wr, wc = np.unravel_index(s.winner, s.rows[r].shape)
                data.append(dict(type="scatter", x=[int(s.cols[r][wr, wc]) + 0.3],  # top-right corner
                                 y=[int(s.rows[r][wr, wc]) - 0.3]))
        data.append(dict(type="heatmap", zmin=pos + 0.5 - len(idx), zmax=pos + 0.5 + len(idx)))
        xs, ys = boxes(np.array([s.out[1]]), np.array([s.out[2]]))
        data.append(dict(type="scatter", x=xs, y=ys))
        title = f"step {pos + 1}/{len(idx)} · output[{s.out[1]}, {s.out[2]}]: " + _equation(
            plan, s, names, relu and conv
        )
        frames.append(
            dict(name=str(pos), data=data, traces=frame_traces, layout=dict(title=dict(text=title)))
        )
    return finish(
        fig, frames, height=int(min(g * per_row * px * 1.08, 1500) + 170), margin_left=40, font=font,
        speed_ms=speed_ms, title_size=font + 5, n_axes=3 * g + 1,
    )
