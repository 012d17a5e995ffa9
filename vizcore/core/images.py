"""One image loader for every page: bytes in, a validated RGB PIL image (or a clear ``ImageError``) out.

Hardening: only known formats, decompression bombs refused, truncated files refused, EXIF orientation
applied, every mode converted to RGB (alpha composited onto white, 16-bit rescaled, palette
transparency honoured), animations reduced to their first frame with a notice, tiny or extremely
elongated images refused with the reason, big photos downscaled before they reach a model.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
MAX_BYTES = 25 * 1024 * 1024
MAX_PIXELS = 40_000_000
MIN_SIDE = 16
MAX_ASPECT = 8.0
MAX_SIDE = 1024


class ImageError(ValueError):
    """The bytes are not an image we accept; the message says why in words for the user."""


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """A decoded RGB image plus what was done to it on the way (shown to the user as notices)."""

    image: Image.Image
    digest: str
    original_size: tuple[int, int]
    format: str
    notices: tuple[str, ...] = ()

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) after orientation and downscaling."""
        return self.image.size


def digest(data: bytes) -> str:
    """Content hash used as the cache key of everything computed from an image."""
    return hashlib.sha256(data).hexdigest()[:32]


def _open(data: bytes) -> Image.Image:
    if not data:
        raise ImageError("The file is empty (0 bytes).")
    if len(data) > MAX_BYTES:
        raise ImageError(f"The file is {len(data) / 1e6:.0f} MB; the limit is {MAX_BYTES / 1e6:.0f} MB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS))
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise ImageError(
                    f"The image is {w}×{h} = {w * h / 1e6:.0f} megapixels; the limit is "
                    f"{MAX_PIXELS / 1e6:.0f} megapixels (this protects the server from image bombs)."
                )
            img.load()
    except ImageError:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise ImageError(f"Refused: the image is too large to decode safely ({exc}).") from exc
    except Image.UnidentifiedImageError as exc:
        raise ImageError(
            "This file is not an image we can read. Use PNG, JPEG, WebP, BMP, GIF or TIFF."
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"The image file is damaged or truncated ({exc}).") from exc
    return img


def _to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB; transparent parts become white."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        img = Image.fromarray(((arr - lo) * scale).astype(np.uint8), mode="L")
        mode = "L"
    if mode == "P":
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
    elif mode in ("LA", "La", "PA", "RGBa"):
        img = img.convert("RGBA")
    elif mode == "RGBA":
        pass
    elif mode != "RGB":
        img = img.convert("RGB")  # 1, L, CMYK, YCbCr, LAB, HSV
    if img.mode == "RGBA":
        background = Image.new("RGB", img.size, (255, 255, 255))
        background.paste(img, mask=img.getchannel("A"))
        img = background
    return img


def load_image(data: bytes, *, max_side: int = MAX_SIDE) -> LoadedImage:
    """Decode and validate an uploaded image.

    Returns an RGB image whose longer side is at most ``max_side`` px; raises ``ImageError`` with a
    message meant for the user when the file is refused.
    """
    img = _open(data)
    fmt = img.format or "?"
    notices: list[str] = []
    if getattr(img, "n_frames", 1) > 1:
        notices.append(f"Animated {fmt} with {img.n_frames} frames: only the first frame is used.")
        img.seek(0)
    try:
        img = ImageOps.exif_transpose(img) or img
    except Exception:
        notices.append("The EXIF orientation tag could not be read; the image is shown as stored.")
    original = img.size
    w, h = original
    if min(w, h) < MIN_SIDE:
        raise ImageError(
            f"The image is only {w}×{h} pixels; at least {MIN_SIDE}×{MIN_SIDE} is needed for a CNN "
            "to see anything."
        )
    if max(w, h) / min(w, h) > MAX_ASPECT:
        raise ImageError(
            f"The image is {w}×{h}, an aspect ratio of {max(w, h) / min(w, h):.0f}:1. The model looks "
            f"at a square centre crop, so images more elongated than {MAX_ASPECT:.0f}:1 are refused."
        )
    rgb = _to_rgb(img)
    if max(w, h) > max_side:
        rgb = rgb.copy()
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        notices.append(f"Downscaled from {w}×{h} to {rgb.width}×{rgb.height} before the model.")
    return LoadedImage(rgb, digest(data), original, fmt, tuple(notices))
