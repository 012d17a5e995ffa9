"""Draw-a-digit input: a drawable canvas in the sidebar while the model is a small grayscale one.

Each finished stroke sends the canvas to the server; the ink is centred like the training digits
(``digit.centre_digit``) and becomes the current image, so Predict, Feature maps and Grad-CAM update.
"""

from __future__ import annotations

import hashlib
import io

import streamlit as st

from app.usermodel.digit import centre_digit
from models.registry import ModelSpec
from vizcore.core.images import ImageError, load_image

MAX_DRAW_INPUT = 64  # px: models at most this small (and 1-channel) get the canvas
CANVAS_PX = 224
LAST_KEY = "draw_last"  # digest of the drawing last turned into the current image


def wanted(spec: ModelSpec | None) -> bool:
    """True for a small grayscale model (LeNet-5, a user's MNIST-style net)."""
    return spec is not None and spec.channels == 1 and spec.input_size <= MAX_DRAW_INPUT


def _use(pixels: object, image_key: str) -> None:
    """Turn the canvas pixels into the current image (once per distinct drawing)."""
    digit = centre_digit(pixels)
    if digit is None:
        return
    buf = io.BytesIO()
    digit.save(buf, format="PNG")
    data = buf.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    if st.session_state.get(LAST_KEY) == digest:
        return
    try:
        img = load_image(data)
    except ImageError as exc:  # not expected for a 128×128 PNG; say so rather than fail silently
        st.caption(f"The drawing could not be used: {exc}")
        return
    st.session_state[LAST_KEY] = digest
    st.session_state[image_key] = img
    st.session_state["image_name"] = "your drawing"


def draw_input(spec: ModelSpec | None, image_key: str) -> None:
    """The canvas (only for small grayscale models); a stroke replaces the current image."""
    if not wanted(spec):
        return
    from streamlit_drawable_canvas import st_canvas

    st.markdown("**Draw a digit**")
    st.caption("White on black, like the training digits; every stroke updates every page. The "
               "toolbar above the canvas undoes, redoes or clears.")
    st.space(36)  # room for the canvas toolbar, which floats above the canvas
    result = st_canvas(stroke_width=18, stroke_color="#FFFFFF", background_color="#000000",
                       height=CANVAS_PX, width=CANVAS_PX, drawing_mode="freedraw",
                       return_image_data=True, key="digit_canvas")
    pixels = result.image_data
    if pixels is not None:
        _use(pixels, image_key)
