"""Transfer learning: teach a pretrained CNN new classes from a few images.

``fit(loaded, {"class": [PIL images…], …}, strategy="head" | "finetune")`` → ``TransferResult`` whose
``.model`` is a ``LoadedModel`` (categories = the class names) that every page can use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

import numpy as np
from PIL import Image

from models.registry import LoadedModel
from vizcore.transfer.data import Split
from vizcore.transfer.demo import demo_set
from vizcore.transfer.fit import Options, Strategy, Trained, fit_module
from vizcore.transfer.results import EpochStats, Progress, confusion_matrix, pca2
from vizcore.transfer.wrap import as_loaded

__all__ = ["EpochStats", "Options", "Progress", "Split", "TransferResult", "confusion_matrix",
           "demo_set", "fit", "pca2"]


@dataclass(frozen=True)
class TransferResult:
    """A trained classifier for new classes and everything the page shows about its training."""

    model: LoadedModel
    trained: Trained

    @property
    def history(self) -> tuple[EpochStats, ...]:
        """Loss/accuracy per epoch (train and validation)."""
        return self.trained.history

    @property
    def val_accuracy(self) -> float:
        """Validation accuracy of the kept (best-validation-loss) epoch."""
        return self.trained.val_accuracy

    @property
    def confusion(self) -> np.ndarray:
        """(K, K) validation counts, rows = true class, columns = predicted."""
        return self.trained.confusion


def fit(loaded: LoadedModel, images: Mapping[str, Sequence[Image.Image]], *,
        strategy: Strategy = "head", epochs: int = 0, val_fraction: float = 0.25, augment: bool = True,
        seed: int = 0, lr: float = 0.0, train_blocks: int = 2, views: int = 4,
        on_progress: Callable[[Progress], None] | None = None,
        turn: Callable[[], AbstractContextManager] | None = None,
        slot: Callable[[], AbstractContextManager] | None = None) -> TransferResult:
    """Train ``images`` (class name → 2+ PIL images each, 2–10 classes) on top of ``loaded``.

    ``loaded.model`` is only read, one batch at a time inside ``turn()`` (default: ``loaded.lock``);
    the result holds a private copy (its steps run inside ``slot()``, default: nothing).
    Deterministic for a given ``seed``. Raises ``ValueError`` for unusable sets.
    """
    options = Options(strategy=strategy, epochs=epochs, lr=lr, val_fraction=val_fraction,
                      augment=augment, views=views, train_blocks=train_blocks, seed=seed)
    trained = fit_module(loaded.model, loaded.spec, images, options=options,
                         turn=turn or (lambda: loaded.lock), slot=slot,
                         on_progress=on_progress)
    digest = hashlib.sha256(repr((loaded.spec.name, options, trained.classes)).encode()).hexdigest()[:8]
    return TransferResult(as_loaded(loaded, trained.module, trained.classes, digest), trained)
