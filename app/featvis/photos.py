"""The photos the "Dataset exemplars" view ranks: the bundled samples plus the user's uploads.

Each photo is decoded and cropped once per session and model (``tasks.photo_pixels``, outside any
lock) and kept as a small (S, S, 3) array; at most ``MAX_FILES`` uploads are used, each counted
against the session's upload budget (``app.shell.uploads``). File names are escaped wherever shown.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from app.featvis import tasks
from app.shell import uploads
from app.shell.errors import escape_md
from app.shell.sidebar import SAMPLES_DIR
from models.registry import LoadedModel
from vizcore.core.images import ImageError

MAX_FILES = 8
PIXELS_KEY = "fv_pixels"  # session state: {(file key, model): (S, S, 3) uint8}


def _pixels(key: tuple[str, str], data: bytes, loaded: LoadedModel, store: dict) -> np.ndarray:
    if key not in store:
        store[key] = tasks.photo_pixels(data, loaded)
    return store[key]


def chosen(where: Any, loaded: LoadedModel) -> tuple[np.ndarray, list[str]]:
    """(N, S, S, 3) uint8 of the samples + accepted uploads, and a message per skipped file."""
    ups = where.file_uploader(
        f"Your photos (optional, up to {MAX_FILES}; the bundled samples are always included)",
        type=None, accept_multiple_files=True, key="fv_photos",
        help="PNG, JPEG, WebP, BMP, GIF or TIFF, recognised by content.")
    store: dict = st.session_state.setdefault(PIXELS_KEY, {})
    model = loaded.spec.name
    arrays = []
    for path in sorted(SAMPLES_DIR.glob("*.jpg")):
        arrays.append(_pixels((f"sample:{path.name}", model), path.read_bytes(), loaded, store))
    skipped: list[str] = []
    ups = [f for f in ups or [] if uploads.received(f)]
    if len(ups) > MAX_FILES:
        skipped.append(f"{len(ups) - MAX_FILES} photo(s) not used: at most {MAX_FILES} uploads are "
                       "ranked here (index a whole folder with `cnn-lens exemplars` instead).")
    for f in ups[:MAX_FILES]:
        try:
            key = (f"upload:{getattr(f, 'file_id', '')}", model)
            if key not in store:
                data = uploads.take(f)
                store[key] = tasks.photo_pixels(data, loaded)
            arrays.append(store[key])
        except (ImageError, uploads.UploadRefused) as exc:
            skipped.append(f"**{escape_md(f.name)}** skipped: {escape_md(str(exc))}")
    return np.stack(arrays), skipped
