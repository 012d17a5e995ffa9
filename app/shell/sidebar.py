"""Sidebar widgets shared by every page: model picker and image input.

The chosen model and image live in ``st.session_state`` so every page sees the same ones.
"""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

from app.shell.resources import MODEL_KEY, untrained_key
from models.registry import default_model_name, get_spec, list_specs
from vizcore.core.images import ImageError, LoadedImage, load_image

LOG = logging.getLogger(__name__)
SAMPLES_DIR = Path(__file__).parent / "samples"
IMAGE_KEY = "image"
ERROR_KEY = "image_error"
UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"]


def sample_names() -> list[str]:
    """Bundled sample photos (see app/shell/samples/LICENSE.txt)."""
    return sorted(p.stem for p in SAMPLES_DIR.glob("*.jpg"))


def _accept(data: bytes, name: str) -> None:
    """Decode ``data``; keep the previous image if it is refused (nothing the user had is lost)."""
    try:
        img = load_image(data)
    except ImageError as exc:
        st.session_state[ERROR_KEY] = f"**{name}** was not accepted: {exc}"
        return
    except Exception as exc:
        LOG.exception("unexpected error decoding %s", name)
        st.session_state[ERROR_KEY] = f"**{name}** could not be read ({type(exc).__name__})."
        return
    st.session_state[IMAGE_KEY] = img
    st.session_state["image_name"] = name
    st.session_state[ERROR_KEY] = None


def _on_upload() -> None:
    f = st.session_state.get("uploader")
    if f is not None:
        _accept(f.getvalue(), f.name)


def _on_camera() -> None:
    f = st.session_state.get("camera")
    if f is not None:
        _accept(f.getvalue(), "webcam photo")


def _on_sample() -> None:
    name = st.session_state.get("sample")
    if name:
        _accept((SAMPLES_DIR / f"{name}.jpg").read_bytes(), f"sample: {name}")


def model_picker() -> str:
    """Select box over the registry; returns the chosen model name."""
    specs = list_specs()
    names = [s.name for s in specs]
    if MODEL_KEY not in st.session_state:
        st.session_state[MODEL_KEY] = default_model_name()
    st.selectbox(
        "Model", names, key=MODEL_KEY,
        format_func=lambda n: get_spec(n).display_name
        + (" · untrained" if st.session_state.get(untrained_key(n)) else ""),
        help="EfficientNet-Lite0 works offline. torchvision models load their ImageNet weights from "
        "the torch hub cache, or download them when the machine is online.",
    )
    return st.session_state[MODEL_KEY]


def image_input() -> LoadedImage | None:
    """Upload / webcam / sample picker; returns the current image (shared by all pages)."""
    if IMAGE_KEY not in st.session_state:
        _accept((SAMPLES_DIR / "chelsea.jpg").read_bytes(), "sample: chelsea")
    st.file_uploader("Upload a photo", type=UPLOAD_TYPES, key="uploader", on_change=_on_upload,
                     help="PNG, JPEG, WebP, BMP, GIF or TIFF, up to 25 MB.")
    st.selectbox("…or a sample photo", sample_names(), key="sample", index=None,
                 placeholder="Choose a sample…", on_change=_on_sample)
    if st.toggle("Use the webcam", key="use_camera"):
        st.camera_input("Take a photo", key="camera", on_change=_on_camera)
    img: LoadedImage | None = st.session_state.get(IMAGE_KEY)
    if img is not None:
        st.image(img.image, caption=f"{st.session_state.get('image_name', '')} · "
                 f"{img.original_size[0]}×{img.original_size[1]}", width="stretch")
        for notice in img.notices:
            st.caption(f"ℹ️ {notice}")
    return img


def sidebar() -> None:
    """Everything the shared sidebar shows."""
    with st.sidebar:
        model_picker()
        image_input()


def image_messages() -> None:
    """In the main area, above every page (also those that do not use the photo): why the last
    upload was refused (dismissed on the next change)."""
    if st.session_state.get(ERROR_KEY):
        st.error(st.session_state[ERROR_KEY] + " The previous image is still in use.", icon="🚫")


def current_image() -> LoadedImage:
    """The image chosen in the sidebar (a sample until the user picks one)."""
    img = st.session_state.get(IMAGE_KEY)
    if img is None:
        st.info("Choose an image in the sidebar to start.")
        st.stop()
    return img
