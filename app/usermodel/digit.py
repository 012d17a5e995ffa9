"""Turning a canvas drawing into a digit picture like the training data (pure PIL/numpy, no widgets).

LeNet-5's training digits (scikit-learn's ``load_digits``, UCI optdigits) were size-normalised so the
digit fills its box, ink bright on black. ``centre_digit`` does the same to a drawing: crop the ink's
bounding box, centre it in a square with a small margin, scale to ``size``².
"""

from __future__ import annotations

import numpy as np
from PIL import Image

INK_THRESHOLD = 40  # grey level (0–255) above which a canvas pixel counts as ink
FILL = 0.9  # the digit's height as a share of the picture (training digits fill their 8×8 box)
MIN_ASPECT = 0.45  # narrowest width / height (training 1s are ~5 of 8 px wide)


def ink(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 4) RGBA canvas (transparent = black) or (H, W, 3) RGB → (H, W) float grey in 0–255."""
    a = np.asarray(pixels, dtype=np.float32)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ValueError(f"expected an (H, W, 3|4) canvas, got shape {a.shape}")
    rgb = a[..., :3] * (a[..., 3:4] / 255.0) if a.shape[2] == 4 else a
    return rgb.mean(axis=2)


def centre_digit(pixels: np.ndarray, *, size: int = 128, fill: float = FILL,
                 min_aspect: float = MIN_ASPECT) -> Image.Image | None:
    """The drawing's ink scaled to fill the height of a ``size``×``size`` grey (``L``) picture, centred,
    white on black (thin digits such as a 1 are widened to ``min_aspect`` × height, as in the training
    digits); None when nothing is drawn."""
    grey = ink(pixels)
    ys, xs = np.nonzero(grey > INK_THRESHOLD)
    if len(ys) == 0:
        return None
    crop = Image.fromarray(grey[ys.min():ys.max() + 1, xs.min():xs.max() + 1].clip(0, 255).astype(np.uint8))
    h, w = crop.height, crop.width
    box = max(2, round(size * fill))
    scale = box / max(h, w)
    nh = max(1, round(h * scale))
    nw = min(box, max(round(w * scale), round(nh * min_aspect)))
    digit = crop.resize((nw, nh), Image.Resampling.BILINEAR)  # PIL antialiases when shrinking
    out = Image.new("L", (size, size), 0)
    out.paste(digit, ((size - nw) // 2, (size - nh) // 2))
    return out
