"""Every explanation method as one small record; ``explain()`` is a lookup.

A ``Method`` has a label, a cost class, an options dataclass (its defaults) and one
``attribute(model, x, *, target, layer, options, progress) -> CamResult``. Adding a method = one
entry in ``_METHODS`` (plus its options dataclass if it has settings). CAMs come from
``vizcore.explain.cam`` (Grad-CAM there equals captum's ``LayerGradCam(relu_attributions=True)`` and is
faster), guided methods from ``vizcore.explain.guided``, captum's pixel methods from
``vizcore.explain.pixel`` (the one module that imports captum).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from vizcore.core.hooks import batch_size_for
from vizcore.explain import pixel
from vizcore.explain.cam import GRAD_CAMS, CamResult, gradient_cam, gradient_cams, score_cam
from vizcore.explain.guided import guided_backprop, guided_grad_cam

Progress = Callable[[float], None]


class Cost(enum.Enum):
    """How expensive a method is: FAST ≈ one forward + backward; SLOW = many forwards (shows progress)."""

    FAST = "fast"
    SLOW = "slow"


@dataclass(frozen=True)
class NoOptions:
    """The method has no settings."""


@dataclass(frozen=True)
class ScoreCamOptions:
    """``max_channels``: keep only the most active channels (None = all); one forward per channel."""

    max_channels: int | None = None
    batch_size: int | None = None  # None: ``batch_size_for(model, 8)``


@dataclass(frozen=True)
class SmoothGradOptions:
    """``samples`` noisy copies with noise σ = ``sigma`` × the input's value range."""

    samples: int = 16
    sigma: float = 0.15
    batch_size: int | None = None


@dataclass(frozen=True)
class IGOptions:
    """``steps`` points on the straight path from a zero (mean-colour) baseline to the photo."""

    steps: int = 32
    batch_size: int | None = None


@dataclass(frozen=True)
class OcclusionOptions:
    """A ``window``² grey patch moved in steps of ``stride`` pixels."""

    window: int = 32
    stride: int = 16
    batch_size: int | None = None


Runner = Callable[[nn.Module, torch.Tensor, int | None, str | None, Any, Progress | None], CamResult]


@dataclass(frozen=True)
class Method:
    """One explanation method: how it is shown, what it costs, its settings and how it runs."""

    key: str
    label: str
    cost: Cost
    uses_layer: bool  # the target layer matters (CAMs); pixel methods explain the input
    blurb: str
    run: Runner = field(repr=False)
    options: Any = NoOptions()  # the default options (a frozen dataclass)

    @property
    def slow(self) -> bool:
        """Many forwards: run with a progress bar, not in the sanity check."""
        return self.cost is Cost.SLOW

    def attribute(self, model: nn.Module, x: torch.Tensor, *, target: int | None = None,
                  layer: str | None = None, options: Any = None,
                  progress: Progress | None = None) -> CamResult:
        """The map of ``target`` (default: the predicted class) for ``x`` (1, C, H, W): ``.heatmap``
        (H, W) in [0, 1]. Model state is restored and no parameter gradient is left, also on error."""
        opts = self.options if options is None else options
        if type(opts) is not type(self.options):
            raise ValueError(f"{self.label} takes {type(self.options).__name__}, got {type(opts).__name__}")
        return self.run(model, x, target, layer, opts, progress)


def _batch(model: nn.Module, opts: Any) -> int:
    return opts.batch_size or batch_size_for(model, 8)


def _cam(name: str) -> Runner:
    return lambda m, x, t, layer, _o, _p: gradient_cam(m, x, method=name, layer=layer, target=t)


_METHODS = (
    Method("gradcam", "Grad-CAM", Cost.FAST, True, "channels weighted by their mean gradient",
           _cam("gradcam")),
    Method("gradcam++", "Grad-CAM++", Cost.FAST, True, "positive gradients, weighted per pixel",
           _cam("gradcam++")),
    Method("xgradcam", "XGrad-CAM", Cost.FAST, True, "gradients weighted by the activation",
           _cam("xgradcam")),
    Method("layercam", "Layer-CAM", Cost.FAST, True, "positive gradient × activation, per pixel",
           _cam("layercam")),
    Method("scorecam", "Score-CAM", Cost.SLOW, True, "each channel masks the photo; score = weight",
           lambda m, x, t, layer, o, p: score_cam(m, x, layer=layer, target=t, batch_size=_batch(m, o),
                                                  max_channels=o.max_channels, progress=p),
           ScoreCamOptions()),
    Method("guided_gradcam", "Guided Grad-CAM", Cost.FAST, True, "guided backprop × Grad-CAM",
           lambda m, x, t, layer, _o, _p: guided_grad_cam(m, x, layer=layer, target=t)),
    Method("guided", "Guided backprop", Cost.FAST, False, "input gradient, only positive paths",
           lambda m, x, t, _l, _o, _p: guided_backprop(m, x, t)),
    Method("saliency", "Saliency", Cost.FAST, False, "|d score / d pixel|",
           lambda m, x, t, _l, _o, _p: pixel.saliency(m, x, target=t)),
    Method("smoothgrad", "SmoothGrad", Cost.FAST, False, "saliency averaged over noisy copies",
           lambda m, x, t, _l, o, _p: pixel.smoothgrad(m, x, target=t, samples=o.samples, sigma=o.sigma,
                                                       batch_size=_batch(m, o)),
           SmoothGradOptions()),
    Method("ig", "Integrated Gradients", Cost.FAST, False, "gradients summed along a path from a grey image",
           lambda m, x, t, _l, o, _p: pixel.integrated_gradients(m, x, target=t, steps=o.steps,
                                                                 batch_size=_batch(m, o)),
           IGOptions()),
    Method("occlusion", "Occlusion", Cost.SLOW, False, "score drop when a patch is greyed out",
           lambda m, x, t, _l, o, p: pixel.occlusion(m, x, target=t, window=o.window, stride=o.stride,
                                                     batch_size=_batch(m, o), progress=p),
           OcclusionOptions()),
)
METHODS: dict[str, Method] = {m.key: m for m in _METHODS}


def get_method(name: str) -> Method:
    """The record of method ``name``; unknown names raise ``ValueError`` listing the known ones."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")
    return METHODS[name]


def explain(model: nn.Module, x: torch.Tensor, method: str, *, layer: str | None = None,
            target: int | None = None, options: Any = None, progress: Progress | None = None) -> CamResult:
    """Explain ``target`` (default: the predicted class) for ``x`` (1, C, H, W) with ``method`` (a key of
    ``METHODS``; ``options`` its options dataclass, default its defaults). ``layer`` is used by the CAM
    methods (default: the last conv layer); ``progress(fraction)`` is called by the slow ones."""
    record = get_method(method)
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"expected an input of shape (1, C, H, W), got {tuple(x.shape)}")
    return record.attribute(model, x, target=target, layer=layer, options=options, progress=progress)


def explain_batch(model: nn.Module, x: torch.Tensor, method: str, *, layer: str | None = None,
                  targets: int | Sequence[int] | None = None, options: Any = None) -> tuple[CamResult, ...]:
    """``explain`` for every image of ``x`` (B, C, H, W); gradient CAMs run as ONE batched pass, the
    other methods image by image. ``targets``: one class for all, one per image, or None."""
    record = get_method(method)
    if x.dim() != 4:
        raise ValueError(f"expected an input of shape (B, C, H, W), got {tuple(x.shape)}")
    if method in GRAD_CAMS:
        return gradient_cams(model, x, method=method, layer=layer, targets=targets)
    per = [targets] * x.shape[0] if targets is None or isinstance(targets, int) else list(targets)
    if len(per) != x.shape[0]:
        raise ValueError(f"got {len(per)} targets for a batch of {x.shape[0]}")
    return tuple(record.attribute(model, x[i:i + 1], target=t, layer=layer, options=options)
                 for i, t in enumerate(per))
