"""Sidebar widgets shared by every page: model picker and image input.

The chosen model and image live in ``st.session_state`` so every page sees the same ones.
"""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

from app.shell import presenter, share, uploads
from app.shell.errors import escape_md
from app.shell.resources import MODEL_KEY, untrained_key
from app.usermodel import draw as user_draw
from app.usermodel import panel as user_panel
from models.registry import default_model_name, get_spec, list_specs
from vizcore.core.images import ImageError, LoadedImage, load_image

LOG = logging.getLogger(__name__)
SAMPLES_DIR = Path(__file__).parent / "samples"
IMAGE_KEY = "image"
ERROR_KEY = "image_error"
UPLOADER_GEN = "uploader_gen"  # bumped to clear the uploader (a new widget key) after a sample is chosen
UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"]


def sample_names() -> list[str]:
    """Bundled sample photos (see app/shell/samples/LICENSE.txt)."""
    return sorted(p.stem for p in SAMPLES_DIR.glob("*.jpg"))


def _accept(data: bytes, name: str) -> None:
    """Decode ``data``; keep the previous image if it is refused (nothing the user had is lost)."""
    try:
        img = load_image(data)
    except ImageError as exc:
        st.session_state[ERROR_KEY] = f"**{escape_md(name)}** was not accepted: {escape_md(str(exc))}"
        return
    except Exception as exc:
        LOG.exception("unexpected error decoding %s", name)
        st.session_state[ERROR_KEY] = f"**{escape_md(name)}** could not be read ({type(exc).__name__})."
        return
    st.session_state[IMAGE_KEY] = img
    st.session_state["image_name"] = name
    st.session_state[ERROR_KEY] = None


def uploader_key() -> str:
    """Session-state key of the current file uploader ("uploader", then "uploader-N" once cleared)."""
    gen = st.session_state.get(UPLOADER_GEN, 0)
    return "uploader" if gen == 0 else f"uploader-{gen}"


def _on_upload() -> None:
    f = st.session_state.get(uploader_key())
    if uploads.received(f):
        try:
            data = uploads.take(f)  # counted against this session's upload budget
        except uploads.UploadRefused as exc:
            st.session_state[ERROR_KEY] = f"**{escape_md(f.name)}** was not accepted: {exc}."
            return
        finally:
            uploads.release(f)  # read once: free Streamlit's in-memory copy now
        _accept(data, f.name)
        if st.session_state.get(ERROR_KEY) is None:
            st.session_state["sample"] = None  # the shared link must not name a sample no longer shown


def _on_camera() -> None:
    f = st.session_state.get("camera")
    if f is not None:
        _accept(f.getvalue(), "webcam photo")


def _on_sample() -> None:
    name = st.session_state.get("sample")
    if name:
        _accept((SAMPLES_DIR / f"{name}.jpg").read_bytes(), f"sample: {name}")
        st.session_state[UPLOADER_GEN] = st.session_state.get(UPLOADER_GEN, 0) + 1  # unlist old files


def model_picker() -> str:
    """Select box over the registry; returns the chosen model name."""
    specs = list_specs()
    names = [s.name for s in specs] + user_panel.extra_names()  # + your own models (app/usermodel)
    user_panel.before_picker(names, MODEL_KEY, default_model_name())
    if MODEL_KEY not in st.session_state:
        st.session_state[MODEL_KEY] = default_model_name()
    st.selectbox(
        "Model", names, key=MODEL_KEY,
        # the label must not change between runs: Streamlit 1.67 keeps a select box's value as its
        # label, so a " · untrained" suffix added later reset the model on the next widget change
        format_func=lambda n: user_panel.display_name(n) or get_spec(n).display_name,
        help="EfficientNet-Lite0 and LeNet-5 work offline. torchvision models load their ImageNet weights "
        "from the torch hub cache, or download them when the machine is online. *Your own model…* "
        "loads a classifier you trained (safetensors, state dict or ONNX).",
    )
    user_panel.panel(st.session_state[MODEL_KEY])
    return st.session_state[MODEL_KEY]


def image_input() -> LoadedImage | None:
    """Upload / webcam / sample picker; returns the current image (shared by all pages)."""
    if IMAGE_KEY not in st.session_state:
        _accept((SAMPLES_DIR / "chelsea.jpg").read_bytes(), "sample: chelsea")
    st.selectbox("Sample photo", sample_names(), key="sample", index=None,
                 placeholder="Choose a sample…", on_change=_on_sample)
    st.file_uploader("…or upload a photo", type=None, key=uploader_key(), on_change=_on_upload,
                     max_upload_size=25,  # the server allows 200 MB for model files (app/usermodel)
                     help="PNG, JPEG, WebP, BMP, GIF or TIFF, up to 25 MB (recognised by content, "
                     "whatever the file name says).")
    if st.toggle("Use the webcam", key="use_camera"):
        st.camera_input("Take a photo", key="camera", on_change=_on_camera)
    img: LoadedImage | None = st.session_state.get(IMAGE_KEY)
    if img is not None:
        st.image(img.image, caption=f"{escape_md(st.session_state.get('image_name', ''))} · "
                 f"{img.original_size[0]}×{img.original_size[1]}", width="stretch")
        for notice in img.notices:
            st.caption(f"ℹ️ {notice}")
    return img


def sidebar() -> None:
    """Everything the shared sidebar shows."""
    with st.sidebar:
        share.sync(MODEL_KEY, "sample", choices={MODEL_KEY: [s.name for s in list_specs()],
                                                 "sample": sample_names()},
                   on_restore={"sample": _on_sample})
        chosen = untrained_key(st.session_state.get(MODEL_KEY, default_model_name()))
        if st.session_state.get(chosen) or chosen in st.query_params:  # links to untrained models too
            share.sync(chosen, defaults={chosen: False})
        left, right = st.columns([4, 3], vertical_alignment="center")
        with left:
            presenter.switch()
        with right:
            share.button()
        name = model_picker()
        user_draw.draw_input(user_panel.spec_of(name), IMAGE_KEY)  # small grayscale models: draw a digit
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
