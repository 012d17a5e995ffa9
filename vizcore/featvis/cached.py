"""Feature visualisations through the on-disk cache, computed in batches of channels on a miss.

Each (model, weights, layer, kind, channel, settings) is one cache entry, so a layer atlas, a single
channel and the CLI share results. With diversity the images of one channel depend on each other
and the whole set is one entry.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from torch import nn

from vizcore.core.diskcache import DiskCache, make_key
from vizcore.featvis.objectives import Target
from vizcore.featvis.render import Guard, Progress, Settings, render


@dataclass(frozen=True)
class Visuals:
    """``images`` (N, S, S, 3) uint8 in ``indices`` order; ``values`` (N,) final objective;
    ``history`` (N, steps) objective per step; ``hits`` how many came from the disk cache;
    ``store_error`` says why the new ones could not be stored (they are still returned)."""

    images: np.ndarray
    values: np.ndarray
    history: np.ndarray
    indices: tuple[int, ...]
    hits: int
    seconds: float
    store_error: str = ""  # why results could not be written to the disk cache ("" = stored)


@dataclass(frozen=True)
class Model:
    """The model plus what identifies it in the cache and how it wants its input."""

    net: nn.Module
    name: str
    trained: bool
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


def entry_key(m: Model, target: Target, index: int | tuple[int, ...], settings: Settings) -> str:
    """Cache key of one channel (or one diversity set)."""
    return make_key(model=m.name, trained=m.trained, layer=target.hooked_layer, kind=target.kind,
                    index=index, row=target.row, col=target.col, settings=settings.as_dict())


def _lookup(m: Model, target: Target, settings: Settings, cache: DiskCache | None,
            ) -> tuple[list[str], list[tuple[int, ...]], dict[str, dict[str, np.ndarray]]]:
    """(cache keys, channel groups, entries already in ``cache``): one group per channel, or one
    for all channels when diversity couples them."""
    if settings.diversity:
        groups: list[tuple[int, ...]] = [tuple(target.indices)]
        keys = [entry_key(m, target, tuple(target.indices), settings)]
    else:
        groups = [(i,) for i in target.indices]
        keys = [entry_key(m, target, i, settings) for i in target.indices]
    found: dict[str, dict[str, np.ndarray]] = {}
    if cache is not None:
        for k in keys:
            hit = cache.get(k)
            if hit is not None:
                found[k] = hit
    return keys, groups, found


def visualise(
    m: Model, target: Target, *, settings: Settings, cache: DiskCache | None = None,
    batch: int = 8, progress: Progress | None = None, preview_every: int = 8, compute: bool = True,
    guard: Guard | None = None,
) -> Visuals | None:
    """Feature visualisation of every ``target.indices`` item, from ``cache`` when present.

    Misses are optimised ``batch`` channels at a time (one optimisation per batch) and stored.
    ``progress(done, total, preview)`` counts optimisation steps over all missing batches. With
    ``compute=False`` nothing runs the model: any miss (absent or unreadable entry) returns ``None``.
    ``guard`` is entered around every optimisation step (see ``render``). A finished batch is
    stored at once, so a cancelled run keeps the batches it completed.
    """
    start = time.perf_counter()
    keys, groups, found = _lookup(m, target, settings, cache)
    hits = len(found)
    missing = [(k, g) for k, g in zip(keys, groups, strict=True) if k not in found]
    if missing and not compute:
        return None
    chunks = [missing] if settings.diversity else [missing[i:i + batch] for i in range(0, len(missing),
                                                                                        batch)]
    chunks = [c for c in chunks if c]
    total = settings.steps * len(chunks)
    store_error = ""
    for n, chunk in enumerate(chunks):
        idx = tuple(i for _, g in chunk for i in g)
        sub = Target(target.kind, target.layer, idx, target.row, target.col)

        def relay(done: int, _t: int, preview: np.ndarray | None, _n: int = n) -> None:
            if progress is not None:
                progress(_n * settings.steps + done, total, preview)

        res = render(m.net, sub, mean=m.mean, std=m.std, settings=settings, progress=relay,
                     preview_every=preview_every, guard=guard)
        pos = 0
        for k, g in chunk:
            sl = slice(pos, pos + len(g))
            entry = {"images": res.images[sl], "values": res.values[sl],
                     "history": np.ascontiguousarray(res.history[:, sl].T)}
            pos += len(g)
            found[k] = entry
            if cache is not None and not store_error:
                try:
                    cache.put(k, entry)
                except OSError as exc:  # read-only volume, full disk: keep the result, say why
                    store_error = f"{type(exc).__name__}: {exc.strerror or exc}"
    parts = [found[k] for k in keys]
    return Visuals(
        images=np.concatenate([p["images"] for p in parts]),
        values=np.concatenate([p["values"] for p in parts]).astype(np.float32),
        history=np.concatenate([p["history"] for p in parts]).astype(np.float32),
        indices=tuple(int(i) for i in target.indices), hits=hits,
        seconds=time.perf_counter() - start, store_error=store_error,
    )


def work_units(n_images: int, settings: Settings) -> float:
    """Cost of optimising ``n_images`` images: image-steps at 128 px (the cost grows with the pixel
    count). The default single unit (128 px, 64 steps) is 64; a 16-channel 224-px atlas at 160
    steps is 7840."""
    return n_images * settings.steps * (settings.size / 128) ** 2


def parse_channels(spec: str) -> list[int]:
    """``"0-63"``, ``"3,5,9-12"`` -> sorted unique channel list; clear ``ValueError`` otherwise."""
    out: set[int] = set()
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        try:
            if "-" in part:
                a, b = (int(v) for v in part.split("-", 1))
                if b < a:
                    raise ValueError
                out.update(range(a, b + 1))
            else:
                out.add(int(part))
        except ValueError:
            raise ValueError(f"Bad channel range {part!r}: use e.g. 0-63 or 3,5,9-12.") from None
    if not out or min(out) < 0:
        raise ValueError(f"No valid channels in {spec!r}: use e.g. 0-63 or 3,5,9-12.")
    return sorted(out)


def shard(items: Sequence[int], spec: str) -> list[int]:
    """Items of shard ``"i/n"`` (1-based i): every n-th item starting at i-1."""
    try:
        i, n = (int(v) for v in spec.split("/"))
    except ValueError:
        raise ValueError(f"Bad shard {spec!r}: use i/n, e.g. 2/4.") from None
    if not 1 <= i <= n:
        raise ValueError(f"Bad shard {spec!r}: need 1 ≤ i ≤ n.")
    return list(items[i - 1::n])
