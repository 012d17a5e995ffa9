"""Pure figure builders for the "Inside the network" pages (plotly / PIL / pandas, no Streamlit).

Big pictures are PNGs: the feature-map mosaic is a palette PNG (1 byte per pixel, the colormap as
palette), so a 64-channel mosaic stays far below 300 KB.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from PIL import Image, ImageDraw
from plotly.subplots import make_subplots

from vizcore.core.render import colorize, colormap_lut, normalise01, png_bytes, resize_map
from vizcore.inside.architecture import ArchTable
from vizcore.inside.features import FeatureMaps
from vizcore.inside.filters import FilterBank

NORMS = ("per map", "per layer", "global")
SORTS = ("index", "mean", "max")
CMAPS = ("viridis", "inferno", "gray", "turbo")
PAD = 2
LEVELS = 64  # colours per map: smooth to the eye, and a 64-colour PNG compresses ~2× better
WHITE = LEVELS  # palette index reserved for the gaps between tiles


@dataclass(frozen=True)
class Grid:
    """Where the tiles of a mosaic are: tile ``i`` shows channel ``order[i]``."""

    order: np.ndarray
    cols: int
    tile: int
    pad: int = PAD
    tile_h: int | None = None  # for non-square tiles (``tile`` is then the width)

    def index_at(self, x: float, y: float) -> int | None:
        """Channel under pixel (x, y) of the full-size mosaic, or None in a gap / outside."""
        step_x, step_y = self.tile + self.pad, (self.tile_h or self.tile) + self.pad
        c, r = int((x - self.pad) // step_x), int((y - self.pad) // step_y)
        i = r * self.cols + c
        return int(self.order[i]) if 0 <= c < self.cols and 0 <= i < len(self.order) else None


def channel_order(fm: FeatureMaps, sort: str) -> np.ndarray:
    """Channel indices: ``index`` order or by mean / max activation, largest first."""
    if sort == "index":
        return np.arange(fm.maps.shape[0])
    key = {"mean": fm.channel_mean, "max": fm.channel_max}.get(sort)
    if key is None:
        raise ValueError(f"unknown sort {sort!r}; use one of {SORTS}")
    return np.argsort(-key, kind="stable")


def mosaic_grid(n: int, h: int, order: np.ndarray, *, width: int = 600) -> Grid:
    """Tile size: the mosaic is at most ``width`` px wide; small maps are enlarged up to 64 px."""
    cols = math.ceil(math.sqrt(n))
    tile = max(6, min(width // cols - PAD, max(h, 64)))
    return Grid(order, cols, tile)


def feature_mosaic_image(fm: FeatureMaps, *, norm: str = "per map", sort: str = "index",
                         cmap: str = "viridis",
                         global_range: tuple[float, float] | None = None) -> tuple[Image.Image, Grid]:
    """All channels as one palette image (mode "P") and the grid that maps clicks to channels.

    ``norm="global"`` needs ``global_range`` (``vizcore.inside.features.activation_range``)."""
    if norm not in NORMS:
        raise ValueError(f"unknown normalisation {norm!r}; use one of {NORMS}")
    if norm == "global" and global_range is None:
        raise ValueError("global normalisation needs the activation range of the whole network")
    scale = {"per map": (None, None), "per layer": fm.layer_range, "global": global_range}[norm]
    order = channel_order(fm, sort)
    c, h, _ = fm.maps.shape
    grid = mosaic_grid(c, h, order)
    rows = math.ceil(c / grid.cols)
    step = grid.tile + PAD
    canvas = np.full((rows * step + PAD, grid.cols * step + PAD), WHITE, dtype=np.uint8)
    for i, ch in enumerate(order):
        m = fm.maps[ch]
        lo, hi = scale
        q = normalise01(m, lo=lo, hi=hi)
        if grid.tile < h:  # shrink smoothly, enlarge with visible units
            q = resize_map(q, (grid.tile, grid.tile))
        elif grid.tile > h:
            q = np.asarray(Image.fromarray(q, mode="F").resize((grid.tile, grid.tile),
                                                                Image.Resampling.NEAREST))
        r, cc = divmod(i, grid.cols)
        canvas[PAD + r * step: PAD + r * step + grid.tile, PAD + cc * step: PAD + cc * step + grid.tile] = (
            (q * (LEVELS - 1)).round().astype(np.uint8))
    img = Image.fromarray(canvas, mode="L").convert("P")
    lut = colormap_lut(cmap)[np.linspace(0, 255, LEVELS).round().astype(int)]
    img.putpalette(np.vstack([lut, [[255, 255, 255]]]).astype(np.uint8).ravel().tolist())
    return img, grid


def feature_mosaic(fm: FeatureMaps, *, norm: str = "per map", sort: str = "index",
                   cmap: str = "viridis", global_range: tuple[float, float] | None = None) -> bytes:
    """The mosaic as PNG bytes (what the page sends)."""
    return png_bytes(feature_mosaic_image(fm, norm=norm, sort=sort, cmap=cmap, global_range=global_range)[0])


def channel_overlay(fm: FeatureMaps, channel: int, base: Image.Image, *, cmap: str = "viridis",
                    alpha: float = 0.55, height: int = 440) -> go.Figure:
    """One channel large: the input image with the map blended over it (PNG), and an invisible
    heatmap on top whose hover shows the activation value of each unit."""
    m = fm.maps[channel]
    h, w = m.shape
    base = base.convert("RGB")  # grayscale models' crops are mode L
    size = base.size[0]
    colour = colorize(resize_map(m, (size, size)), cmap)
    blend = (1 - alpha) * np.asarray(base, np.float32) + alpha * colour.astype(np.float32)
    fig = go.Figure(go.Image(source=_data_url(Image.fromarray(blend.clip(0, 255).astype(np.uint8))),
                             hoverinfo="skip"))
    step = size / w
    fig.add_trace(go.Heatmap(
        z=np.round(m, 3), x0=step / 2 - 0.5, dx=step, y0=step / 2 - 0.5, dy=step, opacity=0,
        showscale=False, hovertemplate="unit (row %{customdata[0]}, col %{customdata[1]})<br>"
        "activation %{z:.3f}<extra></extra>",
        customdata=np.dstack(np.mgrid[0:h, 0:w]),
    ))
    fig.update_layout(margin=dict(l=0, r=0, t=30, b=0), height=height,
                      title=f"channel {channel} · {h}×{w} map over the input")
    fig.update_xaxes(visible=False, range=[-0.5, size - 0.5])
    fig.update_yaxes(visible=False, range=[size - 0.5, -0.5], scaleanchor="x", constrain="domain",
                     constraintoward="top")  # no gap between the title and a narrow column's picture
    return fig


def _data_url(img: Image.Image) -> str:
    import base64

    return "data:image/png;base64," + base64.b64encode(png_bytes(img)).decode()


def stage_thumb(m: np.ndarray, *, size: int = 120, cmap: str = "viridis") -> np.ndarray:
    """A stage's most active map as a (size, size, 3) uint8 thumbnail (nearest upscaling)."""
    img = Image.fromarray(colorize(m, cmap))
    return np.asarray(img.resize((size, size), Image.Resampling.NEAREST))


def filter_values(values: np.ndarray, title: str, *, zmax: float | None = None) -> go.Figure:
    """(kh, kw) weights as a heatmap with the numbers written in (projector-readable)."""
    kh, kw = values.shape
    zmax = zmax or float(np.abs(values).max()) or 1.0
    fig = go.Figure(go.Heatmap(
        z=values, zmin=-zmax, zmax=zmax, colorscale="RdBu_r", text=np.round(values, 2),
        texttemplate="%{text:.2f}", textfont=dict(size=max(10, 22 - 2 * kw)),
        hovertemplate="row %{y}, col %{x}: %{z:.4f}<extra></extra>", showscale=False,
    ))
    fig.update_layout(title=title, height=min(520, max(220, 48 * kh + 60)),
                      margin=dict(l=4, r=4, t=36, b=4))
    fig.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain", showticklabels=False)
    fig.update_xaxes(constrain="domain", showticklabels=False)
    return fig


def filter_mosaic(tiles: np.ndarray, *, cols: int) -> tuple[Image.Image, Grid]:
    """Filter tiles (N, t, t[w], 3) → grid image (neutral grey gaps) and its click grid."""
    n, th, tw = tiles.shape[:3]
    rows = math.ceil(n / cols)
    canvas = np.full((rows * (th + PAD) + PAD, cols * (tw + PAD) + PAD, 3), 245, np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = PAD + r * (th + PAD), PAD + c * (tw + PAD)
        canvas[y:y + th, x:x + tw] = tiles[i]
    return Image.fromarray(canvas), Grid(np.arange(n), cols, tw, tile_h=th)


def norm_image(matrix: np.ndarray, *, cell: int = 4) -> Image.Image:
    """(O, I) slice norms as a picture: one row per filter, one column per input channel."""
    o, i = matrix.shape
    scale = max(1, min(cell, 900 // max(i, 1)))
    img = Image.fromarray(colorize(matrix, "inferno"))
    return img.resize((i * scale, o * max(1, min(cell, 600 // max(o, 1)))), Image.Resampling.NEAREST)


def filter_norms_bar(bank: FilterBank, order: np.ndarray) -> go.Figure:
    """Bar chart of filter norms in display order."""
    fig = go.Figure(go.Bar(x=[str(i) for i in order], y=bank.norms[order], marker_color="#4c78a8",
                           hovertemplate="filter %{x}: norm %{y:.3f}<extra></extra>"))
    fig.update_layout(height=220, margin=dict(l=10, r=10, t=30, b=10), title="L2 norm per filter",
                      xaxis=dict(type="category", showticklabels=len(order) <= 64))
    return fig


def arch_frame(table: ArchTable) -> pd.DataFrame:
    """The architecture table as a DataFrame (one row per executed layer / join)."""
    return pd.DataFrame([{
        "#": r.index, "layer": r.name, "type": r.type, "labels": ", ".join(r.labels),
        "output": "×".join(str(d) for d in r.out_shape),
        "RF (px)": "global" if r.global_context else r.rf_size, "jump": r.rf_jump,
        "params": r.params, "MACs": r.macs, "kernel": r.kernel, "stride": r.stride,
        "padding": r.padding, "dilation": r.dilation, "groups": r.groups,
    } for r in table.rows]).astype({"RF (px)": str})


def depth_chart(table: ArchTable) -> go.Figure:
    """Spatial size, channels and receptive field vs depth (one point per conv layer)."""
    rows = [r for r in table.rows if r.type == "Conv2d" and len(r.out_shape) == 3]
    x = list(range(1, len(rows) + 1))
    names = [r.name for r in rows]
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=("spatial size (px)", "channels", "receptive field (px)"))
    for k, (vals, colour) in enumerate([([r.out_shape[1] for r in rows], "#4c78a8"),
                                        ([r.out_shape[0] for r in rows], "#f58518"),
                                        ([r.rf_size for r in rows], "#54a24b")], start=1):
        fig.add_trace(go.Scatter(x=x, y=vals, mode="lines+markers", line_shape="hv", text=names,
                                 marker=dict(size=4, color=colour), line=dict(color=colour),
                                 hovertemplate="conv #%{x} %{text}: %{y}<extra></extra>"), row=k, col=1)
    fig.add_hline(y=table.input_size, line_dash="dot", row=3, col=1,
                  annotation_text=f"input {table.input_size} px", annotation_position="top left")
    fig.update_layout(height=560, showlegend=False, margin=dict(l=10, r=10, t=40, b=30))
    fig.update_xaxes(title_text="conv layer (depth)", row=3, col=1)
    return fig


def rf_views(base: Image.Image, box: tuple[int, int, int, int], grad: np.ndarray,
             ) -> tuple[Image.Image, Image.Image]:
    """(input with the theoretical RF box, effective-RF heatmap over a dimmed input with the box)."""
    top, left, bottom, right = box
    base = base.convert("RGB")  # grayscale models' crops are mode L
    boxed = base.copy()
    draw = ImageDraw.Draw(boxed)
    draw.rectangle((left, top, right - 1, bottom - 1), outline=(255, 40, 40), width=3)
    g = np.sqrt(grad)  # square root so the tails of the gradient stay visible
    dim = (0.35 * np.asarray(base, np.float32)).astype(np.uint8)
    heat = colorize(g, "inferno", lo=0.0, hi=1.0).astype(np.float32)
    mix = Image.fromarray(np.maximum(dim, heat).clip(0, 255).astype(np.uint8))
    ImageDraw.Draw(mix).rectangle((left, top, right - 1, bottom - 1), outline=(80, 200, 255), width=2)
    return boxed, mix


def clickable_map(m: np.ndarray, unit: tuple[int, int] | None, *, size: int = 448,
                  cmap: str = "viridis") -> Image.Image:
    """A (H, W) feature map enlarged to ``size`` px (nearest) with the chosen unit marked so it reads
    from the back of a classroom: a thick white-and-black ring around the unit (≥ 1/8 of the map across)
    and tick marks on all four edges pointing at its row and column."""
    h, w = m.shape
    img = Image.fromarray(colorize(m, cmap)).resize((size, size), Image.Resampling.NEAREST)
    if unit is None:
        return img
    r, c = unit
    sy, sx = size / h, size / w
    cx, cy = (c + 0.5) * sx, (r + 0.5) * sy
    half = max(size / 16, 0.5 * max(sx, sy) + 8)  # ≥ 1/8 of the map across
    draw = ImageDraw.Draw(img)
    ring = (cx - half, cy - half, cx + half, cy + half)
    draw.ellipse(ring, outline=(0, 0, 0), width=11)
    draw.ellipse((ring[0] + 3, ring[1] + 3, ring[2] - 3, ring[3] - 3), outline=(255, 255, 255), width=5)
    draw.rectangle((c * sx, r * sy, (c + 1) * sx - 1, (r + 1) * sy - 1), outline=(255, 40, 40),
                   width=max(2, int(min(sx, sy) // 6)))
    tick = max(14, size // 24)
    for (x0, y0, x1, y1) in ((cx, 0, cx, tick), (cx, size - tick, cx, size),
                             (0, cy, tick, cy), (size - tick, cy, size, cy)):
        draw.line((x0, y0, x1, y1), fill=(0, 0, 0), width=7)
        draw.line((x0, y0, x1, y1), fill=(255, 255, 255), width=3)
    return img


def click_xy(value: dict | None, natural: tuple[int, int]) -> tuple[float, float, float] | None:
    """A ``click_image`` click → (x, y) in natural image pixels plus its time stamp."""
    if not value or "x" not in value or not value.get("width"):
        return None
    sx = natural[0] / float(value["width"])
    sy = natural[1] / float(value.get("height") or value["width"])
    return value["x"] * sx, value["y"] * sy, float(value.get("unix_time", 0))
