"""On-disk cache for expensive, deterministic results (feature visualisations).

Entries are ``.npz`` files named by the SHA-256 of their key (model, weights, layer, channel,
settings, seed, code version), so every session and every restart sees them. Writes are atomic
(temporary file in the same folder, then ``os.replace``): a reader never sees half a file, and two
writers of the same key both leave a complete entry. Location: ``$CNN_LENS_CACHE`` or
``~/.cache/cnn-lens``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

VERSION = 1  # bump when the rendering code changes what a key produces


def default_root() -> Path:
    """``$CNN_LENS_CACHE`` if set, else ``~/.cache/cnn-lens``."""
    env = os.environ.get("CNN_LENS_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "cnn-lens"


def make_key(**parts: object) -> str:
    """Stable hex key of JSON-serialisable ``parts`` (order-independent)."""
    blob = json.dumps({"v": VERSION, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class DiskCache:
    """A folder of ``<key>.npz`` entries, each a dict of numpy arrays."""

    def __init__(self, root: Path | str | None = None, *, namespace: str = "actmax") -> None:
        self.root = (Path(root) if root is not None else default_root()) / namespace

    def path(self, key: str) -> Path:
        """Where ``key`` lives (two-level fan-out keeps folders small)."""
        return self.root / key[:2] / f"{key}.npz"

    def get(self, key: str) -> dict[str, np.ndarray] | None:
        """The stored arrays, or ``None`` when absent or unreadable (a corrupt entry is a miss)."""
        p = self.path(key)
        try:
            with np.load(p, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):
            return None

    def put(self, key: str, arrays: dict[str, np.ndarray]) -> Path:
        """Store ``arrays`` atomically under ``key``; returns the path."""
        p = self.path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".tmp-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **arrays)
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return p

    def write_problem(self) -> str:
        """Why entries cannot be stored here ("" when the folder is writable): tried by creating and
        removing a small file, so a read-only volume or a file in the way is found before a long run."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".probe-")
            os.close(fd)
            os.unlink(tmp)
        except OSError as exc:
            return f"the cache folder {self.root} is not writable ({exc.strerror or type(exc).__name__})"
        return ""

    def __contains__(self, key: str) -> bool:
        return self.path(key).exists()
