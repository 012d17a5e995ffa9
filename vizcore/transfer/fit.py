"""``fit``: teach a loaded model new classes from a few images, by either strategy.

* ``"head"`` — feature extractor: the shared backbone computes the classifier's input once per image
  (and per augmented view), then a new linear head trains on those vectors in well under a second.
* ``"finetune"`` — a private copy whose head and last blocks train on augmented pixels.

The shared model is never modified; forwards through it hold ``loaded.lock`` one batch at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from PIL import Image
from torch import nn

from vizcore.transfer.data import Split, augment, flatten, model_pixels, normalise_batch, stratified_split
from vizcore.transfer.finetune import private_copy, train_epoch
from vizcore.transfer.head import embeddings, find_head, train_head
from vizcore.transfer.replay import Replay
from vizcore.transfer.results import EpochStats, Progress, confusion_matrix, pca2

Strategy = Literal["head", "finetune"]


@dataclass(frozen=True)
class Trained:
    """What ``fit`` produced before it is wrapped as a ``LoadedModel``: a private (CPU) classifier."""

    module: nn.Module
    classes: tuple[str, ...]
    strategy: Strategy
    history: tuple[EpochStats, ...]
    best_epoch: int
    split: Split
    labels: np.ndarray            # (N,) class index of every image (flat order)
    val_predictions: np.ndarray   # (len(split.val),) predicted class of each validation image
    confusion: np.ndarray         # (K, K) int: rows = true class, columns = predicted (validation)
    embed_before: np.ndarray      # (N, 2) PCA of the backbone's features before training
    embed_after: np.ndarray       # (N, 2) PCA of the trained model's features
    trained_units: tuple[str, ...]
    seconds: float

    @property
    def val_accuracy(self) -> float:
        """Share of validation images classified correctly."""
        return float(np.trace(self.confusion) / max(1, self.confusion.sum()))


@dataclass(frozen=True)
class Options:
    """Training settings (defaults suit 5–40 images per class on a CPU)."""

    strategy: Strategy = "head"
    epochs: int = 0               # 0 = the strategy's default (head 200, finetune 8)
    lr: float = 0.0               # 0 = the strategy's default (head 1e-2, finetune 1e-3)
    val_fraction: float = 0.25
    augment: bool = True
    views: int = 4                # head: augmented views per training image, embedded once
    train_blocks: int = 2         # finetune: how many of the last blocks train with the head
    patience: int = 0             # epochs without validation-loss improvement before stopping; 0 = default
    batch: int = 8
    seed: int = 0


def fit_module(model: nn.Module, spec: object, images: Mapping[str, Sequence[Image.Image]], *,
               options: Options, turn: Callable[[], AbstractContextManager] | None = None,
               slot: Callable[[], AbstractContextManager] | None = None,
               on_progress: Callable[[Progress], None] | None = None) -> Trained:
    """Train new classes on top of ``model`` (shared, read-only); ``spec`` gives size/mean/std.

    ``turn()`` returns the context held for one step on the shared model (e.g. its lock): around
    each batch through it and around the copy, never for a whole run. ``slot()`` is held around
    each step on the private copy (a compute slot; no shared lock).
    """
    start = time.perf_counter()
    flat, labels_np, classes = flatten(images)
    split = stratified_split(labels_np, options.val_fraction, options.seed)
    gen = torch.Generator().manual_seed(options.seed)
    pixels = model_pixels(flat, spec)                      # (N, C, S, S) in [0, 1]
    norm = _normaliser(spec)
    guard = turn or nullcontext
    private = slot or nullcontext
    report = on_progress or (lambda p: None)

    feats = _embed(model, norm(pixels), guard, report, "features")
    before = pca2(feats.numpy())
    labels = torch.from_numpy(labels_np)
    tr, va = torch.tensor(split.train), torch.tensor(split.val)
    if options.strategy == "head":
        train_x, train_y = _head_views(model, pixels[tr], labels[tr], options, gen, norm, guard, report)
        with private():
            module, history, best, units = fit_head(model, guard, feats, train_x, train_y, tr, va, labels,
                                                     len(classes), options, gen, report)
    elif options.strategy == "finetune":
        module, history, best, units = fit_finetune(model, guard, private, pixels, labels, tr, va,
                                                     len(classes), options, gen, norm, report)
    else:
        raise ValueError(f"unknown strategy {options.strategy!r}: use 'head' or 'finetune'")
    with private():
        after_feats = embeddings(module, norm(pixels), batch=options.batch)
        with torch.inference_mode():
            preds = module(norm(pixels[va])).argmax(1).numpy()
    return Trained(
        module=module, classes=classes, strategy=options.strategy, history=tuple(history),
        best_epoch=best, split=split, labels=labels_np, val_predictions=preds,
        confusion=confusion_matrix(labels_np[list(split.val)], preds, len(classes)),
        embed_before=before, embed_after=pca2(after_feats.numpy()), trained_units=tuple(units),
        seconds=time.perf_counter() - start,
    )


def _normaliser(spec: object) -> Callable[[torch.Tensor], torch.Tensor]:
    mean, std = tuple(spec.mean), tuple(spec.std)
    return lambda x: normalise_batch(x, mean, std)


def _embed(model: nn.Module, x: torch.Tensor, guard: object, report: Callable[[Progress], None],
           stage: str, batch: int = 8) -> torch.Tensor:
    """(N, C, S, S) normalised → (N, D) classifier inputs, the lock held one batch at a time."""
    parts = []
    for s in range(0, x.shape[0], batch):
        with guard():
            parts.append(embeddings(model, x[s:s + batch], batch=batch))
        report(Progress(stage, min(s + batch, x.shape[0]), x.shape[0]))
    return torch.cat(parts)


def _head_views(model: nn.Module, train_px: torch.Tensor, train_y: torch.Tensor, options: Options,
                gen: torch.Generator, norm: Callable, guard: object,
                report: Callable[[Progress], None]) -> tuple[torch.Tensor, torch.Tensor]:
    """Features of ``options.views`` augmented copies of each training image (none without augmentation)."""
    if not options.augment or options.views <= 0:
        return torch.empty(0), torch.empty(0, dtype=torch.long)
    views = torch.cat([augment(train_px, gen) for _ in range(options.views)])
    feats = _embed(model, norm(views), guard, report, "augmented views")
    return feats, train_y.repeat(options.views)


def fit_head(model, guard, feats, aug_x, aug_y, tr, va, labels, k, options, gen, report):
    """Train the head on features (plus augmented views); the result is a private copy with that head."""
    x = torch.cat([feats[tr], aug_x]) if aug_x.numel() else feats[tr]
    y = torch.cat([labels[tr], aug_y]) if aug_y.numel() else labels[tr]
    epochs = options.epochs or 200
    tracker = Tracker(options.patience or 30, report, epochs)

    def evaluate(head: nn.Linear, epoch: int) -> bool:
        with torch.no_grad():
            logits = head(x)
            loss = float(nn.functional.cross_entropy(logits, y))
            acc = float((logits.argmax(1) == y).float().mean())
            return tracker.step(epoch, loss, acc, head(feats[va]), labels[va], head)

    with torch.random.fork_rng(devices=[]):
        train_head(x, y, k, epochs=epochs, lr=options.lr or 1e-2, weight_decay=1e-4, gen=gen,
                   evaluate=evaluate)
    with guard():
        module, _ = private_copy(model, k, 0, gen)
    head_path, head = find_head(module)
    head.load_state_dict(tracker.best_state)
    module.requires_grad_(False)
    return module, tracker.history, tracker.best_epoch, [head_path]


def fit_finetune(model, guard, private, pixels, labels, tr, va, k, options, gen, norm, report):
    """Fine-tune a private copy's last blocks + new head; keeps the epoch with the best validation loss."""
    with guard(), torch.random.fork_rng(devices=[]):
        module, units = private_copy(model, k, options.train_blocks, gen)
    params = [p for p in module.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=options.lr or 1e-3)
    epochs = options.epochs or 8
    tracker = Tracker(options.patience or 3, report, epochs)
    head_path, _ = find_head(module)
    validate = Replay(module, units[0] if units else head_path, norm(pixels[va]))  # frozen part once
    for epoch in range(epochs):
        with private():
            loss, acc = train_epoch(module, pixels[tr], labels[tr], opt, batch=options.batch, gen=gen,
                                    augment=augment if options.augment else None, normalise=norm)
            with torch.no_grad():
                stop = tracker.step(epoch, loss, acc, validate(), labels[va], module)
        if stop:
            break
    module.load_state_dict(tracker.best_state)
    opt.zero_grad(set_to_none=True)  # the finished model carries no gradients
    module.requires_grad_(False)
    return module, tracker.history, tracker.best_epoch, [*units, head_path]


class Tracker:
    """Per-epoch history, best-validation-loss snapshot and early stopping."""

    def __init__(self, patience: int, report: Callable[[Progress], None], epochs: int) -> None:
        self.patience, self.report, self.epochs = patience, report, epochs
        self.history: list[EpochStats] = []
        self.best_loss, self.best_epoch, self.best_state = float("inf"), 0, {}

    def step(self, epoch: int, train_loss: float, train_acc: float,
             val_logits: torch.Tensor, val_y: torch.Tensor, module: nn.Module) -> bool:
        """Record one epoch (training loss/accuracy as measured during the epoch); True = stop."""
        stats = EpochStats(epoch + 1, train_loss, train_acc,
                           float(nn.functional.cross_entropy(val_logits, val_y)),
                           float((val_logits.argmax(1) == val_y).float().mean()))
        self.history.append(stats)
        if stats.val_loss < self.best_loss - 1e-6:
            self.best_loss, self.best_epoch = stats.val_loss, epoch + 1
            self.best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        self.report(Progress("training", epoch + 1, self.epochs, stats))
        return epoch + 1 - self.best_epoch >= self.patience
