"""The session's training set for the Transfer learning page: class name → images (bounded).

Images are decoded once by the app's hardened loader and kept downscaled (longest side ``KEEP_PX``),
so one session holds at most ``MAX_TOTAL`` × ~0.3 MB.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st
from PIL import Image

from vizcore.core.images import ImageError, load_image

KEY = "transfer_set"
MAX_CLASSES = 10
MAX_PER_CLASS = 40
MAX_TOTAL = 200
KEEP_PX = 320
FOLDER_ENV = "CNN_LENS_TRANSFER_DIR"  # set by `cnn-lens run --transfer-folder DIR`
MAX_FILE_BYTES = 25 * 2**20


@dataclass
class TrainingSet:
    """Mutable per-session set of classes (insertion order = class index)."""

    classes: dict[str, list[Image.Image]] = field(default_factory=dict)
    version: int = 0  # bumped on every change: part of every cache key

    @property
    def total(self) -> int:
        """Number of images over all classes."""
        return sum(len(v) for v in self.classes.values())


def training_set() -> TrainingSet:
    """This session's set (created empty on first use)."""
    if KEY not in st.session_state:
        st.session_state[KEY] = TrainingSet()
    return st.session_state[KEY]


def add_class(name: str) -> str | None:
    """Add an empty class; returns why it was refused, or None."""
    ts = training_set()
    name = " ".join(name.split())[:40]
    if not name:
        return "Type a name for the class first."
    if name in ts.classes:
        return f"There is already a class called “{name}”."
    if len(ts.classes) >= MAX_CLASSES:
        return f"At most {MAX_CLASSES} classes."
    ts.classes[name] = []
    ts.version += 1
    return None


def remove_class(name: str) -> None:
    """Delete a class and its images."""
    ts = training_set()
    ts.classes.pop(name, None)
    ts.version += 1


def _shrink(img: Image.Image) -> Image.Image:
    img = img.convert("RGB")
    img.thumbnail((KEEP_PX, KEEP_PX), Image.Resampling.BILINEAR)
    return img


def add_images(name: str, files: list[tuple[str, bytes]]) -> list[str]:
    """Decode and add ``(file name, bytes)`` to class ``name``; returns one message per refusal."""
    ts = training_set()
    problems: list[str] = []
    for fname, data in files:
        if len(ts.classes.get(name, [])) >= MAX_PER_CLASS or ts.total >= MAX_TOTAL:
            problems.append(f"{fname}: not added — at most {MAX_PER_CLASS} images per class and "
                            f"{MAX_TOTAL} in all.")
            continue
        try:
            img = load_image(data).image
        except ImageError as exc:
            problems.append(f"{fname}: {exc}")
            continue
        ts.classes.setdefault(name, []).append(_shrink(img))
        ts.version += 1
    return problems


def add_pictures(name: str, pictures: list[Image.Image]) -> None:
    """Add already-decoded pictures (the demo set, a teacher's folder) to class ``name``."""
    ts = training_set()
    room = min(MAX_PER_CLASS - len(ts.classes.get(name, [])), MAX_TOTAL - ts.total)
    ts.classes.setdefault(name, []).extend(_shrink(p) for p in pictures[:max(0, room)])
    ts.version += 1


def remove_image(name: str, index: int) -> None:
    """Delete one image of class ``name``."""
    ts = training_set()
    if name in ts.classes and 0 <= index < len(ts.classes[name]):
        del ts.classes[name][index]
        ts.version += 1


def teacher_folder() -> Path | None:
    """The folder the teacher gave the CLI (one sub-folder per class), if any."""
    raw = os.environ.get(FOLDER_ENV, "")
    path = Path(raw) if raw else None
    return path if path is not None and path.is_dir() else None


def load_folder(folder: Path) -> list[str]:
    """Replace the set by ``folder``'s sub-folders (class = sub-folder name, files in name order);
    returns one message per file or class that was skipped."""
    ts = training_set()
    ts.classes.clear()
    ts.version += 1
    problems: list[str] = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir())[:MAX_CLASSES]:
        if (why := add_class(sub.name)) is not None:
            problems.append(why)
            continue
        files = [f for f in sorted(sub.iterdir()) if f.is_file()][:MAX_PER_CLASS]
        big = [f.name for f in files if f.stat().st_size > MAX_FILE_BYTES]
        problems += [f"{sub.name}/{n}: larger than 25 MB" for n in big]
        problems += add_images(sub.name, [(f"{sub.name}/{f.name}", f.read_bytes()) for f in files
                                          if f.name not in big])
    return problems
