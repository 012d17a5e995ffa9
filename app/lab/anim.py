"""Shared pieces of the lab animations: colours, step filtering, cell outlines, slider + buttons."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import plotly.graph_objects as go

from vizcore.lab.stepping import StepPlan

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


def rounded(a: np.ndarray, nd: int = 3) -> list:
    return np.round(np.where(np.isfinite(a), a, np.nan), nd).tolist()


def boxes(rows: np.ndarray, cols: np.ndarray) -> tuple[list, list]:
    """Outline of every cell in (rows, cols): separate squares, so dilated taps show as gaps."""
    xs: list = []
    ys: list = []
    for r, c in zip(np.ravel(rows).tolist(), np.ravel(cols).tolist(), strict=True):
        xs += [c - 0.5, c + 0.5, c + 0.5, c - 0.5, c - 0.5, None]
        ys += [r - 0.5, r - 0.5, r + 0.5, r + 0.5, r - 0.5, None]
    return xs, ys


def sizes(big: bool) -> tuple[int, int]:
    return (18, 15) if big else (13, 10)


def square_axes(spec: dict[str, Any], n_axes: int) -> dict[str, Any]:
    """Hide ticks, square cells, row 0 on top — edited on the JSON dict (plotly's validated
    ``fig.layout[...]`` updates cost ~15 ms per axis)."""
    lay = spec["layout"]
    for i in range(1, n_axes + 1):
        sx = "" if i == 1 else str(i)
        common = dict(showgrid=False, zeroline=False, showticklabels=False, ticks="", constrain="domain")
        lay.setdefault(f"xaxis{sx}", {}).update(common)
        lay.setdefault(f"yaxis{sx}", {}).update(common, autorange="reversed", scaleanchor=f"x{sx}")
    return spec


Spec = dict[str, Any]


def animation(
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


def finish(
    fig: go.Figure, frames: list[dict], *, height: int, margin_left: int, font: int, speed_ms: int,
    title_size: int, n_axes: int,
) -> Spec:
    """Common layout of every lab animation, then frames + controls + square cells."""
    fig.update_layout(
        font=dict(size=font), height=height, margin=dict(l=margin_left, r=10, t=80, b=90),
        plot_bgcolor="white",
    )
    fig.update_annotations(font_size=font + 1)
    labels = [str(p + 1) for p in range(len(frames))]
    return square_axes(
        animation(fig, frames, labels, speed_ms=speed_ms, font=font, title_size=title_size), n_axes
    )


def value_heatmap(z: np.ndarray, zabs: float, font: int) -> go.Heatmap:
    """A diverging, zero-centred heatmap with each value written in its cell."""
    return go.Heatmap(
        z=rounded(z), colorscale=DIVERGING, zmid=0, zmin=-zabs, zmax=zabs, showscale=False,
        texttemplate="%{z:.2f}", textfont=dict(size=font), xgap=2, ygap=2, hoverinfo="skip",
    )
