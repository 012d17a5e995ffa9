"""Classroom lab animations: plotly figures whose frames only update the traces that change.

Pure builders (no Streamlit). ``forward_figure`` steps a convolution / pooling plan; ``backward_figure``
steps the gradient routing of pooling (``conv_backward_figure``: the static convolution gradients).
Each frame is named ``"0" … "N-1"``; ``app/lab/player.py`` plays them in the browser (buttons,
scrub bar, keys) and fits every cell's font to the cell as drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.lab.anim import (
    CHANNEL_SCALES,
    DIVERGING,
    KINDS_SCALE,
    WIN,
    WINDOW_DARK,
    Spec,
    boxes,
    cell_names,
    channel_steps,
    chars,
    decimals,
    finish,
    fit,
    fmt,
    outline_shape,
    rounded,
    sizes,
    text_em,
    value_heatmap,
)
from app.lab.backward import backward_figure, conv_backward_figure
from vizcore.lab.settings import Op
from vizcore.lab.stepping import PAD, REAL, Step, StepPlan

WIDTH_PX = 1000  # the width the page gives the animation (full main column)
BIG_WIDTH_PX = 1250  # presenter mode: the sidebar is tucked away
BIG_PLOT_PX = 440  # presenter mode: the grid's height on a 1366×768 projector (player + grid fit)

__all__ = ["backward_figure", "channel_steps", "conv_backward_figure", "forward_figure"]


def _equation(plan: StepPlan, s: Step, names: tuple[str, ...], relu: bool, nd: int) -> str:
    """The arithmetic of one step, written with ``nd`` decimals like the cells (1-based wording)."""
    n_pad = int((plan.kinds[s.rows[0], s.cols[0]] == PAD).sum()) if plan.op.is_pool else 0
    if plan.op is Op.MAX:
        r, c = np.unravel_index(s.winner, s.values.shape[1:])
        text = f"max of the window = <b>{fmt(s.value, nd)}</b> (winner: window row {r + 1}, col {c + 1})"
        return text + (" · padding (−∞) never wins" if n_pad else "")
    if plan.op.is_pool:
        k = s.values[0].size
        text = f"mean = sum {fmt(s.total, nd)} / {k} = <b>{fmt(s.value, nd)}</b>"
        return text + (f" ({n_pad} of the {k} are padding zeros)" if n_pad else "")
    parts = " + ".join(f"{names[c] if len(names) > 1 else 'Σ'} {fmt(v, nd)}"
                       for c, v in zip(s.channels, s.channel_sums, strict=True))
    text = f"{parts} + bias {fmt(s.bias, nd)} = <b>{fmt(s.value, nd)}</b>"
    return text + (f"  →  ReLU = <b>{fmt(max(s.value, 0.0), nd)}</b>" if relu else "")


def step_title(plan: StepPlan, s: Step, pos: int, n: int, names: tuple[str, ...], relu: bool,
               nd: int) -> str:
    """"step 3/36 · output row 1, col 3: …" (rows and columns counted from 1, like the class)."""
    where = f"output row {s.out[1] + 1}, col {s.out[2] + 1}"
    return f"step {pos + 1}/{n} · {where}: " + _equation(plan, s, names, relu, nd)


def _input_title(plan: StepPlan) -> str:
    if not any(plan.pad):
        return "input"
    if plan.op is Op.MAX:
        return "input (padded with −∞)"
    extra = plan.pad[1] - plan.pad[0]  # output padding (transposed) or uneven 'same' (even kernel)
    if not extra:
        return "input (padded)"
    why = "output padding" if plan.op is Op.TRANSPOSED else "'same' with an even kernel"
    return f"input (padded, +{extra} bottom/right: {why})"


@dataclass(frozen=True)
class _Look:
    """Sizes of one forward figure: cell side ``px``, fonts (CSS px), decimals of the cells."""

    px: float
    font: int
    cell_font: int
    k_font: int
    nd: int


def _kernel_width(wp: int, kw: int) -> float:
    """Width (in input cells) of the kernel and products panels: readable next to a wide input."""
    return max(1.1 * (kw + 1), 0.4 * wp if wp > 11 else 0.0)


def _wide_col(wp: int, kw: int) -> float:
    """Presenter layout with several channels: width (in input cells) of the kernel and of the
    products panel, side by side under their channel's input."""
    return max(wp / 2, kw + 0.6)


def _look(plan: StepPlan, rows: int, wo: int, big: bool) -> _Look:
    """Cells are square, so the width decides their size; presenter mode also caps the height so
    the player and the whole grid fit one 1366×768 screen. Presenter mode with several channels
    (``rows`` > 1) puts them side by side (``_positions``), so their cells stay large."""
    (hp, wp), (kh, kw) = plan.kinds.shape, plan.kernel
    font, cell_font = sizes(big)
    width = BIG_WIDTH_PX if big else WIDTH_PX
    if big and rows > 1:
        cells_wide = rows * 2 * _wide_col(wp, kw) + 1.2 * max(wo, 4) + 0.4 * rows + 1
        px = min(56, width / cells_wide, BIG_PLOT_PX / ((hp + kh + 1.1) * 1.08))
    else:
        px = min(56 if big else 40, width / (wp + 2 * _kernel_width(wp, kw) + 1.2 * max(wo, 4) + 1))
    if big and rows == 1:
        px = min(px, BIG_PLOT_PX / (rows * max(hp, kh + 1) * 1.08))
    k_font = int(min(max(px * 1.1 * (kw + 1) / kw * 0.34, 9), cell_font + 2))
    return _Look(px, font, int(min(max(px * 0.4, 8), cell_font)), k_font, decimals(wp))


def _panel_titles(plan: StepPlan, names: list[str], relu: bool, wide: bool) -> list[str]:
    """Subplot titles in make_subplots order (row by row)."""
    kernel = "kernel" if plan.op.is_conv else ("winner mask" if plan.op is Op.MAX else "weights 1/k²")
    prods = "kept value" if plan.op is Op.MAX else "products"
    output = "output" + (" after ReLU" if relu and plan.op.is_conv else "")
    if not wide:
        return [_input_title(plan), kernel, prods, output] + [""] * (3 * (len(names) - 1))
    inputs = [f"{_input_title(plan) if i == 0 else 'input'} · {n}" for i, n in enumerate(names)]
    return inputs + [output] + [t for n in names for t in (f"{kernel} · {n}", f"{prods} · {n}")]


def _positions(g: int, wide: bool) -> tuple[list[tuple[tuple[int, int], ...]], tuple[int, int]]:
    """(row, col) of each channel's input, kernel and products panels, and of the output panel.
    Normal: one row per channel. Wide (presenter, several channels): the inputs side by side on top,
    each channel's kernel and products under its input, the output on the right."""
    if wide:
        return [((1, 2 * r + 1), (2, 2 * r + 1), (2, 2 * r + 2)) for r in range(g)], (1, 2 * g + 1)
    return [((r + 1, 1), (r + 1, 2), (r + 1, 3)) for r in range(g)], (1, 4)


def _input_row(fig: go.Figure, plan: StepPlan, at: tuple[int, int], name: str, ch: int, look: _Look) -> None:
    """The padded input grid of one channel: kinds underneath, the values written on top."""
    kinds, maxpool = plan.kinds, plan.op is Op.MAX
    text = np.where(kinds == REAL, "", np.where((kinds == PAD) & maxpool, "−∞", "0"))
    fig.add_trace(go.Heatmap(
        z=kinds, zmin=0, zmax=2, colorscale=KINDS_SCALE, showscale=False, text=text.tolist(),
        texttemplate="%{text}", textfont=dict(size=look.cell_font), hoverinfo="skip", xgap=1, ygap=1,
        meta=fit(text_em("−∞" if maxpool else "0"), look.cell_font)), row=at[0], col=at[1])
    vals = np.where(kinds == REAL, plan.padded[ch], np.nan)
    fig.add_trace(go.Heatmap(
        z=rounded(vals, look.nd), colorscale=CHANNEL_SCALES.get(name, DIVERGING), showscale=False,
        texttemplate=f"%{{z:.{look.nd}f}}", textfont=dict(size=look.cell_font), xgap=1, ygap=1,
        meta=fit(chars(vals, look.nd), look.cell_font), customdata=cell_names(kinds.shape, kinds),
        hovertemplate=f"{name} %{{customdata}}: %{{z}}<extra></extra>"), row=at[0], col=at[1])


def _window_trace(width: float) -> go.Scatter:
    return go.Scatter(x=[], y=[], mode="lines", line=dict(color=WINDOW_DARK, width=width),
                      hoverinfo="skip", showlegend=False)


def _channel_row(fig: go.Figure, plan: StepPlan, idx: list[int], r: int, name: str, look: _Look,
                 at: tuple[tuple[int, int], ...]) -> tuple[list[int], str]:
    """One input channel: input grid + window, kernel and products (+ the max-pool winner) at the
    (row, col) of ``at`` (input, kernel, products). Returns the indices of the traces the frames
    update and the input panel's axis suffix."""
    first, maxpool = plan.steps[idx[0]], plan.op is Op.MAX
    (ir, ic), (kr, kc), (pr, pc) = at
    _input_row(fig, plan, at[0], name, int(first.channels[r]), look)
    traces = [len(fig.data)]
    fig.add_trace(_window_trace(6), row=ir, col=ic)
    axis = fig.data[-1].xaxis[1:]
    prods = np.stack([plan.steps[t].products[r] for t in idx])
    zabs = max(float(np.abs(prods).max()), 1e-9)
    kabs = max(float(np.abs(first.weights).max()), 1e-9)
    if maxpool:
        traces.append(len(fig.data))
    fig.add_trace(value_heatmap(first.weights[r], kabs, look.k_font), row=kr, col=kc)
    traces.append(len(fig.data))
    fig.add_trace(value_heatmap(first.products[r], zabs, look.k_font, chars(prods, 2)), row=pr, col=pc)
    if maxpool:
        traces.append(len(fig.data))
        star = dict(symbol="star", size=max(9, look.px * 0.3), color=WIN, line=dict(color="#000", width=1))
        fig.add_trace(go.Scatter(x=[], y=[], mode="markers", hoverinfo="skip", showlegend=False,
                                 marker=star), row=ir, col=ic)  # a corner badge: the number stays
    return traces, axis


def _output_panel(fig: go.Figure, plan: StepPlan, idx: list[int], shown: np.ndarray, oscale,
                  look: _Look, at: tuple[int, int]) -> list[int]:
    """The output grid, a cover hiding the cells not computed yet, and the current cell's outline."""
    conv = plan.op.is_conv
    fig.add_trace(go.Heatmap(
        z=rounded(shown, look.nd), colorscale=oscale, zmid=0 if conv else None, showscale=False,
        texttemplate=f"%{{z:.{look.nd}f}}", textfont=dict(size=look.cell_font), xgap=1, ygap=1,
        meta=fit(chars(shown, look.nd), look.cell_font), customdata=cell_names(shown.shape),
        hovertemplate="output %{customdata}: %{z}<extra></extra>"), row=at[0], col=at[1])
    order = np.full(shown.shape, len(idx), dtype=float)
    for pos, t in enumerate(idx):
        order[plan.steps[t].out[1:]] = pos
    cover = [[0, "rgba(255,255,255,0)"], [0.5, "rgba(255,255,255,0)"], [0.5, "#f1f2f4"], [1, "#f1f2f4"]]
    first = len(fig.data)
    fig.add_trace(go.Heatmap(z=order.tolist(), colorscale=cover, zmin=0.5 - len(idx),
                             zmax=0.5 + len(idx), showscale=False, hoverinfo="skip"), row=at[0], col=at[1])
    fig.add_trace(_window_trace(7), row=at[0], col=at[1])
    return [first, first + 1]


def _frame(plan: StepPlan, t: int, pos: int, n: int, traces: list[int], axes: list[str],
           title: str) -> dict:
    """One step: window outlines (dark trace + light shape), products, winner, output progress."""
    s, maxpool = plan.steps[t], plan.op is Op.MAX
    data: list = []
    shapes = []
    for r, axis in enumerate(axes[:-1]):
        xs, ys = boxes(s.rows[r], s.cols[r])
        data.append(dict(type="scatter", x=xs, y=ys))
        shapes.append(outline_shape(s.rows[r], s.cols[r], axis))
        if maxpool:
            data.append(dict(type="heatmap", z=rounded(s.weights[r])))
        data.append(dict(type="heatmap", z=rounded(s.products[r])))
        if maxpool:
            wr, wc = np.unravel_index(s.winner, s.rows[r].shape)  # top-right corner of the winner
            data.append(dict(type="scatter", x=[int(s.cols[r][wr, wc]) + 0.3],
                             y=[int(s.rows[r][wr, wc]) - 0.3]))
    data.append(dict(type="heatmap", zmin=pos + 0.5 - n, zmax=pos + 0.5 + n))
    xs, ys = boxes(np.array([s.out[1]]), np.array([s.out[2]]))
    data.append(dict(type="scatter", x=xs, y=ys))
    shapes.append(outline_shape(np.array([s.out[1]]), np.array([s.out[2]]), axes[-1]))
    return dict(name=str(pos), data=data, traces=traces,
                layout=dict(title=dict(text=title), shapes=shapes))


def forward_figure(plan: StepPlan, names: tuple[str, ...], *, channel: int = 0, relu: bool = False,
                   big: bool = False, speed_ms: int = 500) -> Spec:
    """Padded input (one row per input channel) with the window · kernel · products · output grid.

    ``names`` labels the input channels (e.g. ("R", "G", "B")). Static traces: grids and kernel;
    per frame: window outlines, products (and the max-pool kernel), output cover and highlight.
    """
    idx = channel_steps(plan, channel)
    first = plan.steps[idx[0]]
    g, kh, hp = len(first.channels), plan.kernel[0], plan.kinds.shape[0]
    out = plan.output[channel]
    relu = relu and plan.op.is_conv
    look = _look(plan, g, out.shape[1], big)
    wide = big and g > 1
    row_names = [names[ch] if ch < len(names) else str(ch) for ch in first.channels]
    fig = _subplots(plan, row_names, out.shape[1], relu, wide)
    places, out_at = _positions(g, wide)
    traces, axes = [], []
    for r, name in enumerate(row_names):
        tr, axis = _channel_row(fig, plan, idx, r, name, look, places[r])
        traces += tr
        axes.append(axis)
    oscale = DIVERGING if plan.op.is_conv else CHANNEL_SCALES.get(names[channel % len(names)], DIVERGING)
    traces += _output_panel(fig, plan, idx, np.maximum(out, 0) if relu else out, oscale, look, out_at)
    axes.append(fig.data[-1].xaxis[1:])
    frames = [_frame(plan, t, pos, len(idx), traces, axes,
                     step_title(plan, plan.steps[t], pos, len(idx), names, relu, look.nd))
              for pos, t in enumerate(idx)]
    height = (int((hp + kh + 1.1) * look.px * 1.08) + 50 + 2 * look.font if wide else
              int(g * max(hp, kh + 1) * look.px * 1.08) + 50 + look.font)
    spec = finish(fig, frames, height=height, margin_left=40, font=look.font, speed_ms=speed_ms,
                  title_size=look.font + 4, n_axes=3 * g + 1, shapes=frames[0]["layout"]["shapes"])
    for name, axis in zip(row_names, [] if wide else axes, strict=False):  # each input row says its channel
        spec["layout"][f"yaxis{axis}"]["title"] = dict(text=name)
    return spec


def _subplots(plan: StepPlan, names: list[str], wo: int, relu: bool, wide: bool) -> go.Figure:
    """The empty grid of panels (see ``_positions``)."""
    g, (kh, kw), (hp, wp) = len(names), plan.kernel, plan.kinds.shape
    titles = _panel_titles(plan, names, relu, wide)
    if wide:
        col = _wide_col(wp, kw)
        return make_subplots(
            rows=2, cols=2 * g + 1, column_widths=[col] * (2 * g) + [1.2 * max(wo, 4)],
            row_heights=[hp, kh + 0.5], horizontal_spacing=0.012, vertical_spacing=0.07,
            subplot_titles=titles,
            specs=[[s for _ in range(g) for s in ({"colspan": 2}, None)] + [{"rowspan": 2}],
                   [{} for _ in range(2 * g)] + [None]])
    kcol = _kernel_width(wp, kw)
    return make_subplots(
        rows=g, cols=4, column_widths=[wp, kcol, kcol, 1.2 * max(wo, 4)],
        horizontal_spacing=0.03, vertical_spacing=0.04, subplot_titles=titles,
        specs=[[{}, {}, {}, {"rowspan": g} if r == 0 else None] for r in range(g)])
