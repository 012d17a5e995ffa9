"""Pure plotly builders of the Architectures page: the history chart and the block drawings."""

from __future__ import annotations

import math

import plotly.graph_objects as go

from vizcore.architectures.blocks import BlockGraph, BlockNode
from vizcore.architectures.catalog import ModelRow
from vizcore.architectures.latency import Latency
from vizcore.architectures.layout import BOX_HALF_WIDTH, layout

FAMILY_COLOURS = ("#1f77b4", "#e4572e", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
                  "#e377c2", "#7f7f7f", "#bcbd22")
UNKNOWN_LABEL = "top-1 unknown"


def compact(n: float | None, unit: str = "") -> str:
    """12_345_678 → "12.3 M"; None → "–"."""
    if n is None:
        return "–"
    for div, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(n) >= div:
            return f"{n / div:.1f}{suffix}{unit}"
    return f"{n:.0f}{' ' + unit if unit else ''}"


def _hover(r: ModelRow, lat: Latency | None) -> str:
    p, s = r.published, r.structure
    top1 = f"{p.top1:.1f} %" if p.top1 is not None else "unknown"
    top5 = f" · top-5 {p.top5:.1f} %" if p.top5 is not None else ""
    lines = [
        f"<b>{r.display}</b> ({r.year}, {r.family})",
        f"ImageNet top-1: {top1}{top5}",
        f"<i>{p.weights or 'no published weights'} — {p.source}</i>",
        f"parameters: {compact(s.params) if s else '–'} (ours)" + (
            f", {compact(p.params)} (published)" if p.params else ""),
        f"MACs / image: {compact(s.macs) if s else '–'} (our count"
        + (f", {s.input_shape[-1]}×{s.input_shape[-1]}" if s else "") + ")"
        + (f" · torchvision {p.gflops:.2f} GFLOPS" if p.gflops else ""),
        f"depth: {s.depth if s else '–'} conv + linear layers",
        f"CPU latency: {lat.median_ms:.1f} ms (median, {lat.threads} threads)" if lat
        else "CPU latency: not measured yet",
        "<i>click to open this model</i>",
    ]
    return "<br>".join(lines)


def _x_positions(rows: tuple[ModelRow, ...]) -> dict[str, float]:
    """Year, spread a little when several models share one (so no point hides another)."""
    by_year: dict[int, list[str]] = {}
    for r in rows:
        by_year.setdefault(r.year, []).append(r.name)
    out = {}
    for year, names in by_year.items():
        for i, name in enumerate(names):
            out[name] = year + (i - (len(names) - 1) / 2) * 0.5
    return out


def short_name(display: str) -> str:
    """"GoogLeNet (Inception v1)" → "GoogLeNet" (the chart labels; hover keeps the full name)."""
    return display.split(" (")[0]


POSITIONS = ("top center", "bottom center", "middle right", "middle left", "top right", "top left",
             "bottom right", "bottom left")


LABEL_PX = 11  # model names on the history chart (their boxes below are estimated for this size)


def _label_box(x: float, y: float, r: float, text: str, pos: str) -> tuple[float, float, float, float]:
    """Approximate pixel box (x0, y0, x1, y1; y up) of a label at ``pos`` around a marker of radius r."""
    w, h = 6.6 * len(text) + 4, 15.0
    vert, horiz = pos.split()
    d = r if horiz == "center" or vert == "middle" else 0.7 * r  # diagonal labels hug the marker
    x0 = {"center": x - w / 2, "right": x + d, "left": x - d - w}[horiz]
    y0 = {"middle": y - h / 2, "top": y + d, "bottom": y - d - h}[vert]
    return x0, y0, x0 + w, y0 + h


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def label_positions(points: list[tuple[float, float, float, str]], *, width: float, height: float,
                    x_range: tuple[float, float], y_range: tuple[float, float]) -> list[str]:
    """A text position per point (x, y, marker size px, text) that overlaps other labels and
    markers least and stays inside the plot (greedy, in the given order)."""
    sx = width / (x_range[1] - x_range[0])
    sy = height / (y_range[1] - y_range[0])
    px = [((x - x_range[0]) * sx, (y - y_range[0]) * sy, size / 2, t) for x, y, size, t in points]
    taken: list[tuple[float, float, float, float]] = [(x - r, y - r, x + r, y + r) for x, y, r, _ in px]
    out = []
    for i, (x, y, r, text) in enumerate(px):
        def cost(pos: str, me: int = i, x: float = x, y: float = y, r: float = r, text: str = text) -> float:
            box = _label_box(x, y, r, text, pos)
            outside = (max(0.0, -box[0]) + max(0.0, box[2] - width) + max(0.0, -box[1])
                       + max(0.0, box[3] - height)) * 1000
            return outside + sum(_overlap(box, b) for j, b in enumerate(taken) if j != me)
        pos = min(POSITIONS, key=cost)
        taken.append(_label_box(x, y, r, text, pos))
        out.append(pos)
    return out


def history_chart(rows: tuple[ModelRow, ...], lats: dict[str, Latency]) -> go.Figure:
    """Year vs ImageNet top-1; marker area ∝ parameters; colour = family; unknown accuracy on a
    band below the axis. ``customdata[0]`` of every point is the model name (for clicks)."""
    known = [r.published.top1 for r in rows if r.published.top1 is not None]
    floor = (min(known) if known else 60.0) - 6
    xs = _x_positions(rows)
    biggest = max((r.structure.params for r in rows if r.structure), default=1)
    years = [r.year for r in rows]
    x_range = (min(years) - 1.2, max(years) + 1.2)
    y_range = (floor - 4, max(known or [85]) + 4)
    size = {r.name: 12 + 46 * math.sqrt((r.structure.params if r.structure else 0) / biggest) for r in rows}
    top1 = {r.name: r.published.top1 if r.published.top1 is not None else floor for r in rows}
    order = sorted(rows, key=lambda r: -size[r.name])  # big markers choose first
    where = dict(zip([r.name for r in order], label_positions(
        [(xs[r.name], top1[r.name], size[r.name], short_name(r.display)) for r in order],
        width=880, height=400, x_range=x_range, y_range=y_range), strict=True))
    fig = go.Figure()
    families = list(dict.fromkeys(r.family for r in rows))
    for i, fam in enumerate(families):
        group = [r for r in rows if r.family == fam]
        fig.add_trace(go.Scatter(
            x=[xs[r.name] for r in group], y=[top1[r.name] for r in group],
            mode="markers+text", name=fam, text=[short_name(r.display) for r in group],
            textposition=[where[r.name] for r in group], textfont={"size": LABEL_PX},
            marker={"size": [size[r.name] for r in group],
                    "color": FAMILY_COLOURS[i % len(FAMILY_COLOURS)], "opacity": 0.75,
                    "symbol": ["circle" if r.published.top1 is not None else "x" for r in group],
                    "line": {"width": 1, "color": "white"}},
            customdata=[[r.name] for r in group],
            hovertext=[_hover(r, lats.get(r.name)) for r in group], hoverinfo="text",
            # after a click plotly dims the other points: keep their names readable from the back
            unselected={"marker": {"opacity": 0.3}, "textfont": {"color": "#444"}},
            selected={"marker": {"opacity": 1.0}, "textfont": {"color": "#111"}},
        ))
    if len(known) < len(rows):
        fig.add_hline(y=floor, line_dash="dot", line_color="#9aa5b1",
                      annotation_text=UNKNOWN_LABEL, annotation_position="bottom left")
    fig.update_layout(
        height=520, margin={"l": 10, "r": 10, "t": 30, "b": 10}, clickmode="event+select",
        xaxis={"title": "year published", "dtick": 2, "range": list(x_range)},
        yaxis={"title": "ImageNet top-1 accuracy (%)", "range": list(y_range)},
        legend={"title": "family", "orientation": "h", "y": -0.15}, dragmode=False,
    )
    return fig


BOX_HALF_HEIGHT = 0.37
LEVEL_PX = 86  # vertical pixels per level of the drawing
MIN_SPAN = 2.4  # layout units shown at least (a one-column chain would otherwise fill the width)
KIND_COLOURS = {"input": "#e9ecef", "output": "#e9ecef", "add": "#c7e9c0", "concat": "#fdd0a2",
                "mul": "#dadaeb", "op": "#f1f3f5"}


def _colour(n: BlockNode) -> str:
    if n.kind in KIND_COLOURS:
        return KIND_COLOURS[n.kind]
    if any(c.depthwise for c in n.convs):
        return "#a1d99b"
    if any(len(c.out_shape) == 3 and c.out_shape[1] * c.out_shape[2] == 1 for c in n.convs):
        return "#fbb4c4"  # squeeze-excitation's 1×1 convs on a 1×1 map
    return "#c6dbef" if n.convs else "#f1f3f5"


def shape_text(shape: tuple[int, ...]) -> str:
    """(96, 28, 28) → "96×28×28"."""
    return "×".join(str(d) for d in shape) if shape else "–"


def _box_text(n: BlockNode) -> str:
    lines = [f"<b>{n.label}</b>"]
    if n.detail and len(n.detail) <= 26:
        lines.append(n.detail)
    lines.append(shape_text(n.out_shape))
    if n.params or n.macs:
        lines.append(f"{compact(n.params)} params · {compact(n.macs)} MACs")
    return "<br>".join(lines)


def block_figure(graph: BlockGraph) -> go.Figure:
    """The block as boxes and arrows; hover a box for its layers, shape, parameters and MACs."""
    lay = layout(graph)
    fig = go.Figure()
    ex, ey = [], []
    for e in lay.edges:
        ys = e.ys if e.routed else (e.ys[0] + BOX_HALF_HEIGHT, *e.ys[1:-1], e.ys[-1] - BOX_HALF_HEIGHT)
        ex += [*e.xs, None]
        ey += [*ys, None]
    fig.add_trace(go.Scatter(x=ex, y=ey, mode="lines", line={"color": "#6c757d", "width": 1.4},
                             hoverinfo="skip", showlegend=False))
    for e in lay.edges:  # arrow heads into the target box
        x1, y1 = lay.positions[e.target]
        ax, ay = (e.xs[-1], e.ys[-1]) if e.routed else (x1, y1 - BOX_HALF_HEIGHT)
        bx, by = e.xs[-2], e.ys[-2] + (BOX_HALF_HEIGHT if len(e.xs) == 2 else 0.0)
        fig.add_annotation(x=ax, y=ay, ax=bx, ay=by, xref="x", yref="y", axref="x",
                           ayref="y", showarrow=True, arrowhead=2, arrowsize=1, arrowwidth=1.2,
                           arrowcolor="#6c757d", text="", standoff=0)
    for n in graph.nodes:
        x, lv = lay.positions[n.id]
        fig.add_shape(type="rect", x0=x - BOX_HALF_WIDTH, x1=x + BOX_HALF_WIDTH, y0=lv - BOX_HALF_HEIGHT,
                      y1=lv + BOX_HALF_HEIGHT, fillcolor=_colour(n), line={"color": "#495057", "width": 1},
                      layer="below")
        fig.add_annotation(x=x, y=lv, text=_box_text(n), showarrow=False,
                           font={"size": 10, "color": "#212529"})
    fig.add_trace(go.Scatter(
        x=[lay.positions[n.id][0] for n in graph.nodes], y=[lay.positions[n.id][1] for n in graph.nodes],
        mode="markers", marker={"size": 30, "opacity": 0}, showlegend=False, hoverinfo="text",
        hovertext=[_node_hover(n) for n in graph.nodes]))
    lo, hi = lay.x_range
    lo, hi = lo - BOX_HALF_WIDTH - 0.05, hi + BOX_HALF_WIDTH + 0.05
    if hi - lo < MIN_SPAN:  # a single chain: keep the boxes a readable width, centred
        mid = (lo + hi) / 2
        lo, hi = mid - MIN_SPAN / 2, mid + MIN_SPAN / 2
    fig.update_layout(
        height=max(260, LEVEL_PX * lay.levels + 20), margin={"l": 4, "r": 4, "t": 8, "b": 8},
        xaxis={"visible": False, "range": [lo, hi], "fixedrange": True},
        yaxis={"visible": False, "range": [lay.levels - 0.5, -0.5], "fixedrange": True},
        plot_bgcolor="white", dragmode=False,
    )
    return fig


def _node_hover(n: BlockNode) -> str:
    parts = [f"<b>{n.label}</b>", n.detail, f"output {shape_text(n.out_shape)}",
             f"{n.params:,} parameters · {n.macs:,} MACs"]
    parts += [f"{c.path}: {c.macs:,} MACs" for c in n.convs]
    return "<br>".join(p for p in parts if p)
