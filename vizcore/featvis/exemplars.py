"""Dataset exemplars: which of the user's images, and which patch of each, excite a channel most.

One forward per batch of images runs up to the layer; for every image and every channel the
winning position of the channel's map gives the image's score (``channel_scorer``, shared with the
folder index in ``vizcore.featvis.exemplar_index``), and the patch is that unit's theoretical receptive
field (``vizcore.inside.receptive.rf_box``), cropped from exactly the preprocessed picture the model saw.
Ranking: highest max first, ties (e.g. ReLU6 capped at 6) broken by the higher mean, then by the
lower image index (``rank``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from vizcore.core.hooks import capture, frozen, model_device, run_until
from vizcore.inside.receptive import RFInfo, receptive_field, rf_box


@dataclass(frozen=True)
class Exemplar:
    """One image: its index in the set, best activation ``value`` at map position (``row``,
    ``col``), that unit's RF ``box`` (top, left, bottom, right; exclusive; input pixels),
    ``image`` (S, S, 3) uint8 as the model saw it and ``patch`` = ``image[top:bottom, left:right]``."""

    index: int
    value: float
    mean: float
    row: int
    col: int
    box: tuple[int, int, int, int]
    image: np.ndarray
    patch: np.ndarray


@dataclass(frozen=True)
class Exemplars:
    """Top-k images for ``channel`` of ``layer``, best first; ``rf`` is the layer's theoretical RF;
    ``map_size`` = (H, W) of the layer's output; ``names`` = the file name of each ``top`` image
    when the set has names (folder indexes), else empty."""

    layer: str
    channel: int
    rf: RFInfo
    map_size: tuple[int, int]
    top: tuple[Exemplar, ...]
    n_images: int
    names: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class Scores:
    """Per image and channel of one batch: ``values`` (B, C) float32 max of the channel's map,
    ``means`` (B, C) float32 its mean, ``positions`` (B, C) int32 flat argmax (row * W + col, the
    first one on ties); ``map_size`` = (H, W)."""

    values: np.ndarray
    means: np.ndarray
    positions: np.ndarray
    map_size: tuple[int, int]


@contextmanager
def channel_scorer(
    model: nn.Module, *, layer: str, mean: Sequence[float], std: Sequence[float],
) -> Iterator[Callable[[np.ndarray], Scores]]:
    """Yield ``score(pixels)``: (B, S, S, 3) uint8 (preprocessed, un-normalised) → ``Scores``, one
    forward per call that stops at ``layer``.

    The hook lives only inside the block; eval mode and ``requires_grad`` are restored on exit, also
    on error. ``score`` raises ``ValueError`` when the layer's output is not a (B, C, H, W) map.
    """
    dev = model_device(model)
    m = torch.tensor(list(mean), dtype=torch.float32, device=dev).view(1, -1, 1, 1)  # 1 value: grey model
    s = torch.tensor(list(std), dtype=torch.float32, device=dev).view(1, -1, 1, 1)
    with torch.no_grad(), frozen(model), capture(model, [layer], stop_after=True) as store:

        def score(pixels: np.ndarray) -> Scores:
            a = np.asarray(pixels)
            a = a[..., None] if a.ndim == 3 else a  # (B, S, S) grey → (B, S, S, 1)
            x = torch.as_tensor(a, device=dev).permute(0, 3, 1, 2).float() / 255
            if m.shape[1] == 1 and x.shape[1] == 3:  # grayscale model: luma as PIL's "L" (ITU-R 601-2)
                x = (x * x.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
            store.clear()
            run_until(model, (x - m) / s)
            act = store[layer]
            if act.dim() != 4:
                raise ValueError(f"Layer {layer!r} has no spatial map (shape {tuple(act.shape)}).")
            flat = act.detach().float().flatten(2)  # (B, C, H*W)
            values, positions = flat.max(dim=2)  # first maximal index on ties
            means = flat.mean(dim=2, dtype=torch.float64)
            return Scores(values.cpu().numpy().astype(np.float32),
                          means.cpu().numpy().astype(np.float32),
                          positions.cpu().numpy().astype(np.int32), (act.shape[2], act.shape[3]))

        yield score


def rank(values: np.ndarray, means: np.ndarray, k: int) -> np.ndarray:
    """Indices of the top ``k`` of ``values`` (N,): max first, then mean, then lower index."""
    return np.lexsort((-np.asarray(means), -np.asarray(values)))[:k]


def make_exemplar(
    index: int, value: float, mean: float, position: int, image: np.ndarray, *, rf: RFInfo,
    map_width: int,
) -> Exemplar:
    """The ``Exemplar`` of image ``index`` (``image`` (S, S, 3) uint8) whose best unit is at flat
    ``position`` of a map ``map_width`` wide; the patch is that unit's RF box."""
    r, c = divmod(int(position), map_width)
    box = rf_box(rf, r, c, image.shape[0])
    patch = np.ascontiguousarray(image[box[0]:box[2], box[1]:box[3]])
    return Exemplar(int(index), float(value), float(mean), r, c, box, image, patch)


def check_channel(layer: str, channel: int, n_channels: int) -> None:
    """Raise ``ValueError`` unless ``0 <= channel < n_channels``."""
    if not 0 <= channel < n_channels:
        raise ValueError(f"Layer {layer!r} has {n_channels} channels (0–{n_channels - 1});"
                         f" {channel} is out of range.")


def exemplars(
    model: nn.Module, pixels: np.ndarray, *, layer: str, channel: int,
    mean: Sequence[float], std: Sequence[float], k: int = 6, rf: RFInfo | None = None,
    batch: int = 8,
) -> Exemplars:
    """Rank ``pixels`` (N, S, S, 3) uint8 (preprocessed, square) by the max of ``channel``'s map
    (then by its mean, for ties).

    Raises ``ValueError`` for an empty set, a non-spatial layer or a channel out of range. Hooks are
    removed and the model's flags restored also on error.
    """
    pixels = np.asarray(pixels)
    if pixels.ndim != 4 or pixels.shape[0] == 0 or pixels.shape[-1] != 3:
        raise ValueError("Give at least one RGB image, shape (N, S, S, 3).")
    n, size = pixels.shape[0], pixels.shape[1]
    if pixels.shape[2] != size:
        raise ValueError("Exemplar images must be square (centre-cropped like the model input).")
    info = rf if rf is not None else receptive_field(model, layer, input_size=size)
    parts: list[Scores] = []
    with channel_scorer(model, layer=layer, mean=mean, std=std) as score:
        for i in range(0, n, batch):
            parts.append(score(pixels[i:i + batch]))
            check_channel(layer, channel, parts[-1].values.shape[1])
    values = np.concatenate([p.values[:, channel] for p in parts])
    means = np.concatenate([p.means[:, channel] for p in parts])
    positions = np.concatenate([p.positions[:, channel] for p in parts])
    h, w = parts[0].map_size
    top = tuple(make_exemplar(i, values[i], means[i], positions[i], pixels[i], rf=info, map_width=w)
                for i in rank(values, means, k))
    return Exemplars(layer, channel, info, (h, w), top, n)
