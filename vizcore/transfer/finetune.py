"""The fine-tuning strategy: a private copy of the model whose last blocks and new head train.

The shared model is only read (copied once); BatchNorm statistics and dropout stay in eval mode,
so a handful of images cannot wreck the running statistics.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from vizcore.transfer.head import find_head

_CONTAINERS = (nn.Sequential, nn.ModuleList)


def block_units(model: nn.Module) -> list[str]:
    """Paths of the model's parameterised blocks in forward order, head excluded.

    Top-level containers are always opened; a nested container is opened only when it holds
    blocks (children with children), so a conv-BN-ReLU ``Sequential`` stays one block. E.g.
    EfficientNet-Lite0 → ``[…, "_blocks.15", "_conv_head", "_bn1"]``; ResNet-18 → ``[…, "layer4.1"]``;
    VGG-16 → ``[…, "features.28", "classifier.0", "classifier.3"]``.
    """
    head, _ = find_head(model)
    units: list[str] = []

    def opens(child: nn.Module, top: bool) -> bool:
        if not isinstance(child, _CONTAINERS):
            return False
        return top or any(any(True for _ in g.children()) for g in child.children())

    def walk(prefix: str, module: nn.Module, top: bool) -> None:
        for name, child in module.named_children():
            path = f"{prefix}{name}"
            if path == head:
                continue
            if opens(child, top) or head.startswith(path + "."):
                walk(path + ".", child, False)
            elif any(True for _ in child.parameters()):
                units.append(path)

    walk("", model, True)
    return units


def private_copy(model: nn.Module, n_classes: int, train_blocks: int,
                 gen: torch.Generator) -> tuple[nn.Module, list[str]]:
    """A deep copy with a new head (``n_classes``) whose head and last ``train_blocks`` units train.

    Call while holding the shared model's lock (the copy must not catch another session's wrappers).
    Returns (copy, trainable unit paths). Everything is in eval mode; only the chosen units require grad.
    """
    private = copy.deepcopy(model).cpu().eval()
    private.requires_grad_(False)
    head_path, old = find_head(private)
    new = nn.Linear(old.in_features, n_classes)
    with torch.no_grad():
        new.weight.copy_(torch.randn(new.weight.shape, generator=gen) * 0.01)
        new.bias.zero_()
    parent, _, leaf = head_path.rpartition(".")
    setattr(private.get_submodule(parent) if parent else private, leaf, new)
    units = block_units(private)[-train_blocks:] if train_blocks > 0 else []
    for path in units:
        private.get_submodule(path).requires_grad_(True)
    new.requires_grad_(True)
    return private, units


def train_epoch(model: nn.Module, x: torch.Tensor, y: torch.Tensor, opt: torch.optim.Optimizer, *,
                batch: int, gen: torch.Generator,
                augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None,
                normalise: Callable[[torch.Tensor], torch.Tensor]) -> tuple[float, float]:
    """One epoch over (N, C, S, S) pixels in [0, 1] in a seeded order; returns (mean loss, accuracy)."""
    order = torch.randperm(x.shape[0], generator=gen)
    total_loss, correct = 0.0, 0
    for start in range(0, x.shape[0], batch):
        idx = order[start:start + batch]
        xb = x[idx] if augment is None else augment(x[idx], gen)
        logits = model(normalise(xb))
        loss = nn.functional.cross_entropy(logits, y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()  # only the private copy's trainable units have requires_grad
        opt.step()
        total_loss += float(loss.detach()) * len(idx)
        correct += int((logits.argmax(1) == y[idx]).sum())
    return total_loss / x.shape[0], correct / x.shape[0]
