"""Top-k classification of one input."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from vizcore.core.hooks import model_device


@dataclass(frozen=True)
class Prediction:
    """Top-k classes of one image. ``indices``/``labels``/``probs`` are length-k, best first."""

    indices: tuple[int, ...]
    labels: tuple[str, ...]
    probs: tuple[float, ...]
    seconds: float
    logits: np.ndarray  # (num_classes,) float32

    @property
    def top1(self) -> int:
        """Index of the predicted class."""
        return self.indices[0]


def predict(model: nn.Module, x: torch.Tensor, categories: tuple[str, ...], *, k: int = 5) -> Prediction:
    """Run ``model`` on ``x`` (1, 3, H, W) in inference mode and return its top-``k`` classes."""
    if x.dim() != 4 or x.shape[0] != 1 or x.shape[1] != 3:
        raise ValueError(f"expected an input of shape (1, 3, H, W), got {tuple(x.shape)}")
    start = time.perf_counter()
    with torch.inference_mode():
        logits = model(x.to(model_device(model)))[0].float().cpu()
    seconds = time.perf_counter() - start
    probs = torch.softmax(logits, 0)
    k = min(k, probs.numel())
    top = torch.topk(probs, k)
    idx = tuple(int(i) for i in top.indices)
    return Prediction(
        indices=idx,
        labels=tuple(categories[i] if i < len(categories) else f"class {i}" for i in idx),
        probs=tuple(float(p) for p in top.values),
        seconds=seconds,
        logits=logits.numpy(),
    )
