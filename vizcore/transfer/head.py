"""The feature-extractor strategy: frozen backbone, embeddings computed once, a new linear head.

``embeddings`` reads the input of the model's classifier (its last ``nn.Linear``) during one
forward per batch, so any registry or user model works without knowing its layout.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from vizcore.core.hooks import StopForward, frozen, model_device, observe, run_until


def find_head(model: nn.Module) -> tuple[str, nn.Linear]:
    """``(path, module)`` of the classifier: the last ``nn.Linear`` in ``named_modules()`` order."""
    linears = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("This model has no linear classifier layer to replace.")
    return linears[-1]


def embeddings(model: nn.Module, x: torch.Tensor, *, batch: int = 8,
               on_batch: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """(N, C, H, W) normalised inputs → (N, D) float32 CPU features entering the classifier.

    The forward stops at the classifier (it never runs). ``on_batch(done, total)`` reports progress.
    """
    name, _ = find_head(model)
    out: list[torch.Tensor] = []
    dev = model_device(model)

    def grab(_: str, args: tuple) -> None:
        out.append(args[0].detach().flatten(1).float().cpu())
        raise StopForward

    with frozen(model), torch.inference_mode(), observe(model, [name], before=grab):
        for start in range(0, x.shape[0], batch):
            run_until(model, x[start:start + batch].to(dev))
            if on_batch is not None:
                on_batch(min(start + batch, x.shape[0]), x.shape[0])
    return torch.cat(out) if out else torch.empty(0, 0)


def train_head(features: torch.Tensor, labels: torch.Tensor, n_classes: int, *, epochs: int,
               lr: float, weight_decay: float, gen: torch.Generator,
               evaluate: Callable[[nn.Linear, int], bool]) -> nn.Linear:
    """Full-batch Adam on a new ``nn.Linear(D, n_classes)`` over (N, D) ``features``.

    ``evaluate(head, epoch)`` runs after every epoch and returns True to stop early.
    """
    head = nn.Linear(features.shape[1], n_classes)
    with torch.no_grad():
        head.weight.copy_(torch.randn(head.weight.shape, generator=gen) * 0.01)
        head.bias.zero_()
    opt = torch.optim.Adam(head.parameters(), lr=lr, weight_decay=weight_decay)
    for epoch in range(epochs):
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(head(features), labels)
        loss.backward()  # a private head: its .grad is ours to fill
        opt.step()
        if evaluate(head, epoch):
            break
    return head
