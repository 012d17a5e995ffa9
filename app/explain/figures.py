"""Pictures and charts of the Explain page (pure PIL / plotly; no Streamlit)."""

from __future__ import annotations

import io

import numpy as np
import plotly.graph_objects as go
from PIL import Image
from plotly.subplots import make_subplots

from vizcore.core.render import colorize, heat_overlay, png_bytes
from vizcore.explain.cam import CamResult
from vizcore.explain.faithfulness import Faithfulness

CMAPS = ("inferno", "turbo", "viridis")  # the Explain page's colour choices, default first
ALPHA = 0.75  # the default map opacity (where the map is hottest)
PALETTE = ("#e4572e", "#17bebb", "#ffc914", "#2e282a", "#76b041", "#7f58af", "#3f88c5", "#d7263d",
           "#f49d37", "#1b998b", "#8c8c8c")


def cam_overlay(photo: Image.Image, cam: CamResult, *, cmap: str, alpha: float) -> Image.Image:
    """The map over the exact model input ``photo`` (S × S): opacity ``alpha`` where the heat is highest,
    falling with the heat, so cold regions show the photo unchanged."""
    return heat_overlay(photo, cam.heatmap, cmap=cmap, alpha=alpha)


def raw_map(cam: CamResult, *, cmap: str, size: int) -> Image.Image:
    """The map at its own resolution (e.g. 7 × 7 cells), scaled up with nearest so cells stay visible."""
    raw = np.asarray(cam.raw, np.float32)
    top = float(raw.max()) if raw.size else 0.0
    img = Image.fromarray(colorize(raw, cmap, lo=0.0, hi=top if top > 0 else 1.0))
    return img.resize((size, size), Image.Resampling.NEAREST)


def npy_bytes(a: np.ndarray) -> bytes:
    """``a`` as the bytes of a ``.npy`` file."""
    buf = io.BytesIO()
    np.save(buf, np.asarray(a), allow_pickle=False)
    return buf.getvalue()


def overlay_png(photo: Image.Image, cam: CamResult, *, cmap: str, alpha: float) -> bytes:
    """PNG bytes of ``cam_overlay`` (for download buttons)."""
    return png_bytes(cam_overlay(photo, cam, cmap=cmap, alpha=alpha))


def faithfulness_figure(scores: dict[str, Faithfulness]) -> go.Figure:
    """Deletion (left, lower is better) and insertion (right, higher is better) curves per method."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        "Deletion: remove most important pixels first (↓ better)",
        "Insertion: add most important pixels first (↑ better)"))
    for i, (label, f) in enumerate(scores.items()):
        colour = PALETTE[i % len(PALETTE)]
        x = 100 * f.fractions
        for col, ys, area in ((1, f.deletion, f.deletion_auc), (2, f.insertion, f.insertion_auc)):
            fig.add_trace(go.Scatter(
                x=x, y=100 * ys, mode="lines+markers", name=f"{label}", legendgroup=label,
                showlegend=col == 1, line=dict(color=colour, width=2), marker=dict(size=5),
                hovertemplate=f"{label}<br>%{{x:.0f}}% of pixels: %{{y:.1f}}%<br>AUC {area:.3f}"
                              "<extra></extra>"), row=1, col=col)
    fig.update_xaxes(title_text="pixels removed / inserted (%)", range=[0, 100])
    fig.update_yaxes(title_text="class probability (%)", rangemode="tozero")
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=40, b=40), font=dict(size=14),
                      legend=dict(orientation="h", y=-0.25))
    return fig


def faithfulness_rows(scores: dict[str, Faithfulness], seconds: dict[str, float]) -> list[dict[str, object]]:
    """One table row per method: AUCs, average drop and runtime."""
    return [{"method": label, "deletion AUC ↓": round(f.deletion_auc, 3),
             "insertion AUC ↑": round(f.insertion_auc, 3), "average drop % ↓": round(f.average_drop, 1),
             "runtime (ms)": round(1000 * seconds[label])} for label, f in scores.items()]


def sanity_strip(maps: np.ndarray, *, cmap: str, size: int) -> list[Image.Image]:
    """(n, H, W) maps in [0, 1] → colour images of ``size`` px."""
    return [Image.fromarray(colorize(m, cmap, lo=0.0, hi=1.0)).resize((size, size)) for m in maps]
