"""One image loader for every page: bytes in, a validated RGB PIL image (or a clear ``ImageError``) out.

Hardening: only known formats, decided by content (the file name does not matter); decompression
bombs refused; a **decoded-bytes budget** checked from the header before anything is decoded
(``MAX_DECODED_BYTES``, and a smaller ``MAX_HIGHBIT_BYTES`` for 16-bit and float images), so a
250 KB file cannot take a gigabyte; JPEGs decoded at reduced scale (``draft``) and big images
reduced (``reduce`` / a float32 block mean) *before* any mode conversion; at most float32, no
full-size copies; EXIF orientation applied to the small image; at most ``DECODE_SLOTS`` decodes at
once (a semaphore), so thirty simultaneous uploads cannot add up. Truncated files refused; every mode
converted to RGB (alpha composited onto white, 16-bit/float rescaled, palette transparency
honoured); animations reduced to their first frame with a notice; tiny or extremely elongated images
refused with the reason; big photos downscaled before they reach a model. Every refusal names the
limit.
"""

from __future__ import annotations

import ctypes
import hashlib
import io
import threading
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image

ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
MAX_BYTES = 25 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_DECODED_BYTES = 160 * 2**20  # one decoded image (Pillow keeps RGB as 4 bytes per pixel)
MAX_HIGHBIT_BYTES = 96 * 2**20  # 16-bit / 32-bit / float images (working copy as 4 bytes per pixel)
MIN_SIDE = 16
MAX_ASPECT = 8.0
MAX_SIDE = 1024
DECODE_SLOTS = 2
DECODE_WAIT_S = 120.0
HIGHBIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow warns above this (an error for us), refuses above 2×
_SLOTS = threading.BoundedSemaphore(DECODE_SLOTS)
TRIM_PIXELS = 4_000_000  # after decoding more than this, give freed memory back to the OS
try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL("libc.so.6")
    _LIBC.malloc_trim  # noqa: B018 - glibc only
except (OSError, AttributeError):
    _LIBC = None
_TRANSPOSE = {2: (Image.Transpose.FLIP_LEFT_RIGHT,), 3: (Image.Transpose.ROTATE_180,),
              4: (Image.Transpose.FLIP_TOP_BOTTOM,), 5: (Image.Transpose.TRANSPOSE,),
              6: (Image.Transpose.ROTATE_270,), 7: (Image.Transpose.TRANSVERSE,),
              8: (Image.Transpose.ROTATE_90,)}  # EXIF orientation → Pillow operations (as exif_transpose)


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
    """Identify the file from its header (nothing decoded yet)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS))
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise ImageError(f"Refused: the image has more than {MAX_PIXELS / 1e6:.0f} megapixels, the "
                         "limit that protects the server from image bombs.") from exc
    except Image.UnidentifiedImageError as exc:
        raise ImageError(
            "This file is not an image we can read. Use PNG, JPEG, WebP, BMP, GIF or TIFF."
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"The image file is damaged ({exc}).") from exc


def _bytes_per_pixel(mode: str) -> int:
    """Bytes Pillow (plus our working copy) needs per pixel in ``mode``."""
    if mode in HIGHBIT_MODES:
        return 4
    return 1 if mode in ("L", "P", "1") else 4  # RGB is stored as 4 bytes per pixel too


def _check_geometry(w: int, h: int) -> None:
    if w * h > MAX_PIXELS:
        raise ImageError(
            f"The image is {w}×{h} = {w * h / 1e6:.0f} megapixels; the limit is "
            f"{MAX_PIXELS / 1e6:.0f} megapixels (this protects the server from image bombs)."
        )
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


def _check_budget(img: Image.Image) -> None:
    """Refuse before decoding when the decoded image would exceed its budget."""
    w, h = img.size
    need = w * h * _bytes_per_pixel(img.mode)
    if img.mode == "P" or img.mode == "1":
        need += w * h * 4  # converted to RGB(A) before it can be reduced
    highbit = img.mode in HIGHBIT_MODES
    limit = MAX_HIGHBIT_BYTES if highbit else MAX_DECODED_BYTES
    if need > limit:
        kind = f"a {img.mode} (16-bit / float) image" if highbit else "this image"
        raise ImageError(
            f"Refused: decoded, {kind} of {w}×{h} pixels would take {need / 2**20:.0f} MB of server "
            f"memory; the limit is {limit / 2**20:.0f} MB. Save it smaller or as 8-bit and upload again."
        )


def _decode(img: Image.Image) -> None:
    """``load()`` with bomb warnings as errors and truncation refused."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img.load()
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise ImageError(f"Refused: the image has more than {MAX_PIXELS / 1e6:.0f} megapixels.") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"The image file is damaged or truncated ({exc}).") from exc


def _highbit_to_l(img: Image.Image, factor: int) -> Image.Image:
    """16-bit / 32-bit / float → 8-bit L rescaled to the full range; block mean by ``factor`` first
    (float32 accumulation, no full-size float copy)."""
    arr = np.asarray(img)
    if factor > 1:
        h, w = arr.shape[0] // factor * factor, arr.shape[1] // factor * factor
        arr = arr[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3),
                                                                                 dtype=np.float32)
    else:
        arr = arr.astype(np.float32)
    finite = np.isfinite(arr)
    lo = float(arr[finite].min()) if finite.any() else 0.0
    hi = float(arr[finite].max()) if finite.any() else 0.0
    np.nan_to_num(arr, copy=False, nan=lo, posinf=hi, neginf=lo)
    arr -= lo
    arr *= 255.0 / (hi - lo) if hi > lo else 0.0
    return Image.fromarray(arr.astype(np.uint8), mode="L")


def _shrink(img: Image.Image, max_side: int) -> Image.Image:
    """Reduce a big image by an integer factor *before* converting it (box average)."""
    factor = max(img.size) // max_side
    if img.mode in HIGHBIT_MODES:
        return _highbit_to_l(img, factor)
    if factor < 2:
        return img
    if img.mode in ("P", "1"):
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    return _reduce_in_strips(img, factor)


def _reduce_in_strips(img: Image.Image, factor: int, strip_bytes: int = 16 * 2**20) -> Image.Image:
    """``img.reduce(factor)`` a band of rows at a time: Pillow reduces RGBA/LA through a full-size
    premultiplied copy, so whole-image reduce would double the peak memory."""
    w, h = img.size
    rows = max(1, strip_bytes // (w * 4 * factor)) * factor
    out = Image.new(img.mode, ((w + factor - 1) // factor, (h + factor - 1) // factor))
    for y in range(0, h, rows):
        out.paste(img.crop((0, y, w, min(h, y + rows))).reduce(factor), (0, y // factor))
    return out


def _to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB; transparent parts become white."""
    mode = img.mode
    if mode == "P":
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
    elif mode in ("LA", "La", "PA", "RGBa"):
        img = img.convert("RGBA")
    elif mode not in ("RGB", "RGBA"):
        img = img.convert("RGB")  # 1, L, CMYK, YCbCr, LAB, HSV
    if img.mode == "RGBA":
        background = Image.new("RGB", img.size, (255, 255, 255))
        background.paste(img, mask=img.getchannel("A"))
        img = background
    return img


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation tag (1 = as stored) or 1 when absent/unreadable."""
    try:
        value = img.getexif().get(0x0112, 1)
    except (OSError, SyntaxError, ValueError, TypeError, KeyError, IndexError, AttributeError):
        return 1
    return value if isinstance(value, int) and value in range(1, 9) else 1


def _give_back_memory() -> None:
    """Return freed heap pages to the OS after a big decode (glibc keeps them in per-thread arenas
    otherwise: thirty uploads from thirty session threads left the server hundreds of MB bigger)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def load_image(data: bytes, *, max_side: int = MAX_SIDE) -> LoadedImage:
    """Decode and validate an uploaded image.

    Returns an RGB image whose longer side is at most ``max_side`` px; raises ``ImageError`` with a
    message meant for the user (naming the limit) when the file is refused. At most
    ``DECODE_SLOTS`` calls decode at once; the others wait up to ``DECODE_WAIT_S`` seconds.
    """
    if not data:
        raise ImageError("The file is empty (0 bytes).")
    if len(data) > MAX_BYTES:
        raise ImageError(f"The file is {len(data) / 1e6:.0f} MB; the limit is {MAX_BYTES / 1e6:.0f} MB.")
    img = _open(data)  # header only: bombs are refused here without waiting for a decode slot
    _check_geometry(*img.size)
    if img.format != "JPEG":  # a JPEG's budget is checked after draft() (decoded at reduced scale)
        _check_budget(img)
    if not _SLOTS.acquire(timeout=DECODE_WAIT_S):
        raise ImageError("The server is busy decoding other uploads; please try again in a moment.")
    try:
        return _load(img, data, max_side)
    finally:
        _SLOTS.release()


def _load(img: Image.Image, data: bytes, max_side: int) -> LoadedImage:
    fmt = img.format or "?"
    notices: list[str] = []
    try:
        frames = getattr(img, "n_frames", 1)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"The image file is damaged ({exc}).") from exc
    if frames > 1:
        notices.append(f"Animated {fmt} with {frames} frames: only the first frame is used.")
        img.seek(0)
    orientation = _orientation(img)
    w, h = img.size
    original = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
    _check_geometry(w, h)
    if fmt == "JPEG":
        img.draft(None, (max_side, max_side))  # decode at 1/2, 1/4 or 1/8 scale when that suffices
    _check_budget(img)
    _decode(img)
    big = img.width * img.height >= TRIM_PIXELS
    rgb = _to_rgb(_shrink(img, max_side))
    del img  # the full-size decode is freed here
    if big:
        _give_back_memory()
    for op in _TRANSPOSE.get(orientation, ()):
        rgb = rgb.transpose(op)
    if max(rgb.size) > max_side:
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    if max(original) > max_side:
        notices.append(f"Downscaled from {original[0]}×{original[1]} to {rgb.width}×{rgb.height} "
                       "before the model.")
    return LoadedImage(rgb, digest(data), original, fmt, tuple(notices))
