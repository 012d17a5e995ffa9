"""A built-in demo set for transfer learning without a camera: generated shapes (no licence needed).

Three classes a pretrained network has never been asked about — "circles", "squares", "stripes" —
drawn with seeded random colours, sizes, positions and backgrounds.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

CLASSES = ("circles", "squares", "stripes")


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(0, 256, 3))


def draw(kind: str, rng: np.random.Generator, size: int = 160) -> Image.Image:
    """One ``size``² RGB picture of ``kind`` (one of ``CLASSES``)."""
    img = Image.new("RGB", (size, size), _colour(rng))
    d = ImageDraw.Draw(img)
    if kind == "stripes":
        width = int(rng.integers(6, 20))
        colour = _colour(rng)
        for x in range(int(rng.integers(0, width)), size * 2, width * 2):
            d.polygon([(x, 0), (x + width, 0), (x + width - size, size), (x - size, size)], fill=colour)
        return img
    for _ in range(int(rng.integers(1, 4))):
        r = int(rng.integers(size // 8, size // 3))
        cx, cy = (int(v) for v in rng.integers(r, size - r, 2))
        box = (cx - r, cy - r, cx + r, cy + r)
        if kind == "circles":
            d.ellipse(box, fill=_colour(rng))
        elif kind == "squares":
            d.rectangle(box, fill=_colour(rng))
        else:
            raise ValueError(f"unknown demo class {kind!r}; choose from {', '.join(CLASSES)}")
    return img


def demo_set(per_class: int = 8, *, seed: int = 0, size: int = 160) -> dict[str, list[Image.Image]]:
    """``{class: [per_class images]}`` for every demo class, the same for the same ``seed``."""
    rng = np.random.default_rng(seed)
    return {kind: [draw(kind, rng, size) for _ in range(per_class)] for kind in CLASSES}
