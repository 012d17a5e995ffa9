"""Wrap a privately trained classifier as a ``LoadedModel`` that every page accepts."""

from __future__ import annotations

import dataclasses

from torch import nn

from models.registry import LoadedModel


def as_loaded(base: LoadedModel, module: nn.Module, classes: tuple[str, ...], digest: str) -> LoadedModel:
    """``module`` (frozen, eval, moved to the base model's device) as a ``LoadedModel``: the base
    spec (preprocessing, default layer) with the new class names as ``labels`` and its own name."""
    spec = dataclasses.replace(
        base.spec, name=f"{base.spec.name}-transfer-{digest}", labels=tuple(classes),
        display_name=f"{base.spec.display_name} → {', '.join(classes)}",
        note=f"Transfer-learned from {base.spec.display_name} on {len(classes)} new classes.")
    module.eval().requires_grad_(False)
    module.to(base.device)
    return LoadedModel(spec=spec, model=module, trained=True, device=base.device)
