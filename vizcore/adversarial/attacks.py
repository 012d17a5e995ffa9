"""Hand-written L∞ attacks on a classifier that takes normalised input: FGSM, BIM, PGD, targeted PGD.

Everything happens in *pixel space* ``x`` ∈ [0, 1] (1, 3, H, W); the model's normalisation
``(x − mean) / std`` is applied inside ``Normalised``, so ε is a budget in pixel levels.

* FGSM (Goodfellow 2015):  x' = clip₀₁(x + ε · sign ∇ₓ L(x, y))
* BIM (Kurakin 2017):      x ← Π_ε(x + α · sign ∇ₓ L), repeated ``steps`` times, start at x
* PGD (Madry 2018):        as BIM, from a uniformly random start in the ε-ball (seeded generator)
* targeted PGD:            descend L(x, target) instead of ascending L(x, y)

L is the cross-entropy; Π_ε projects onto the ε-ball around the clean image and clips to [0, 1]
(the same order of operations as torchattacks, our test oracle). Gradients are input gradients from
``torch.autograd.grad``: no ``.backward()``, no ``param.grad``, the model's weights and flags are never
changed (``hooks.frozen`` restores them also when the attack fails).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vizcore.core.hooks import frozen, model_device

METHODS: dict[str, str] = {
    "fgsm": "FGSM (one step)",
    "bim": "Iterative FGSM (BIM)",
    "pgd": "PGD (random start)",
    "targeted": "Targeted PGD",
}
Logits = Callable[[torch.Tensor], torch.Tensor]


class Normalised(nn.Module):
    """``model((x − mean) / std)``: a view of a model that takes pixels in [0, 1] (B, 3, H, W).

    The wrapped model is referenced, not copied, and nothing about it is changed.
    """

    def __init__(self, model: nn.Module, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.model = model
        dev = model_device(model)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32, device=dev).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32, device=dev).view(1, -1, 1, 1))
        self.training = False  # the wrapper only (``.eval()`` would write the shared model's flags too)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) pixels in [0, 1] → (B, classes) logits."""
        return self.model((x - self.mean) / self.std)


@dataclass(frozen=True)
class AttackResult:
    """One adversarial example. ``pixels`` (1, 3, H, W) float32 in [0, 1] on CPU; ``pred`` its top-1
    class; ``source`` the clean top-1 class; ``success``: untargeted → pred ≠ source, targeted →
    pred = target. ``clean`` is the attacked input (1, 3, H, W); ``probs`` / ``clean_probs`` are the
    (classes,) softmax after / before."""

    pixels: torch.Tensor
    clean: torch.Tensor
    pred: int
    success: bool
    source: int
    target: int | None
    method: str
    eps: float
    steps: int
    step_size: float
    probs: np.ndarray
    clean_probs: np.ndarray
    seconds: float

    @property
    def delta(self) -> torch.Tensor:
        """The perturbation x' − x (1, 3, H, W), in [−ε, ε]."""
        return self.pixels - self.clean


def check_pixels(pixels: torch.Tensor) -> None:
    """Refuse anything but a (N, C, H, W) float tensor (C = 3, or 1 for grey models) in [0, 1]."""
    if not isinstance(pixels, torch.Tensor) or pixels.dim() != 4 or pixels.shape[1] not in (1, 3):
        shape = tuple(pixels.shape) if isinstance(pixels, torch.Tensor) else type(pixels).__name__
        raise ValueError(f"pixels must be a (1, 3, H, W) tensor, got {shape}")
    if not pixels.is_floating_point():
        raise ValueError(f"pixels must be floating point in [0, 1], got dtype {pixels.dtype}")
    if pixels.numel() and (float(pixels.min()) < 0 or float(pixels.max()) > 1):
        raise ValueError("pixels must lie in [0, 1] (un-normalised); the model's mean/std are applied inside")


def logits_and_grad(fn: Logits, x: torch.Tensor, labels: torch.Tensor, *,
                    targeted: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """One forward + input-gradient backward at ``x`` (B, 3, H, W): the (B, classes) logits (detached)
    and ∇ₓ of the summed cross-entropy (negated when ``targeted``), (B, 3, H, W).

    The sum (not the mean) keeps each sample's gradient independent of the batch size; the sign step
    is the same either way."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = fn(x)
        loss = F.cross_entropy(logits, labels, reduction="sum")
        (grad,) = torch.autograd.grad(-loss if targeted else loss, x)
    return logits.detach(), grad


def input_grad(fn: Logits, x: torch.Tensor, labels: torch.Tensor, *, targeted: bool) -> torch.Tensor:
    """∇ₓ of the summed cross-entropy (negated when ``targeted``) at ``x`` (B, 3, H, W) → (B, 3, H, W)."""
    return logits_and_grad(fn, x, labels, targeted=targeted)[1]


def project(adv: torch.Tensor, clean: torch.Tensor, eps: float | torch.Tensor) -> torch.Tensor:
    """Π_ε: clip ``adv − clean`` to [−ε, ε] (ε a float or a (B, 1, 1, 1) tensor), then to [0, 1]."""
    delta = torch.clamp(adv - clean, min=-eps, max=eps)
    return torch.clamp(clean + delta, min=0, max=1)


def random_start(clean: torch.Tensor, eps: float | torch.Tensor, seed: int) -> torch.Tensor:
    """Uniform start in the ε-ball around ``clean`` (B, 3, H, W), clipped to [0, 1], from a seeded CPU
    generator. One noise pattern (1, 3, H, W) is shared by the batch, scaled by each sample's ε, so a
    batched ε sweep starts every ε where the single attack with that ε starts."""
    gen = torch.Generator().manual_seed(int(seed))
    noise = torch.rand((1, *clean.shape[1:]), generator=gen, dtype=torch.float32).mul_(2).sub_(1)
    noise = noise.to(clean.device)
    return torch.clamp(clean + noise * eps, 0, 1)


def iterate(fn: Logits, clean: torch.Tensor, labels: torch.Tensor, *, eps: float | torch.Tensor,
            step: float | torch.Tensor, steps: int, start: torch.Tensor | None = None,
            targeted: bool = False) -> torch.Tensor:
    """The BIM / PGD loop: ``steps`` signed-gradient steps of size ``step`` from ``start`` (default:
    the clean image), each projected with ``project``. (B, 3, H, W) in, (B, 3, H, W) out, detached."""
    adv = clean.clone() if start is None else start.detach().clone()
    for _ in range(steps):
        grad = input_grad(fn, adv, labels, targeted=targeted)
        adv = project(adv.detach() + step * grad.sign(), clean, eps)
    return adv.detach()


def fgsm_step(fn: Logits, clean: torch.Tensor, labels: torch.Tensor, *, eps: float | torch.Tensor,
              targeted: bool = False) -> torch.Tensor:
    """FGSM: ``clip₀₁(x + ε · sign ∇ₓ L)`` for (B, 3, H, W) ``clean``."""
    grad = input_grad(fn, clean, labels, targeted=targeted)
    return torch.clamp(clean + eps * grad.sign(), min=0, max=1).detach()


def check_settings(method: str, eps: float, steps: int, step_size: float | None,
                   target: int | None, num_classes: int | None) -> tuple[int, float]:
    """Validate the options; returns (steps, step size) with the defaults filled in (α = 2.5 ε / steps,
    Madry's choice; FGSM: one step of ε). ``num_classes`` ``None``: the target's range is not checked."""
    if method not in METHODS:
        raise ValueError(f"unknown attack {method!r}; choose one of {', '.join(METHODS)}")
    if not 0 < eps <= 1:
        raise ValueError(f"eps must be in (0, 1] (pixel scale: 2/255 ≈ 0.0078), got {eps}")
    if method == "fgsm":
        return 1, float(eps)
    if int(steps) < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if step_size is not None and not step_size > 0:
        raise ValueError(f"step_size must be positive, got {step_size}")
    if method == "targeted":
        if target is None:
            raise ValueError("targeted PGD needs a target class")
        if num_classes is not None and not 0 <= int(target) < num_classes:
            raise ValueError(f"target {target} is out of range: classes 0–{num_classes - 1}")
    return int(steps), float(step_size if step_size is not None else 2.5 * eps / int(steps))


def run_attack(fn: Logits, clean: torch.Tensor, labels: torch.Tensor, *, method: str,
               eps: float | torch.Tensor, steps: int, step: float | torch.Tensor, seed: int) -> torch.Tensor:
    """Dispatch ``method`` on a batch; ``labels`` are the true classes (untargeted) or the targets."""
    targeted = method == "targeted"
    if method == "fgsm":
        return fgsm_step(fn, clean, labels, eps=eps)
    start = random_start(clean, eps, seed) if method in ("pgd", "targeted") else None
    return iterate(fn, clean, labels, eps=eps, step=step, steps=steps, start=start, targeted=targeted)


def attack(model: nn.Module, pixels: torch.Tensor, *, mean: tuple[float, ...], std: tuple[float, ...],
           method: str = "pgd", eps: float = 2 / 255, steps: int = 10, step_size: float | None = None,
           target: int | None = None, seed: int = 0) -> AttackResult:
    """Attack ``model`` (which expects ``(x − mean) / std``) on ``pixels`` (1, 3, H, W) in [0, 1].

    ``method``: ``"fgsm"``, ``"bim"``, ``"pgd"`` (random start from ``seed``) or ``"targeted"``
    (targeted PGD towards ``target``). ``eps`` and ``step_size`` are on the [0, 1] pixel scale
    (one 8-bit level = 1/255). Untargeted attacks push away from the clean top-1 class.
    """
    check_pixels(pixels)
    if pixels.shape[0] != 1:
        raise ValueError(f"attack takes one image (1, 3, H, W), got a batch of {pixels.shape[0]}")
    check_settings(method, eps, steps, step_size, target, None)  # refuse bad options before any work
    start_t = time.perf_counter()
    with frozen(model):
        fn = Normalised(model, mean, std)
        clean = pixels.detach().to(torch.float32).to(model_device(model))
        with torch.inference_mode():
            clean_logits = fn(clean)[0].float()
        steps, step = check_settings(method, eps, steps, step_size, target, clean_logits.numel())
        source = int(clean_logits.argmax())
        goal = int(target) if method == "targeted" else source
        labels = torch.tensor([goal], device=clean.device)
        adv = run_attack(fn, clean, labels, method=method, eps=float(eps), steps=steps, step=step, seed=seed)
        with torch.inference_mode():
            logits = fn(adv)[0].float()
    pred = int(logits.argmax())
    success = pred == goal if method == "targeted" else pred != source
    return AttackResult(
        adv.cpu(), clean.cpu(), pred, success, source, goal if method == "targeted" else None, method,
        float(eps), steps, step, torch.softmax(logits, 0).cpu().numpy(),
        torch.softmax(clean_logits, 0).cpu().numpy(), time.perf_counter() - start_t)
