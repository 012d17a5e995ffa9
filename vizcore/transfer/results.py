"""Small result types and statistics for transfer learning (CPU, numpy)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EpochStats:
    """One epoch: training loss/accuracy as measured while training (on the augmented images when
    fine-tuning), validation loss/accuracy after it."""

    epoch: int
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float


@dataclass(frozen=True)
class Progress:
    """A progress report: ``stage`` ("features", "augmented views", "training"), ``done`` of ``total``."""

    stage: str
    done: int
    total: int
    stats: EpochStats | None = None


def confusion_matrix(true: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """(K, K) int64 counts: rows = true class, columns = predicted class."""
    out = np.zeros((k, k), dtype=np.int64)
    np.add.at(out, (np.asarray(true, dtype=np.int64), np.asarray(pred, dtype=np.int64)), 1)
    return out


def pca2(features: np.ndarray) -> np.ndarray:
    """(N, D) → (N, 2) projection on the two principal axes (signs fixed: largest loading positive)."""
    x = features.astype(np.float64) - features.mean(0, keepdims=True)
    if x.shape[0] < 2:
        return np.zeros((x.shape[0], 2), dtype=np.float32)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    axes = vt[:2]
    signs = np.sign(axes[np.arange(axes.shape[0]), np.abs(axes).argmax(1)])
    proj = x @ (axes * signs[:, None]).T
    if proj.shape[1] < 2:
        proj = np.pad(proj, ((0, 0), (0, 2 - proj.shape[1])))
    return proj.astype(np.float32)
