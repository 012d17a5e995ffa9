"""A clickable picture that always fits its column (our own small Streamlit component).

``click_image(img, key=…)`` shows ``img`` as wide as its column — never wider, at most ``max_width``
CSS px — re-reports its height when the column changes width (window resize, zoom, sidebar), and
returns the last click as ``{"x", "y", "width", "height", "unix_time"}`` in displayed pixels (the same
shape as streamlit-image-coordinates, so ``click_xy`` converts it to image pixels).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import streamlit.components.v1 as components
from PIL import Image

from vizcore.core.render import png_bytes

_FRONTEND = Path(__file__).resolve().parent
_component = components.declare_component("cnn_lens_click_image", path=str(_FRONTEND))


def data_url(img: Image.Image) -> str:
    """``img`` as a PNG data URL."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(img)).decode()


def click_image(img: Image.Image, *, key: str, max_width: int | None = None, cursor: str = "pointer",
                pixelated: bool = False, alt: str = "") -> dict[str, Any] | None:
    """Show ``img`` fitted to its column; the last click on it (None before the first click).

    ``max_width`` caps the displayed width in CSS px (default: no cap, the column's width);
    ``pixelated`` keeps square units sharp when the browser enlarges the picture."""
    return _component(src=data_url(img), max_width=max_width, cursor=cursor, pixelated=pixelated,
                      alt=alt, key=key, default=None)
