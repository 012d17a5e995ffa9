"""Classroom lab animations: plotly figures whose frames only update the traces that change.

Pure builders (no Streamlit). ``forward_figure`` steps a convolution / pooling plan; ``backward_figure``
steps the gradient routing of pooling. Each frame is named ``"0" … "N-1"``; a slider and play/pause
buttons drive them in the browser (``app/figures/lab_player.py`` adds step ± buttons and keys).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from vizcore.stepping import REAL, Routing, Step, StepPlan

ACCENT, WIN = "#e4572e", "#ffd400"
KINDS_SCALE = [[0, "#ffffff"], [0.5, "#dbe6f5"], [1, "#fff1c2"]]  # real · padding · inserted zero
DIVERGING = "RdBu_r"
CHANNEL_SCALES = {
    "R": [[0, "#000"], [1, "#ff5a5a"]],
    "G": [[0, "#000"], [1, "#4fd16b"]],
    "B": [[0, "#000"], [1, "#5a8cff"]],
    "gray": [[0, "#000"], [1, "#fff"]],
}


def channel_steps(plan: StepPlan, channel: int) -> list[int]:
    """Indices of the steps that compute output channel ``channel`` (row-major)."""
    idx = [t for t, s in enumerate(plan.steps) if s.out[0] == channel]
    if not idx:
        raise ValueError(f"Output channel {channel} does not exist (0–{plan.output.shape[0] - 1}).")
    return idx


def _r(a: np.ndarray, nd: int = 3) -> list:
    return np.round(np.where(np.isfinite(a), a, np.nan), nd).tolist()


def _boxes(rows: np.ndarray, cols: np.ndarray) -> tuple[list, list]:
    """Outline of every cell in (rows, cols): separate squares, so dilated taps show as gaps."""
    xs: list = []
    ys: list = []
    for r, c in zip(np.ravel(rows).tolist(), np.ravel(cols).tolist(), strict=True):
        xs += [c - 0.5, c + 0.5, c + 0.5, c - 0.5, c - 0.5, None]
        ys += [r - 0.5, r - 0.5, r + 0.5, r + 0.5, r - 0.5, None]
    return xs, ys


def _sizes(big: bool) -> tuple[int, int]:
    return (18, 15) if big else (13, 10)


def _axes(fig: go.Figure, n_axes: int) -> None:
    for i in range(1, n_axes + 1):
        sx = "" if i == 1 else str(i)
        fig.layout[f"xaxis{sx}"].update(
            showgrid=False, zeroline=False, showticklabels=False, ticks="", constrain="domain"
        )
        fig.layout[f"yaxis{sx}"].update(
            showgrid=False,
            zeroline=False,
            showticklabels=False,
            autorange="reversed",
            scaleanchor=f"x{sx}",
            constrain="domain",
            ticks="",
        )


Spec = dict[str, Any]


def _animation(
    fig: go.Figure, frames: list[dict], labels: list[str], *, speed_ms: int, font: int, title_size: int
) -> Spec:
    """Plain plotly JSON with frames, slider and play/pause (frames skip graph_objects validation,
    which would cost ~1 s for 256 frames)."""
    fig.update_layout(
        title=dict(text=frames[0]["layout"]["title"]["text"], font=dict(size=title_size), x=0.01)
    )
    spec = json.loads(fig.to_json())
    spec["frames"] = frames
    step_args = dict(mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0))
    spec["layout"].update(
        sliders=[
            dict(
                active=0,
                x=0.08,
                len=0.9,
                y=0,
                yanchor="top",
                pad=dict(t=10, b=0),
                font=dict(color="rgba(0,0,0,0)", size=2),
                ticklen=0,
                minorticklen=0,
                currentvalue=dict(prefix="step ", font=dict(size=font + 2)),
                steps=[
                    dict(method="animate", label=lab, args=[[f["name"]], step_args])
                    for f, lab in zip(frames, labels, strict=True)
                ],
            )
        ],
        updatemenus=[
            dict(
                type="buttons",
                direction="left",
                x=0,
                y=0,
                xanchor="left",
                yanchor="top",
                pad=dict(t=20),
                showactive=False,
                font=dict(size=font),
                buttons=[
                    dict(
                        label="▶",
                        method="animate",
                        args=[
                            None,
                            dict(
                                mode="immediate",
                                fromcurrent=True,
                                frame=dict(duration=speed_ms, redraw=True),
                                transition=dict(duration=0),
                            ),
                        ],
                    ),
                    dict(
                        label="⏸",
                        method="animate",
                        args=[
                            [None],
                            dict(
                                mode="immediate",
                                frame=dict(duration=0, redraw=False),
                                transition=dict(duration=0),
                            ),
                        ],
                    ),
                ],
            )
        ],
    )
    return spec


def _equation(plan: StepPlan, s: Step, names: tuple[str, ...], relu: bool) -> str:
    if plan.op == "max_pool":
        r, c = np.unravel_index(s.winner, s.values.shape[1:])
        return f"max of the window = <b>{s.value:.2f}</b> (winner: window row {r + 1}, col {c + 1})"
    if plan.op == "avg_pool":
        k = s.values[0].size
        return f"mean = sum {s.total:.2f} / {k} = <b>{s.value:.2f}</b>"
    parts = " + ".join(
        f"{names[c] if len(names) > 1 else 'Σ'} {v:.2f}"
        for c, v in zip(s.channels, s.channel_sums, strict=True)
    )
    text = f"{parts} + bias {s.bias:.2f} = <b>{s.value:.2f}</b>"
    return text + (f"  →  ReLU = <b>{max(s.value, 0.0):.2f}</b>" if relu else "")


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
    font, cell = _sizes(big)
    fmt = "%{z:.2f}" if wp <= 12 or big else "%{z:.1f}"
    conv = not plan.op.endswith("_pool")
    maxpool = plan.op == "max_pool"
    per_row = max(hp, kh + 1)
    fig = make_subplots(
        rows=g,
        cols=4,
        column_widths=[wp, 1.1 * (kw + 1), 1.1 * (kw + 1), 1.2 * max(wo, 4)],
        horizontal_spacing=0.03,
        vertical_spacing=0.04,
        specs=[[{}, {}, {}, {"rowspan": g} if r == 0 else None] for r in range(g)],
        subplot_titles=[
            "input (padded)" if any(plan.pad) else "input",
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
                text=np.where(kinds == REAL, "", "0").tolist(),
                texttemplate="%{text}",
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
                z=_r(vals),
                colorscale=CHANNEL_SCALES.get(name, DIVERGING),
                showscale=False,
                texttemplate=fmt,
                textfont=dict(size=cell),
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
        fig.add_trace(
            go.Heatmap(
                z=_r(first.weights[r]),
                colorscale=DIVERGING,
                zmid=0,
                zmin=-kabs,
                zmax=kabs,
                showscale=False,
                texttemplate="%{z:.2f}",
                textfont=dict(size=font + 1),
                xgap=2,
                ygap=2,
                hoverinfo="skip",
            ),
            row=r + 1,
            col=2,
        )
        frame_traces.append(len(fig.data))
        fig.add_trace(
            go.Heatmap(
                z=_r(first.products[r]),
                colorscale=DIVERGING,
                zmid=0,
                zmin=-zabs,
                zmax=zabs,
                showscale=False,
                texttemplate="%{z:.2f}",
                textfont=dict(size=font + 1),
                xgap=2,
                ygap=2,
                hoverinfo="skip",
            ),
            row=r + 1,
            col=3,
        )
        if maxpool:
            frame_traces.append(len(fig.data))
            fig.add_trace(
                go.Scatter(
                    x=[],
                    y=[],
                    mode="markers",
                    hoverinfo="skip",
                    showlegend=False,
                    marker=dict(symbol="star", size=cell + 8, color=WIN, line=dict(color="#000", width=1)),
                ),
                row=r + 1,
                col=1,
            )
        fig.update_yaxes(title_text=name, showticklabels=False, row=r + 1, col=1)
    oscale = DIVERGING if conv else CHANNEL_SCALES.get(names[channel % len(names)], DIVERGING)
    fig.add_trace(
        go.Heatmap(
            z=_r(shown),
            colorscale=oscale,
            zmid=0 if conv else None,
            showscale=False,
            texttemplate=fmt,
            textfont=dict(size=cell),
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
            xs, ys = _boxes(s.rows[r], s.cols[r])
            data.append(dict(type="scatter", x=xs, y=ys))
            if maxpool:
                data.append(dict(type="heatmap", z=_r(s.weights[r])))
            data.append(dict(type="heatmap", z=_r(s.products[r])))
            if maxpool:
                wr, wc = np.unravel_index(s.winner, s.rows[r].shape)
                data.append(dict(type="scatter", x=[int(s.cols[r][wr, wc])], y=[int(s.rows[r][wr, wc])]))
        data.append(dict(type="heatmap", zmin=pos + 0.5 - len(idx), zmax=pos + 0.5 + len(idx)))
        xs, ys = _boxes(np.array([s.out[1]]), np.array([s.out[2]]))
        data.append(dict(type="scatter", x=xs, y=ys))
        title = f"step {pos + 1}/{len(idx)} · output[{s.out[1]}, {s.out[2]}]: " + _equation(
            plan, s, names, relu and conv
        )
        frames.append(
            dict(name=str(pos), data=data, traces=frame_traces, layout=dict(title=dict(text=title)))
        )
    fig.update_layout(
        font=dict(size=font),
        height=int(min(g * per_row * (cell + 22), 1500) + 170),
        margin=dict(l=40, r=10, t=80, b=90),
        plot_bgcolor="white",
    )
    fig.update_annotations(font_size=font + 1)
    _axes(fig, 3 * g + 1)
    return _animation(
        fig, frames, [str(p + 1) for p in range(len(idx))], speed_ms=speed_ms, font=font, title_size=font + 5
    )


def backward_figure(
    plan: StepPlan, routing: Routing, *, channel: int = 0, big: bool = False, speed_ms: int = 700
) -> Spec:
    """Pooling backward: the upstream gradient cell of each step and where it is routed to.

    Left: upstream gradient (Ho, Wo); right: the input gradient (H, W) accumulating step by step.
    """
    idx = channel_steps(plan, channel)
    font, cell = _sizes(big)
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
    fig.add_trace(
        go.Heatmap(
            z=g_out.tolist(),
            colorscale="Oranges",
            showscale=False,
            texttemplate="%{z:.3g}",
            xgap=1,
            ygap=1,
            hoverinfo="skip",
        ),
        row=1,
        col=1,
    )
    acc = np.zeros((h, w))
    fig.add_trace(
        go.Heatmap(
            z=acc.tolist(),
            colorscale="Oranges",
            zmin=0,
            zmax=float(routing.grad_in[channel].max()) or 1.0,
            showscale=False,
            texttemplate="%{z:.3g}",
            xgap=1,
            ygap=1,
            hoverinfo="skip",
        ),
        row=1,
        col=2,
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
            tr, tc = rows[inside], cols[inside]
        ox, oy = _boxes(np.array([s.out[1]]), np.array([s.out[2]]))
        ix, iy = _boxes(np.asarray(tr), np.asarray(tc))
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
    fig.update_layout(
        font=dict(size=font),
        height=int(max(h, 4) * (cell + 18) + 190),
        margin=dict(l=20, r=10, t=80, b=90),
        plot_bgcolor="white",
    )
    fig.update_annotations(font_size=font + 1)
    _axes(fig, 2)
    return _animation(
        fig, frames, [str(p + 1) for p in range(len(idx))], speed_ms=speed_ms, font=font, title_size=font + 4
    )
