"""Classroom lab backward views: pooling routing (animated) and convolution gradients (static)."""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.lab.anim import (
    ACCENT,
    KINDS_SCALE,
    WINDOW_DARK,
    Spec,
    boxes,
    cell_names,
    channel_steps,
    chars,
    finish,
    fit,
    rounded,
    sizes,
    square_axes,
    value_heatmap,
)
from vizcore.lab.backward import ConvGradients, Routing
from vizcore.lab.settings import Op
from vizcore.lab.stepping import PAD, REAL, Step, StepPlan

WIDTH_PX = 900  # about the main column's width on a 1366-pixel screen
PAD_TEXT = "#6b7c99"  # the gradient that lands on padding: written small and grey, then dropped


def _route(plan: StepPlan, routing: Routing, t: int, g: float, acc: np.ndarray) -> tuple[str, list, list]:
    """Add step ``t``'s share of the upstream gradient ``g`` into ``acc`` (H, W); returns the
    sentence (1-based) and the input cells that received something."""
    s, share, (h, w) = plan.steps[t], routing.shares[t], acc.shape
    rows, cols = s.rows[0] - plan.pad[0], s.cols[0] - plan.pad[2]
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    np.add.at(acc, (rows[inside], cols[inside]), share[inside])
    if plan.op is Op.MAX:
        wr, wc = np.unravel_index(s.winner, rows.shape)
        return (f"max: all of {g:.3g} goes to the winner (input row {rows[wr, wc] + 1}, col "
                f"{cols[wr, wc] + 1}); the other cells get 0", [rows[wr, wc]], [cols[wr, wc]])
    msg = f"average: {g:.3g} / {rows.size} = {g / rows.size:.3g} to each cell of the window"
    lost = int(rows.size - inside.sum())
    return msg + (f" ({lost} on padding: dropped)" if lost else ""), rows[inside], cols[inside]


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
    fig = make_subplots(rows=1, cols=2, column_widths=[max(g_out.shape[1], 3), w], horizontal_spacing=0.06,
                        subplot_titles=["upstream gradient ∂L/∂output", "gradient at the input ∂L/∂x"])
    acc = np.zeros((h, w))
    zmax = float(routing.grad_in[channel].max()) or 1.0
    for col, z, extra in ((1, g_out, {}), (2, acc, dict(zmin=0, zmax=zmax))):
        fig.add_trace(
            go.Heatmap(z=z.tolist(), colorscale="Oranges", showscale=False, texttemplate="%{z:.3g}",
                       xgap=1, ygap=1, hoverinfo="skip", meta=fit(3.0, font), textfont=dict(size=font),
                       **extra),
            row=1, col=col)
    for col in (1, 2):  # dark outlines: visible on every orange
        fig.add_trace(go.Scatter(x=[], y=[], mode="lines", line=dict(color=WINDOW_DARK, width=4),
                                 hoverinfo="skip", showlegend=False), row=1, col=col)
    frames = []
    for pos, t in enumerate(idx):
        s = plan.steps[t]
        msg, tr, tc = _route(plan, routing, t, float(g_out[s.out[1:]]), acc)
        ox, oy = boxes(np.array([s.out[1]]), np.array([s.out[2]]))
        ix, iy = boxes(np.asarray(tr), np.asarray(tc))
        title = f"step {pos + 1}/{len(idx)} · output row {s.out[1] + 1}, col {s.out[2] + 1} · {msg}"
        frames.append(dict(name=str(pos), traces=[1, 2, 3], layout=dict(title=dict(text=title)),
                           data=[dict(type="heatmap", z=np.round(acc, 4).tolist()),
                                 dict(type="scatter", x=ox, y=oy), dict(type="scatter", x=ix, y=iy)]))
    return finish(
        fig, frames, height=int(max(h, 4) * (cell + 26) + 70), margin_left=20, font=font,
        speed_ms=speed_ms, title_size=font + 4, n_axes=2,
    )


def _grid(z: np.ndarray, zabs: float, font: int, fmt: str, hover: str, custom=None,
          kinds: np.ndarray | None = None) -> go.Heatmap:
    """A value grid; ``%{text}`` in ``hover`` names the cell from 1 ("row 2, col 3", see ``cell_names``)."""
    h = value_heatmap(z, zabs, font)
    h.update(z=rounded(z, 5), texttemplate=fmt, hovertemplate=hover, hoverinfo="all", customdata=custom,
             text=cell_names(z.shape, kinds), xgap=1, ygap=1, meta=fit(chars(z, 2), font))
    return h


def _titles(c_in: int, names: tuple[str, ...], shared: bool) -> list[str]:
    """Panel titles; each row's panels say which channel they are."""
    titles = []
    for r in range(c_in):
        on = f" · {names[r] if r < len(names) else r}" if c_in > 1 else ""
        first = ("upstream gradient g = ∂L/∂y", "∂L/∂x (input)", "∂L/∂w (kernel)")
        row = [f"{t}{on}" for t in (first if r == 0 else ("g = ∂L/∂y", "∂L/∂x", "∂L/∂w"))]
        titles += ([first[0]] if r == 0 else []) + row[1:] if shared else row
    return titles


def _input_gradient(fig: go.Figure, plan: StepPlan, gp: np.ndarray, r: int, name: str,
                    look: tuple[float, int, str, list], step: Step | None) -> None:
    """∂L/∂x of input channel row ``r`` over the padded grid (Hp, Wp): the dropped gradient in grey
    italics on padding cells, the real cells' numbers, and the window of the chosen output cell."""
    xabs, cell_font, fmt, cover = look
    fig.add_trace(go.Heatmap(
        z=plan.kinds, zmin=0, zmax=2, colorscale=KINDS_SCALE, showscale=False, xgap=1, ygap=1,
        text=np.where(plan.kinds == PAD, np.char.mod("%.2g", np.round(gp, 4)), "").tolist(),
        texttemplate="<i>%{text}</i>", textfont=dict(size=max(cell_font - 2, 7), color=PAD_TEXT),
        customdata=cover,
        hovertemplate="padding: %{text} arrives here from %{customdata} "
                      "window(s) and is dropped<extra></extra>"), row=r + 1, col=2)
    fig.add_trace(_grid(np.where(plan.kinds == REAL, gp, np.nan), xabs, cell_font, fmt,
                        f"{name} %{{text}}: ∂L/∂x = %{{z:.4g}}, collected from "
                        "%{customdata} window(s)<extra></extra>", cover, plan.kinds), row=r + 1, col=2)
    if step is not None:
        cg = step.rows.shape[0]
        xs, ys = boxes(step.rows[r % cg], step.cols[r % cg])
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=ACCENT, width=3),
                                 hoverinfo="skip", showlegend=False), row=r + 1, col=2)


def conv_backward_figure(
    plan: StepPlan, grads: ConvGradients, names: tuple[str, ...], *,
    cell: tuple[int, int, int] | None = None, big: bool = False,
) -> Spec:
    """Static convolution backward view, one row per input channel: upstream gradient g (Ho, Wo) —
    shared by all rows for an ordinary convolution, one per row for depthwise —, ∂L/∂x over the
    padded grid (Hp, Wp; padding cells blue with the dropped gradient in grey) and ∂L/∂w (kh, kw).
    ``cell`` = the one output cell g is 1 at (its window is outlined), or None for g = all ones.
    """
    c_in, (hp, wp), (kh, kw) = plan.padded.shape[0], plan.kinds.shape, plan.kernel
    c_out, ho, wo = plan.output.shape
    cg = plan.steps[0].values.shape[0]
    shared = c_out == 1  # one output map fed by every input channel (else: one per channel group)
    font, _ = sizes(big)
    px = min(46 if big else 38, WIDTH_PX / (wo + wp + 1.6 * kw + 2.5))
    cell_font = int(min(max(px * (0.4 if big else 0.32), 8), font + 1))
    k_font = int(min(max(px * 1.6 * 0.3, 9), font + 4))
    fmt = "%{z:.2~f}"  # like the forward view: 2 decimals, but 0 instead of 0.00
    specs = [[{"rowspan": c_in} if shared and r == 0 else (None if shared else {}), {}, {}]
             for r in range(c_in)]
    fig = make_subplots(
        rows=c_in, cols=3, column_widths=[max(wo, 3), wp, 1.6 * kw], horizontal_spacing=0.045,
        vertical_spacing=0.05, specs=specs, subplot_titles=_titles(c_in, names, shared),
    )
    gabs = max(float(np.abs(grads.grad_out).max()), 1e-9)
    xabs = max(float(np.abs(grads.grad_padded).max()), 1e-9)
    wabs = max(float(np.abs(grads.grad_weight).max()), 1e-9)
    step = None
    if cell is not None:
        step = plan.steps[cell[0] * ho * wo + cell[1] * wo + cell[2]]
    cover = grads.coverage.tolist()
    for r in range(c_in):
        o, name = r // cg * (c_out * cg // c_in), names[r] if r < len(names) else str(r)
        if r == 0 or not shared:
            fig.add_trace(_grid(grads.grad_out[o], 1.6 * gabs, cell_font, fmt,
                                "g at output %{text}: %{z:.4g}<extra></extra>"),
                          row=r + 1, col=1)
            if cell is not None and o == cell[0]:
                xs, ys = boxes(np.array([cell[1]]), np.array([cell[2]]))
                fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=ACCENT, width=4),
                                         hoverinfo="skip", showlegend=False), row=r + 1, col=1)
        _input_gradient(fig, plan, grads.grad_padded[r], r, name, (xabs, cell_font, fmt, cover),
                        None if step is None or o != cell[0] else step)
        fig.add_trace(_grid(grads.grad_weight[o, r % cg], wabs, k_font, fmt,
                            f"{name} tap %{{text}}: ∂L/∂w = %{{z:.4g}}<extra></extra>"),
                      row=r + 1, col=3)
    fig.update_layout(font=dict(size=font), plot_bgcolor="white", showlegend=False,
                      height=int(min(c_in * max(hp, kh) * px / (1 - 0.05 * (c_in - 1)), 1500) + 70),
                      margin=dict(l=10, r=10, t=50, b=10))
    fig.update_annotations(font_size=font + 1)
    spec = square_axes(json.loads(fig.to_json()), sum(s is not None for row in specs for s in row))
    for key, axis in spec["layout"].items():  # every panel starts at the top of its row
        if key.startswith("yaxis"):
            axis["constraintoward"] = "top"
    return spec
