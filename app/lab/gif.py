"""Animated-GIF export of a lab step plan (PIL only), for slides."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from app.lab.figures import channel_steps
from vizcore.lab.stepping import PAD, REAL, StepPlan

NAMED = {"bg": "#ffffff", "pad": "#dbe6f5", "zero": "#fff1c2", "grid": "#c8ccd2", "accent": "#e4572e",
         "empty": "#f1f2f4", "ink": "#222222", "white": "#ffffff", "black": "#000000"}
LEVELS = 16
MAX_FRAMES = 120
# one fixed palette: named colours, then LEVELS greys (drawing in "P" mode keeps text crisp and
# frames small, and saves quantising every frame)
_RGB = [tuple(int(h[i:i + 2], 16) for i in (1, 3, 5)) for h in NAMED.values()]
_RGB += [(v, v, v) for v in np.linspace(0, 255, LEVELS).astype(int).tolist()]
PALETTE = [c for rgb in _RGB for c in rgb]
IX = {name: i for i, name in enumerate(NAMED)}


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _grey(v: float, lo: float, hi: float) -> tuple[int, bool]:
    """Palette index of the grey for ``v`` and whether it is light (dark text on it)."""
    t = round((LEVELS - 1) * (v - lo) / (hi - lo)) if hi > lo else LEVELS // 2
    return len(NAMED) + t, t > LEVELS // 2


def _draw_grid(d: ImageDraw.ImageDraw, x0: int, y0: int, vals: np.ndarray, kinds: np.ndarray | None,
               cell: int, font: ImageFont.ImageFont, fmt: str, pad_text: str = "0") -> None:
    lo, hi = float(np.nanmin(vals)), float(np.nanmax(vals))
    for (r, c), v in np.ndenumerate(vals):
        box = (x0 + c * cell, y0 + r * cell, x0 + (c + 1) * cell - 1, y0 + (r + 1) * cell - 1)
        kind = REAL if kinds is None else kinds[r, c]
        if kind != REAL:
            d.rectangle(box, fill=IX["pad"] if kind == PAD else IX["zero"], outline=IX["grid"])
            d.text((box[0] + cell / 2, box[1] + cell / 2), pad_text if kind == PAD else "0",
                   fill=IX["ink"], font=font, anchor="mm")
            continue
        fill, light = _grey(v, lo, hi)
        d.rectangle(box, fill=fill, outline=IX["grid"])
        d.text((box[0] + cell / 2, box[1] + cell / 2), format(v, fmt),
               fill=IX["black" if light else "white"], font=font, anchor="mm")


def gif_bytes(plan: StepPlan, *, channel: int = 0, cell: int = 28, ms: int = 400) -> bytes:
    """GIF of the steps computing output ``channel``: input (first channel row) with the window,
    the output grid filling in, and the equation. At most 120 frames (evenly subsampled)."""
    idx = channel_steps(plan, channel)
    first = plan.steps[idx[0]]
    ch = int(first.channels[0])
    out = plan.output[channel]
    hp, wp = plan.kinds.shape
    font, big = _font(max(10, int(cell * 0.42))), _font(20)
    gap, top = cell, 50
    width = (wp + out.shape[1]) * cell + 3 * gap
    height = top + max(hp, out.shape[0]) * cell + gap
    base = Image.new("P", (width, height), IX["bg"])
    base.putpalette(PALETTE)
    d = ImageDraw.Draw(base)
    vals = np.where(plan.kinds == REAL, plan.padded[ch], np.nan)
    _draw_grid(d, gap, top, vals, plan.kinds, cell, font, ".1f" if wp > 10 else ".2f",
               "-inf" if plan.op == "max_pool" else "0")  # the default font has no ∞ glyph
    ox = gap * 2 + wp * cell
    for (r, c), _ in np.ndenumerate(out):
        d.rectangle((ox + c * cell, top + r * cell, ox + (c + 1) * cell - 1, top + (r + 1) * cell - 1),
                    fill=IX["empty"], outline=IX["grid"])
    lo, hi = float(out.min()), float(out.max())
    keep = np.unique(np.linspace(0, len(idx) - 1, min(len(idx), MAX_FRAMES)).round().astype(int))
    keep_set = set(keep.tolist())
    frames = []
    for pos, t in enumerate(idx):
        s = plan.steps[t]
        _, r, c = s.out
        fill, light = _grey(s.value, lo, hi)
        box = (ox + c * cell, top + r * cell, ox + (c + 1) * cell - 1, top + (r + 1) * cell - 1)
        d.rectangle(box, fill=fill, outline=IX["grid"])
        d.text((box[0] + cell / 2, box[1] + cell / 2), f"{s.value:.1f}",
               fill=IX["black" if light else "white"], font=font, anchor="mm")
        if pos not in keep_set:
            continue
        frame = base.copy()
        fd = ImageDraw.Draw(frame)
        for rr, cc in zip(s.rows[0].ravel(), s.cols[0].ravel(), strict=True):
            fd.rectangle((gap + cc * cell, top + rr * cell, gap + (cc + 1) * cell - 1,
                          top + (rr + 1) * cell - 1), outline=IX["accent"], width=3)
        fd.rectangle(box, outline=IX["accent"], width=3)
        fd.text((gap, 14), f"step {pos + 1}/{len(idx)}   output[{r}, {c}] = {s.value:.2f}",
                fill=IX["ink"], font=big)
        frames.append(frame)
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=ms, loop=0,
                   optimize=False)
    return buf.getvalue()
