"""Exemplar index of a folder of images: every channel of one layer, every image, one pass.

``build_index`` reads the files one by one with the hardened loader (``vizcore.core.images.load_image``;
unreadable files are skipped and reported, never fatal), preprocesses them exactly like the page does
(``vizcore.core.preprocess.resize_crop``) and scores each batch with one forward that stops at the layer
(``vizcore.featvis.exemplars.channel_scorer``): for every image and channel the max of the channel's map,
its mean and the argmax position. Only the current top-k of some channel keep their preprocessed
pixels (a running merge after every batch), so memory holds at most min(N, C·k) small S×S images,
never the folder's full-resolution photos. ``ExemplarIndex.exemplars(channel)`` then gives the same
``Exemplars`` as ``vizcore.featvis.exemplars.exemplars`` would on the same images. Storage:
``vizcore.featvis.exemplar_store``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from models.registry import ModelSpec
from vizcore.core.hooks import resolve_layer
from vizcore.core.images import MAX_BYTES, ImageError, load_image
from vizcore.core.preprocess import resize_crop
from vizcore.featvis.exemplars import Exemplars, Scores, channel_scorer, check_channel, make_exemplar, rank
from vizcore.inside.features import spatial_layers
from vizcore.inside.receptive import RFInfo, trace_model


@dataclass(frozen=True)
class Skipped:
    """A folder entry that was not indexed: its relative ``name`` and the ``reason`` in words."""

    name: str
    reason: str


@dataclass(frozen=True)
class BatchDone:
    """Progress after one batch: ``images`` scored in it, ``indexed`` so far, ``seen`` of ``total``
    files tried so far, ``seconds`` since the start."""

    number: int
    images: int
    indexed: int
    seen: int
    total: int
    seconds: float


@dataclass(frozen=True, eq=False)
class ExemplarIndex:
    """Scores of N images for all C channels of ``layer`` (model ``model``, ``trained`` weights).

    ``names`` (N,) str relative file names; ``values`` / ``means`` (N, C) float32 max / mean of each
    channel's map; ``positions`` (N, C) int32 flat argmax (row * W + col) in the (H, W) =
    ``map_size`` map; ``kept`` (M,) int64 ascending indices of the images in some channel's top
    ``k`` and ``pixels`` (M, S, S, 3) uint8 their preprocessed pictures (S = ``input_size``).
    """

    name: str
    model: str
    trained: bool
    layer: str
    input_size: int
    rf: RFInfo
    map_size: tuple[int, int]
    k: int
    names: np.ndarray
    values: np.ndarray
    means: np.ndarray
    positions: np.ndarray
    kept: np.ndarray
    pixels: np.ndarray
    folder: str = ""
    skipped: int = 0
    seconds: float = 0.0
    created: float = 0.0

    @property
    def n_images(self) -> int:
        """N, the number of indexed images."""
        return int(self.values.shape[0])

    @property
    def n_channels(self) -> int:
        """C, the number of channels of the layer."""
        return int(self.values.shape[1])

    def exemplars(self, channel: int, k: int | None = None) -> Exemplars:
        """The top ``k`` (default and at most ``self.k``) images for ``channel``, best first, with
        their file names; raises ``ValueError`` for a channel out of range."""
        check_channel(self.layer, channel, self.n_channels)
        k = self.k if k is None else max(0, min(k, self.k))
        v, m, pos = self.values[:, channel], self.means[:, channel], self.positions[:, channel]
        order = rank(v, m, k)
        rows = np.searchsorted(self.kept, order)
        if np.any(rows >= len(self.kept)) or np.any(self.kept[np.minimum(rows, len(self.kept) - 1)]
                                                    != order):
            raise ValueError(f"The exemplar index {self.name!r} is incomplete (pixels missing).")
        top = tuple(make_exemplar(i, v[i], m[i], pos[i], self.pixels[r].copy(), rf=self.rf,
                                  map_width=self.map_size[1]) for i, r in zip(order, rows, strict=True))
        return Exemplars(self.layer, channel, self.rf, self.map_size, top, self.n_images,
                         names=tuple(str(self.names[i]) for i in order))


def folder_files(folder: Path | str, *, recursive: bool = False) -> tuple[list[tuple[str, Path]],
                                                                          list[Skipped]]:
    """Files of ``folder`` as (relative posix name, path), sorted by name, and the entries passed
    over: sub-folders (unless ``recursive``) and anything that is not a regular file. Hidden entries
    (``.name``) are ignored silently; symlinked folders are not followed. Raises ``ValueError`` when
    ``folder`` is not an existing folder."""
    root = Path(folder).expanduser()
    if not root.exists():
        raise ValueError(f"Folder not found: {root}")
    if not root.is_dir():
        raise ValueError(f"Not a folder: {root}")
    files: list[tuple[str, Path]] = []
    skipped: list[Skipped] = []
    for here, dirs, names in os.walk(root, followlinks=False):
        base = Path(here)
        rel = base.relative_to(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if not recursive:
            skipped += [Skipped(f"{(rel / d).as_posix()}/", "a sub-folder (not searched: recursion "
                                "is off)") for d in dirs]
            dirs[:] = []
        for n in sorted(names):
            if n.startswith("."):
                continue
            p = base / n
            if p.is_file():
                files.append(((rel / n).as_posix(), p))
            else:
                skipped.append(Skipped((rel / n).as_posix(), "not a regular file"))
    files.sort(key=lambda f: f[0])
    return files, skipped


def read_image(path: Path, spec: ModelSpec) -> np.ndarray:
    """The file at ``path`` as the model sees it: (S, S, 3) uint8, S = ``spec.input_size``.

    Raises ``ImageError`` (or ``OSError``) with the reason when the file cannot be used."""
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise ImageError(f"The file is {size / 1e6:.0f} MB; the limit is {MAX_BYTES / 1e6:.0f} MB.")
    return np.asarray(resize_crop(load_image(path.read_bytes()).image, spec))


def check_layer(model: nn.Module, layer: str, *, input_size: int) -> tuple[RFInfo, tuple[int, ...]]:
    """(RF, output shape (C, H, W)) of ``layer``; ``ValueError`` with close matches for an unknown
    name and with examples for a layer without a spatial map (one traced forward)."""
    resolve_layer(model, layer)
    trace = trace_model(model, input_size=input_size)
    ok = spatial_layers(trace)
    if layer not in ok:
        shape = "×".join(map(str, trace.layer_shape.get(layer, ()))) or "none"
        examples = ", ".join(ok[:: max(1, len(ok) // 4)][:4])
        raise ValueError(f"Layer {layer!r} has no spatial feature map (output {shape}); exemplars "
                         f"need a layer with an H×W map, e.g. {examples}.")
    return trace.layer_rf[layer], trace.layer_shape[layer]


def _merge(top: tuple[np.ndarray, ...] | None, sc: Scores, first: int, k: int) -> tuple[np.ndarray, ...]:
    """Running top-k per channel: (values, means, indices), each (k', C), merged with a batch."""
    b, c = sc.values.shape
    new = (sc.values, sc.means, np.broadcast_to(np.arange(first, first + b)[:, None], (b, c)))
    v, m, i = new if top is None else (np.concatenate([t, n]) for t, n in zip(top, new, strict=True))
    order = np.lexsort((i, -m, -v), axis=0)[:k]  # same order as ``rank``: max, mean, lower index
    return tuple(np.take_along_axis(a, order, 0) for a in (v, m, i))


def build_index(
    model: nn.Module, files: Sequence[tuple[str, Path]], *, spec: ModelSpec, trained: bool,
    layer: str, name: str, k: int = 6, batch: int = 16, folder: str = "",
    on_skip: Callable[[Skipped], None] | None = None,
    on_batch: Callable[[BatchDone], None] | None = None,
) -> ExemplarIndex:
    """Index ``files`` (name, path) for every channel of ``layer`` in batches of ``batch`` images.

    Unreadable files are reported through ``on_skip`` and left out. Raises ``ValueError`` for an unknown
    or non-spatial layer, a bad ``k`` / ``batch`` or no readable image. Hooks live only during each
    batch's forward; the model's flags are restored also on error.
    """
    if k < 1 or batch < 1:
        raise ValueError(f"top and batch must be at least 1 (got {k} and {batch}).")
    start = time.perf_counter()
    rf, shape = check_layer(model, layer, input_size=spec.input_size)
    names: list[str] = []
    parts: list[Scores] = []
    kept: dict[int, np.ndarray] = {}
    top: tuple[np.ndarray, ...] | None = None
    buf: list[np.ndarray] = []
    n_skipped = 0

    def flush(seen: int) -> None:
        nonlocal top
        first = len(names) - len(buf)
        with channel_scorer(model, layer=layer, mean=spec.mean, std=spec.std) as score:
            sc = score(np.stack(buf))
        parts.append(sc)
        top = _merge(top, sc, first, k)
        winners = set(np.unique(top[2]).tolist())
        kept.update({first + j: px for j, px in enumerate(buf) if first + j in winners})
        for i in [i for i in kept if i not in winners]:
            del kept[i]
        if on_batch is not None:
            on_batch(BatchDone(len(parts), len(buf), len(names), seen, len(files),
                               time.perf_counter() - start))
        buf.clear()

    for seen, (rel, path) in enumerate(files, 1):
        try:
            buf.append(read_image(path, spec))
            names.append(rel)
        except (ImageError, OSError) as exc:
            n_skipped += 1
            if on_skip is not None:
                on_skip(Skipped(rel, str(exc)))
            continue
        if len(buf) == batch:
            flush(seen)
    if buf:
        flush(len(files))
    if not names:
        raise ValueError(f"No readable images: all {len(files)} files were skipped.")
    order = np.array(sorted(kept), dtype=np.int64)
    return ExemplarIndex(
        name=name, model=spec.name, trained=trained, layer=layer, input_size=spec.input_size, rf=rf,
        map_size=(int(shape[1]), int(shape[2])), k=k, names=np.array(names, dtype=str),
        **_joined(parts), kept=order, pixels=np.stack([kept[i] for i in order]), folder=folder,
        skipped=n_skipped, seconds=time.perf_counter() - start, created=time.time())


def _joined(parts: Sequence[Scores]) -> dict[str, np.ndarray]:
    """The per-batch scores as one (N, C) array each: ``values``, ``means``, ``positions``."""
    return {f: np.concatenate([getattr(p, f) for p in parts]) for f in ("values", "means", "positions")}
