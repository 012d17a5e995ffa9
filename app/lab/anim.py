"""Shared pieces of the lab animations: colours, step filtering, cell outlines, slider + buttons."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import plotly.graph_objects as go

from vizcore.lab.stepping import PAD, REAL, StepPlan

ACCENT, WIN = "#e4572e", "#ffd400"
WINDOW_DARK, WINDOW_LIGHT = "#111111", "#ff8c42"  # double outline: dark halo, orange line
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


def cell_names(shape: tuple[int, int], kinds: np.ndarray | None = None) -> list[list[str]]:
    """Hover name of every cell of a (H, W) grid, counted from 1 as the step line counts: "row r, col c".
    With ``kinds`` (a padded input grid) only real cells are counted; the others are named "padding"
    or "inserted zero" (transposed convolution)."""
    h, w = shape
    if kinds is None:
        return [[f"row {i + 1}, col {j + 1}" for j in range(w)] for i in range(h)]
    real = kinds == REAL
    row_no = np.cumsum(real.any(axis=1)) * real.any(axis=1)  # 1-based among rows holding real cells
    col_no = np.cumsum(real.any(axis=0)) * real.any(axis=0)
    return [[f"row {row_no[i]}, col {col_no[j]}" if real[i, j] else
             ("padding" if kinds[i, j] == PAD else "inserted zero") for j in range(w)] for i in range(h)]


def rounded(a: np.ndarray, nd: int = 3) -> list:
    """Finite values rounded to ``nd`` decimals (the number written is this value), NaN → null."""
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
    """(font, cell font) in CSS px: presenter / large-font mode reads from the back of the room."""
    return (20, 18) if big else (13, 12)


def decimals(width: int) -> int:
    """Decimals of the numbers written in cells, chosen from the grid width (cells per row)."""
    return 2 if width <= 12 else 1


EM = {".": 0.32, "-": 0.36, "−": 0.84, "∞": 0.84}  # glyph widths (em) of Verdana / DejaVu Sans


def text_em(text: str) -> float:
    """Width of ``text`` in em (digits 0.64 em: the widest of the fonts plotly falls back to)."""
    return sum(EM.get(ch, 0.64) for ch in text)


def fmt(v: float, nd: int) -> str:
    """A number as every lab picture writes it: rounded like the cells (``np.round``), ``nd`` decimals."""
    return f"{float(np.round(v, nd)):.{nd}f}"


def chars(values: np.ndarray, nd: int) -> float:
    """Width (em) of the widest number among finite ``values`` written with ``nd`` decimals."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not v.size:
        return 1.0
    return max(text_em(fmt(x, nd)) for x in (v.min(), v.max()))


def fit(em: float, max_font: int) -> dict[str, float]:
    """Trace ``meta`` read by the player: it shrinks the cell font until a number ``em`` wide fits
    the cell as drawn (any window width or zoom), never above ``max_font``."""
    return {"fit": round(float(em), 3), "max": int(max_font)}


def outline_shape(rows: np.ndarray, cols: np.ndarray, axis: str) -> dict[str, Any]:
    """The light line of the window outline (the dark line is a scatter trace around every cell):
    one SVG path on subplot ``axis`` ("" or "2", …) — the window's border, or every tap's square
    when dilation spreads them. Colour and width come from ``SHAPE_DEFAULTS`` (smaller frames)."""
    r, c = np.ravel(rows).tolist(), np.ravel(cols).tolist()  # plain ints: ~10× faster than numpy here
    h, w = max(r) - min(r) + 1, max(c) - min(c) + 1
    if len(set(zip(r, c, strict=True))) == h * w:  # a solid block of cells: its border
        r, c = [min(r)], [min(c)]
    else:
        h = w = 1
    path = "".join(f"M{x - 0.5},{y - 0.5}H{x + w - 0.5}V{y + h - 0.5}H{x - 0.5}Z"
                   for y, x in zip(r, c, strict=True))
    return dict(path=path, xref=f"x{axis}", yref=f"y{axis}")


SHAPE_DEFAULTS = dict(type="path", layer="above", line=dict(color=WINDOW_LIGHT, width=2.5))


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


def _controls(frames: list[dict], speed_ms: int, font: int) -> dict[str, Any]:
    """plotly's own slider and ▶/⏸ buttons (for plain plotly; the lab player replaces them)."""
    still = dict(mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0))
    run = dict(mode="immediate", fromcurrent=True, frame=dict(duration=speed_ms, redraw=True),
               transition=dict(duration=0))
    stop = dict(mode="immediate", frame=dict(duration=0, redraw=False), transition=dict(duration=0))
    steps = [dict(method="animate", label=str(p + 1), args=[[f["name"]], still])
             for p, f in enumerate(frames)]
    slider = dict(active=0, x=0.08, len=0.9, y=0, yanchor="top", pad=dict(t=10, b=0), ticklen=0,
                  font=dict(color="rgba(0,0,0,0)", size=2), minorticklen=0, steps=steps,
                  currentvalue=dict(prefix="step ", font=dict(size=font + 2)))
    buttons = [dict(label="▶", method="animate", args=[None, run]),
               dict(label="⏸", method="animate", args=[[None], stop])]
    menu = dict(type="buttons", direction="left", x=0, y=0, xanchor="left", yanchor="top",
                pad=dict(t=20), showactive=False, font=dict(size=font), buttons=buttons)
    return dict(sliders=[slider], updatemenus=[menu])


def finish(
    fig: go.Figure, frames: list[dict], *, height: int, margin_left: int, font: int, speed_ms: int,
    title_size: int, n_axes: int, shapes: list[dict] | None = None,
) -> Spec:
    """Common layout of every lab animation, then frames + controls + square cells. Plain plotly
    JSON: frames skip graph_objects validation (~1 s for 256 frames). The step line (each frame's
    title) is shown by the player above the figure, so the top margin only holds panel titles."""
    spec = json.loads(fig.to_json())  # layout edits on the dict: plotly's validation is slow
    spec["layout"].update(
        font=dict(size=font), height=height, margin=dict(l=margin_left, r=10, t=font + 16, b=12),
        plot_bgcolor="white",
        title=dict(text=frames[0]["layout"]["title"]["text"], font=dict(size=title_size), x=0.01,
                   y=0.999, yanchor="top"),
    )
    for note in spec["layout"].get("annotations", []):
        note.setdefault("font", {})["size"] = font + 1
    spec["frames"] = frames
    spec["layout"].update(_controls(frames, speed_ms, font), shapes=shapes or [])
    spec["layout"].setdefault("template", {}).setdefault("layout", {})["shapedefaults"] = SHAPE_DEFAULTS
    return square_axes(spec, n_axes)


def value_heatmap(z: np.ndarray, zabs: float, font: int, n_chars: float | None = None) -> go.Heatmap:
    """A diverging, zero-centred heatmap with each value written in its cell (2 decimals)."""
    return go.Heatmap(
        z=rounded(z), colorscale=DIVERGING, zmid=0, zmin=-zabs, zmax=zabs, showscale=False,
        texttemplate="%{z:.2f}", textfont=dict(size=font), xgap=2, ygap=2, hoverinfo="skip",
        meta=fit(n_chars or chars(z, 2), font),
    )
