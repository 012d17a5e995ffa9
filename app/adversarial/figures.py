"""Pictures and charts of the Adversarial page (pure PIL / plotly; no Streamlit)."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image, ImageDraw, ImageFont
from plotly.subplots import make_subplots

from vizcore.adversarial.sweep import Sweep

DISPLAY = 448  # px: pictures are drawn at 2× the model's 224 so the labels stay readable


def to_image(pixels: torch.Tensor, size: int = DISPLAY) -> Image.Image:
    """(1, C, H, W) pixels in [0, 1] → RGB PIL image of ``size`` px (nearest, so pixels stay pixels)."""
    arr = pixels[0].detach().cpu().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()
    img = Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr).convert("RGB")
    return img.resize((size, size), Image.Resampling.NEAREST)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def label(img: Image.Image, text: str) -> Image.Image:
    """``img`` with ``text`` written on a dark band along its bottom edge."""
    out = img.copy()
    draw = ImageDraw.Draw(out)
    font = _font(max(14, img.width // 22))
    _, top, _, bottom = draw.textbbox((0, 0), text, font=font)
    band = bottom - top + 12
    draw.rectangle((0, img.height - band, img.width, img.height), fill=(20, 20, 20))
    draw.text((8, img.height - band + 6 - top), text, fill=(255, 255, 255), font=font)
    return out


def amplification(eps_levels: float) -> float:
    """Gain that maps ±ε to ±127 levels around grey."""
    return 127.0 / max(eps_levels, 1e-6)


def perturbation(delta: torch.Tensor, eps_levels: float) -> Image.Image:
    """The perturbation (1, C, H, W) on grey, amplified so ±ε spans the full range, scale written on."""
    gain = amplification(eps_levels)
    shown = (0.5 + delta * 255 * gain / 255).clamp(0, 1)
    return label(to_image(shown), f"amplified {gain:.0f}x: ±{eps_levels:g}/255 shown as ±127/255")


def top5_figure(before: np.ndarray, after: np.ndarray, names: tuple[str, ...], *, highlight: tuple[int, ...],
                height: int = 300) -> go.Figure:
    """Two horizontal bar charts: top-5 probabilities before and after the attack (``highlight`` = the
    original and the new class, drawn in colour)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Before (clean photo)", "After (adversarial)"),
                        horizontal_spacing=0.28)
    colours = {highlight[0]: "#3f88c5", highlight[-1]: "#e4572e"}
    for col, probs in ((1, before), (2, after)):
        top = np.argsort(probs)[::-1][:5][::-1]
        fig.add_trace(go.Bar(
            x=100 * probs[top], y=[f"{names[i]} ({i})" for i in top], orientation="h",
            marker_color=[colours.get(int(i), "#8c8c8c") for i in top],
            text=[f"{100 * probs[i]:.1f}%" for i in top], textposition="auto", showlegend=False,
            hovertemplate="%{y}: %{x:.2f}%<extra></extra>"), row=1, col=col)
    fig.update_xaxes(range=[0, 100], title_text="probability (%)")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=40), font=dict(size=14))
    return fig


def sweep_figure(sw: Sweep, names: tuple[str, ...], *, chosen: float, height: int = 340) -> go.Figure:
    """Probability of the original class (and of the target) vs ε; ✓ / ✗ marks whether the attack won."""
    x = list(sw.levels)
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=x, y=[100 * p for p in sw.source_prob], mode="lines+markers+text",
        name=f"“{names[sw.source]}” (original)",
        text=["✓ fooled" if ok else "✗ holds" for ok in sw.success], textposition="top center",
        line=dict(color="#3f88c5", width=3), marker=dict(size=10, color=["#e4572e" if ok else "#3f88c5"
                                                                          for ok in sw.success]),
        customdata=[f"{u} of {sw.steps} steps" + (" (settled)" if u < sw.steps else "")
                    for u in sw.steps_used],
        hovertemplate="ε = %{x}/255: %{y:.2f}% · %{customdata}<extra></extra>"))
    if sw.target_prob is not None and sw.target is not None:
        fig.add_trace(go.Scatter(x=x, y=[100 * p for p in sw.target_prob], mode="lines+markers",
                                 name=f"“{names[sw.target]}” (target)",
                                 line=dict(color="#e4572e", dash="dot")))
    fig.add_vline(x=chosen, line=dict(color="#888", dash="dash"))
    fig.add_annotation(x=math.log10(chosen), y=1.0, yref="paper", text="your ε", showarrow=False,
                       xanchor="left", yanchor="top", font=dict(color="#666"))  # log axis: log10 position
    fig.update_xaxes(title_text="ε (8-bit levels, log scale)", type="log", tickvals=x,
                     ticktext=[f"{v:g}" for v in x])
    fig.update_yaxes(title_text="probability (%)", range=[-5, 112])
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=40), font=dict(size=14),
                      legend=dict(orientation="h", y=1.12))
    return fig
