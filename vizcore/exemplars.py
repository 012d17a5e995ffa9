"""Dataset exemplars: which of the user's images, and which patch of each, excite a channel most.

One forward per batch of images runs up to the layer; for every image the winning position of the
channel's map gives the image's score, and the patch is that unit's theoretical receptive field
(``vizcore.receptive.rf_box``), cropped from exactly the preprocessed picture the model saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from vizcore.hooks import capture, frozen, model_device, run_until
from vizcore.receptive import RFInfo, receptive_field, rf_box


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
    ``map_size`` = (H, W) of the layer's output."""

    layer: str
    channel: int
    rf: RFInfo
    map_size: tuple[int, int]
    top: tuple[Exemplar, ...]
    n_images: int


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
    dev = model_device(model)
    m = torch.tensor(list(mean), dtype=torch.float32, device=dev).view(1, 3, 1, 1)
    s = torch.tensor(list(std), dtype=torch.float32, device=dev).view(1, 3, 1, 1)
    maps = []
    with torch.no_grad(), frozen(model), capture(model, [layer], stop_after=True) as store:
        for i in range(0, n, batch):
            x = torch.as_tensor(pixels[i:i + batch], device=dev).permute(0, 3, 1, 2).float() / 255
            store.clear()
            run_until(model, (x - m) / s)
            act = store[layer]
            if act.dim() != 4:
                raise ValueError(f"Layer {layer!r} has no spatial map (shape {tuple(act.shape)}).")
            if not 0 <= channel < act.shape[1]:
                raise ValueError(f"Layer {layer!r} has {act.shape[1]} channels (0–{act.shape[1] - 1});"
                                 f" {channel} is out of range.")
            maps.append(act[:, channel].float().cpu())
    fmap = torch.cat(maps).numpy()  # (N, H, W)
    h, w = fmap.shape[1:]
    flat = fmap.reshape(n, -1)
    best = flat.argmax(1)
    # strongest response first; ties (e.g. ReLU6 capped at 6) broken by the mean response
    order = np.lexsort((-flat.mean(1), -flat.max(1)))[:k]
    top = []
    for i in order:
        r, c = divmod(int(best[i]), w)
        box = rf_box(info, r, c, size)
        img = pixels[i]
        top.append(Exemplar(int(i), float(flat[i, best[i]]), float(flat[i].mean()), r, c, box, img,
                            np.ascontiguousarray(img[box[0]:box[2], box[1]:box[3]])))
    return Exemplars(layer, channel, info, (h, w), tuple(top), n)
