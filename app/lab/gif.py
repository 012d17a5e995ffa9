"""Animated-GIF export of a lab step plan (PIL only), for slides: colour, projector size (≥ 1000 px
wide), digits sized to their cells, the same decimals as the screen."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from app.lab.anim import channel_steps, chars, decimals, fmt, text_em
from vizcore.lab.settings import Op
from vizcore.lab.stepping import PAD, REAL, StepPlan

NAMED = {"bg": "#ffffff", "pad": "#dbe6f5", "zero": "#fff1c2", "grid": "#c8ccd2", "accent": "#ff8c42",
         "empty": "#f1f2f4", "ink": "#222222", "white": "#ffffff", "black": "#111111"}
LEVELS = 48
MAX_FRAMES = 120
WIDTH_PX = 1200  # projector width of the GIF
TOP = {"R": (255, 90, 90), "G": (79, 209, 107), "B": (90, 140, 255), "gray": (255, 255, 255)}
DIVERGING = ((33, 102, 172), (247, 247, 247), (178, 24, 43))  # blue · white · red (like RdBu_r)


def _palette(name: str) -> tuple[list[int], dict[str, int]]:
    """One fixed palette: named colours, LEVELS steps of the input channel's ramp (black → its
    colour), LEVELS steps of the diverging output ramp. Drawing in "P" mode keeps digits crisp."""
    rgb = [tuple(int(h[i:i + 2], 16) for i in (1, 3, 5)) for h in NAMED.values()]
    top = np.array(TOP.get(name, TOP["gray"]), float)
    t = np.linspace(0, 1, LEVELS)[:, None]
    rgb += [tuple(v) for v in (t * top).round().astype(int).tolist()]
    lo, mid, hi = (np.array(c, float) for c in DIVERGING)
    ramp = np.where(t < 0.5, lo + (mid - lo) * (t / 0.5), mid + (hi - mid) * ((t - 0.5) / 0.5))
    rgb += [tuple(v) for v in ramp.round().astype(int).tolist()]
    return [c for col in rgb for c in col], {n: i for i, n in enumerate(NAMED)}


@dataclass(frozen=True)
class _Ramp:
    """Maps a value to a palette index (and whether dark ink reads on it)."""

    offset: int
    lo: float
    hi: float
    diverging: bool
    colours: list[tuple[int, int, int]]

    def __call__(self, v: float) -> tuple[int, bool]:
        t = (v - self.lo) / (self.hi - self.lo) if self.hi > self.lo else 0.5
        i = round((LEVELS - 1) * min(max(t, 0.0), 1.0))
        r, g, b = self.colours[self.offset + i]
        return self.offset + i, 0.299 * r + 0.587 * g + 0.114 * b > 140


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=max(8, int(size)))


def _cell_font(cell: int, em: float) -> ImageFont.ImageFont:
    """The largest font whose number, ``em`` wide, fits inside a ``cell``-pixel square."""
    return _font(min(cell * 0.42, cell * 0.86 / max(em, 0.5)))


def _box(x0: int, y0: int, r: int, c: int, cell: int) -> tuple[int, int, int, int]:
    return (x0 + c * cell, y0 + r * cell, x0 + (c + 1) * cell - 1, y0 + (r + 1) * cell - 1)


def _draw_input(d: ImageDraw.ImageDraw, plan: StepPlan, ch: int, ramp: _Ramp, ix: dict[str, int],
                at: tuple[int, int, int], nd: int) -> None:
    x0, y0, cell = at
    vals = np.where(plan.kinds == REAL, plan.padded[ch], np.nan)
    font = _cell_font(cell, max(chars(vals, nd), text_em("-inf")))
    pad_text = "-inf" if plan.op is Op.MAX else "0"  # the default font has no ∞ glyph
    for (r, c), v in np.ndenumerate(vals):
        box, kind = _box(x0, y0, r, c, cell), plan.kinds[r, c]
        if kind != REAL:
            d.rectangle(box, fill=ix["pad"] if kind == PAD else ix["zero"], outline=ix["grid"])
            d.text((box[0] + cell / 2, box[1] + cell / 2), pad_text if kind == PAD else "0",
                   fill=ix["ink"], font=font, anchor="mm")
            continue
        fill, light = ramp(v)
        d.rectangle(box, fill=fill, outline=ix["grid"])
        d.text((box[0] + cell / 2, box[1] + cell / 2), fmt(v, nd),
               fill=ix["black" if light else "white"], font=font, anchor="mm")


def gif_bytes(plan: StepPlan, names: tuple[str, ...] = ("gray",), *, channel: int = 0,
              relu: bool = False, ms: int = 600) -> bytes:
    """GIF of the steps computing output ``channel``: input (first channel row seen) with the
    window, the output grid filling in, and the step line. At most 120 frames (evenly subsampled)."""
    idx = channel_steps(plan, channel)
    ch = int(plan.steps[idx[0]].channels[0])
    out = np.maximum(plan.output[channel], 0) if relu and plan.op.is_conv else plan.output[channel]
    (hp, wp), (ho, wo) = plan.kinds.shape, out.shape
    nd = decimals(wp)
    cell = int(min(max(WIDTH_PX // (wp + wo + 3), 40), 110))
    gap, top = cell, 84
    width, height = max((wp + wo) * cell + 3 * gap, 1000), top + max(hp, ho) * cell + gap
    name = names[ch] if ch < len(names) else "gray"
    palette, ix = _palette(name)
    colours = [tuple(palette[i:i + 3]) for i in range(0, len(palette), 3)]
    real = plan.padded[ch][plan.kinds == REAL]
    base = Image.new("P", (width, height), ix["bg"])
    base.putpalette(palette)
    d = ImageDraw.Draw(base)
    d.text((gap, top - 28), f"input ({name})", fill=ix["ink"], font=_font(22))
    _draw_input(d, plan, ch, _Ramp(len(NAMED), float(real.min()), float(real.max()), False, colours),
                ix, (gap, top, cell), nd)
    ox = gap * 2 + wp * cell
    d.text((ox, top - 28), "output", fill=ix["ink"], font=_font(22))
    for (r, c), _ in np.ndenumerate(out):
        d.rectangle(_box(ox, top, r, c, cell), fill=ix["empty"], outline=ix["grid"])
    m = max(float(np.abs(out).max()), 1e-9)
    ramp = (_Ramp(len(NAMED) + LEVELS, -m, m, True, colours) if plan.op.is_conv
            else _Ramp(len(NAMED), float(out.min()), float(out.max()), False, colours))
    return _animate(plan, idx, out, ramp, base, ix, (gap, ox, top, cell), nd, ms)


def _animate(plan: StepPlan, idx: list[int], out: np.ndarray, ramp: _Ramp, base: Image.Image,
             ix: dict[str, int], geo: tuple[int, int, int, int], nd: int, ms: int) -> bytes:
    gap, ox, top, cell = geo
    font, title = _cell_font(cell, chars(out, nd)), _font(28)
    picks = np.linspace(0, len(idx) - 1, min(len(idx), MAX_FRAMES)).round().astype(int)
    keep = set(picks.tolist())
    d, frames = ImageDraw.Draw(base), []
    for pos, t in enumerate(idx):
        s = plan.steps[t]
        _, r, c = s.out
        v = float(out[r, c])
        fill, light = ramp(v)
        box = _box(ox, top, r, c, cell)
        d.rectangle(box, fill=fill, outline=ix["grid"])
        d.text((box[0] + cell / 2, box[1] + cell / 2), fmt(v, nd),
               fill=ix["black" if light else "white"], font=font, anchor="mm")
        if pos not in keep:
            continue
        frame = base.copy()
        fd = ImageDraw.Draw(frame)
        for rr, cc in zip(s.rows[0].ravel(), s.cols[0].ravel(), strict=True):
            fd.rectangle(_box(gap, top, int(rr), int(cc), cell), outline=ix["black"], width=6)
            fd.rectangle(_box(gap, top, int(rr), int(cc), cell), outline=ix["accent"], width=3)
        fd.rectangle(box, outline=ix["black"], width=6)
        fd.rectangle(box, outline=ix["accent"], width=3)
        fd.text((gap, 12), f"step {pos + 1}/{len(idx)} · output row {r + 1}, col {c + 1} = {fmt(v, nd)}",
                fill=ix["ink"], font=title)
        frames.append(frame)
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=ms, loop=0,
                   optimize=False)
    return buf.getvalue()
