"""Top-k classification of one image or a batch."""

from __future__ import annotations

import time
from collections.abc import Sequence
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


def predict(model: nn.Module, x: torch.Tensor, categories: Sequence[str], *, k: int = 5) -> Prediction:
    """Run ``model`` on ``x`` (1, C, H, W) in inference mode and return its top-``k`` classes."""
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"expected one image of shape (1, 3, H, W) (C channels for a C-channel model), "
                         f"got {tuple(x.shape)}")
    return predict_batch(model, x, categories, k=k)[0]


def predict_batch(model: nn.Module, x: torch.Tensor, categories: Sequence[str], *,
                  k: int = 5) -> tuple[Prediction, ...]:
    """Top-``k`` classes of every image of ``x`` (B, C, H, W) from ONE forward; ``seconds`` is the
    batch's total."""
    if x.dim() != 4 or x.shape[0] < 1:
        raise ValueError(f"expected a batch of shape (B, C, H, W), got {tuple(x.shape)}")
    start = time.perf_counter()
    with torch.inference_mode():
        logits = model(x.to(model_device(model))).float().cpu()
    seconds = time.perf_counter() - start
    return tuple(from_logits(row, categories, k=k, seconds=seconds) for row in logits)


def from_logits(logits: torch.Tensor | np.ndarray, categories: Sequence[str], *, k: int = 5,
                seconds: float = 0.0) -> Prediction:
    """(num_classes,) logits → the top-``k`` ``Prediction`` (softmax probabilities)."""
    logits = torch.as_tensor(np.asarray(logits, np.float32))
    probs = torch.softmax(logits, 0)
    top = torch.topk(probs, min(k, probs.numel()))
    idx = tuple(int(i) for i in top.indices)
    return Prediction(
        indices=idx,
        labels=tuple(categories[i] if i < len(categories) else f"class {i}" for i in idx),
        probs=tuple(float(p) for p in top.values),
        seconds=seconds,
        logits=logits.numpy(),
    )
