"""Exemplar indexes on disk: one ``DiskCache`` entry per set plus one manifest per model.

Namespace ``exemplars`` of the disk cache (``$CNN_LENS_CACHE/exemplars``). A set is stored under
``set_key(model, trained, layer, name)`` (re-indexing the same name replaces it); its metadata is a
JSON string in a 0-d array, everything else plain arrays, so loading never unpickles. The manifest of
(model, trained) lists every stored set (layer, name, size, key, time): ``list_sets`` reads it,
``save_index`` writes the set first and then the manifest. Both writes are atomic
(``DiskCache.put``), so a reader sees either the old or the new file, never half of one; writers of
the manifest take a file lock around writing the set and its manifest row, so two CLI runs at once
neither lose each other's entry nor pair one run's row with the other run's set.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vizcore.core.diskcache import DiskCache, make_key
from vizcore.featvis.exemplar_index import ExemplarIndex
from vizcore.inside.receptive import RFInfo

NAMESPACE = "exemplars"
FORMAT = 1  # bump when the stored arrays change meaning
_COLUMNS = ("layers", "names", "keys", "folders", "sizes", "created")


@dataclass(frozen=True)
class SetInfo:
    """One stored set as listed in the manifest."""

    name: str
    layer: str
    n_images: int
    key: str
    folder: str
    created: float


def cache(root: Path | str | None = None) -> DiskCache:
    """The exemplar namespace of the disk cache at ``root`` (default ``$CNN_LENS_CACHE``)."""
    return DiskCache(root, namespace=NAMESPACE)


def set_key(model: str, trained: bool, layer: str, name: str) -> str:
    """Cache key of the set ``name`` of ``layer``."""
    return make_key(kind="exemplar-set", format=FORMAT, model=model, trained=trained, layer=layer,
                    name=name)


def manifest_key(model: str, trained: bool) -> str:
    """Cache key of the manifest of every set of (``model``, ``trained``)."""
    return make_key(kind="exemplar-manifest", format=FORMAT, model=model, trained=trained)


def to_arrays(index: ExemplarIndex) -> dict[str, np.ndarray]:
    """The npz arrays of ``index`` (no objects: metadata is a JSON string)."""
    meta = {"name": index.name, "model": index.model, "trained": index.trained, "layer": index.layer,
            "input_size": index.input_size, "rf": [index.rf.size, index.rf.jump, index.rf.start],
            "map_size": list(index.map_size), "k": index.k, "folder": index.folder,
            "skipped": index.skipped, "seconds": index.seconds, "created": index.created}
    return {"meta": np.array(json.dumps(meta)), "names": index.names, "values": index.values,
            "means": index.means, "positions": index.positions, "kept": index.kept,
            "pixels": index.pixels}


def from_arrays(arrays: dict[str, np.ndarray]) -> ExemplarIndex:
    """Inverse of ``to_arrays``; ``ValueError`` when the arrays do not form a consistent index."""
    try:
        meta = json.loads(str(arrays["meta"]))
        idx = ExemplarIndex(
            name=str(meta["name"]), model=str(meta["model"]), trained=bool(meta["trained"]),
            layer=str(meta["layer"]), input_size=int(meta["input_size"]), rf=RFInfo(*meta["rf"]),
            map_size=(int(meta["map_size"][0]), int(meta["map_size"][1])), k=int(meta["k"]),
            names=arrays["names"], values=arrays["values"], means=arrays["means"],
            positions=arrays["positions"], kept=arrays["kept"], pixels=arrays["pixels"],
            folder=str(meta["folder"]), skipped=int(meta["skipped"]), seconds=float(meta["seconds"]),
            created=float(meta["created"]))
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ValueError(f"Not an exemplar index ({exc!r}).") from exc
    n, s = idx.names.shape[0], idx.input_size
    if (idx.values.ndim != 2 or idx.values.shape[0] != n or idx.means.shape != idx.values.shape
            or idx.positions.shape != idx.values.shape or idx.pixels.shape != (len(idx.kept), s, s, 3)):
        raise ValueError("The exemplar index arrays have inconsistent shapes.")
    return idx


@contextmanager
def _locked(store: DiskCache) -> Iterator[None]:
    """An exclusive lock on the namespace's manifest (released on exit, also on error)."""
    store.root.mkdir(parents=True, exist_ok=True)
    with open(store.root / "manifest.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _manifest(store: DiskCache, model: str, trained: bool) -> list[SetInfo]:
    data = store.get(manifest_key(model, trained))
    if data is None or any(c not in data for c in _COLUMNS):
        return []
    cols = [data[c].tolist() for c in _COLUMNS]
    return [SetInfo(str(n), str(layer), int(size), str(key), str(folder), float(t))
            for layer, n, key, folder, size, t in zip(*cols, strict=True)]


def save_index(index: ExemplarIndex, store: DiskCache | None = None) -> Path:
    """Store ``index`` (replacing a set of the same name) and list it in the manifest; returns the
    path of the set's file."""
    store = store or cache()
    key = set_key(index.model, index.trained, index.layer, index.name)
    with _locked(store):  # the set and its manifest row come from the same run
        path = store.put(key, to_arrays(index))
        rows = [s for s in _manifest(store, index.model, index.trained)
                if (s.layer, s.name) != (index.layer, index.name)]
        rows.append(SetInfo(index.name, index.layer, index.n_images, key, index.folder, index.created))
        rows.sort(key=lambda s: (s.layer, s.name))
        store.put(manifest_key(index.model, index.trained), {
            "layers": np.array([s.layer for s in rows], dtype=str),
            "names": np.array([s.name for s in rows], dtype=str),
            "keys": np.array([s.key for s in rows], dtype=str),
            "folders": np.array([s.folder for s in rows], dtype=str),
            "sizes": np.array([s.n_images for s in rows], dtype=np.int64),
            "created": np.array([s.created for s in rows], dtype=np.float64)})
    return path


def list_sets(model: str, trained: bool, layer: str | None = None,
              store: DiskCache | None = None) -> list[SetInfo]:
    """Stored sets of (``model``, ``trained``), of ``layer`` only when given, sorted by layer and
    name; sets whose file has gone are left out."""
    store = store or cache()
    return [s for s in _manifest(store, model, trained)
            if (layer is None or s.layer == layer) and s.key in store]


def load_index(key: str, store: DiskCache | None = None) -> ExemplarIndex:
    """The set stored under ``key``; ``ValueError`` when it is missing or unreadable."""
    store = store or cache()
    arrays = store.get(key)
    if arrays is None:
        raise ValueError("The exemplar index is missing or unreadable; index the folder again.")
    return from_arrays(arrays)
