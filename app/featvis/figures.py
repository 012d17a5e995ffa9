"""Pure PIL / plotly builders for the Feature visualisation page (testable without Streamlit)."""

from __future__ import annotations

import re

import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw

from vizcore.core.render import mosaic
from vizcore.featvis.cached import Visuals
from vizcore.featvis.exemplars import Exemplar

BOX_COLOUR = (255, 200, 0)


def enlarge(img: np.ndarray, size: int) -> Image.Image:
    """(S, S, 3) uint8 -> PIL image ``size`` px wide (nearest for small images keeps pixels crisp)."""
    pil = Image.fromarray(img)
    return pil.resize((size, size), Image.Resampling.LANCZOS)


def atlas_image(vis: Visuals, *, tile: int = 128, cols: int | None = None) -> Image.Image:
    """All visualisations as one grid, each tile labelled with its channel number."""
    tiles = np.stack([np.asarray(enlarge(im, tile)) for im in vis.images])
    grid = Image.fromarray(mosaic(tiles, cols=cols, pad=4))
    draw = ImageDraw.Draw(grid)
    cols = cols or int(np.ceil(np.sqrt(len(tiles))))
    for i, ch in enumerate(vis.indices):
        r, c = divmod(i, cols)
        x, y = 4 + c * (tile + 4), 4 + r * (tile + 4)
        draw.rectangle((x, y, x + 34, y + 14), fill=(0, 0, 0))
        draw.text((x + 3, y + 2), f"{ch}", fill=(255, 255, 255))
    return grid


def history_figure(vis: Visuals, *, names: list[str] | None = None) -> go.Figure:
    """Objective value at every optimisation step, one line per image."""
    fig = go.Figure()
    steps = np.arange(1, vis.history.shape[1] + 1)
    for i, row in enumerate(vis.history[:8]):
        label = names[i] if names else f"#{vis.indices[i]}"
        fig.add_trace(go.Scatter(x=steps, y=row, mode="lines", name=label))
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=30, b=10), xaxis_title="step",
                      yaxis_title="objective", title="Gradient ascent: the objective rises",
                      legend=dict(orientation="h", y=-0.35))
    return fig


def with_box(ex: Exemplar, *, size: int = 224) -> Image.Image:
    """The model's view of an exemplar image with the winning unit's receptive field outlined."""
    pil = Image.fromarray(ex.image).convert("RGB")
    f = size / pil.width
    pil = pil.resize((size, size), Image.Resampling.BILINEAR)
    top, left, bottom, right = (round(v * f) for v in ex.box)
    ImageDraw.Draw(pil).rectangle((left, top, right - 1, bottom - 1), outline=BOX_COLOUR, width=3)
    return pil


def patch_image(ex: Exemplar, *, size: int = 160) -> Image.Image:
    """The RF patch, scaled so its longer side is ``size`` px."""
    pil = Image.fromarray(ex.patch)
    f = size / max(pil.size)
    return pil.resize((max(1, round(pil.width * f)), max(1, round(pil.height * f))),
                      Image.Resampling.LANCZOS)


def atlas_image_from(images: np.ndarray, tile: int) -> Image.Image:
    """A live-preview strip of (B, S, S, 3) uint8 images."""
    tiles = np.stack([np.asarray(enlarge(im, tile)) for im in images[:8]])
    return Image.fromarray(mosaic(tiles, cols=min(8, len(tiles)), pad=2))


def file_label(file_name: str, n: int = 28) -> str:
    """``file_name`` for a (markdown) image caption: cut to ``n`` characters keeping its end, with
    markdown characters escaped so ``my_cat_1.jpg`` is not set in italics."""
    name = file_name if len(file_name) <= n else "…" + file_name[-(n - 1):]
    return re.sub(r"([\\`*_\[\]()<>$~|])", r"\\\1", name)
