"""Defences at work: predictions through a defence (with votes for random ones), the ε sweep, and a
defence-aware attack (PGD through the defence: BPDA for non-differentiable defences, expectation over
transformations for random ones)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from vizcore.adversarial.attacks import (
    AttackResult,
    Normalised,
    check_pixels,
    check_settings,
    input_grad,
    project,
    random_start,
    run_attack,
)
from vizcore.adversarial.defences import Defence, through, transform
from vizcore.core.hooks import frozen, model_device

EPS_LEVELS: tuple[float, ...] = (0.5, 1, 2, 3, 4, 6, 8, 16)  # 8-bit levels; the sweep's 8 budgets


@dataclass(frozen=True)
class DefendedPrediction:
    """The model's answer on defended input: ``probs`` (classes,) = softmax averaged over ``draws``
    transformations; ``pred`` its argmax; ``votes`` (class, count) of each draw's top-1, most first."""

    probs: np.ndarray
    pred: int
    votes: tuple[tuple[int, int], ...]
    draws: int


@dataclass(frozen=True)
class Sweep:
    """ε sweep of one attack. Per budget (``levels``, 8-bit): probability of the clean top-1 class
    (``source``), of the ``target`` (targeted only), the prediction and whether the attack succeeded."""

    levels: tuple[float, ...]
    source_prob: tuple[float, ...]
    target_prob: tuple[float, ...] | None
    preds: tuple[int, ...]
    success: tuple[bool, ...]
    source: int
    target: int | None
    method: str
    seconds: float


def defended_predict(model: nn.Module, pixels: torch.Tensor, *, mean: tuple[float, ...],
                     std: tuple[float, ...], defence: Defence | None, seed: int = 0) -> DefendedPrediction:
    """Predict (1, 3, H, W) ``pixels`` after ``defence`` (``None`` = no defence), averaging
    ``defence.draws`` random draws in one batch."""
    check_pixels(pixels)
    draws = defence.draws if defence is not None else 1
    gen = torch.Generator().manual_seed(int(seed))
    with frozen(model), torch.no_grad():
        x = pixels.to(model_device(model)).float().expand(draws, -1, -1, -1)
        x = transform(defence, x, gen) if defence is not None else x
        probs = torch.softmax(Normalised(model, mean, std)(x).float(), dim=1).cpu()
    top = probs.argmax(dim=1).tolist()
    counts = sorted(((c, top.count(c)) for c in set(top)), key=lambda cv: (-cv[1], cv[0]))
    mean_probs = probs.mean(0)
    return DefendedPrediction(mean_probs.numpy(), int(mean_probs.argmax()), tuple(counts), draws)


def eps_sweep(model: nn.Module, pixels: torch.Tensor, *, mean: tuple[float, ...], std: tuple[float, ...],
              method: str = "pgd", levels: tuple[float, ...] = EPS_LEVELS, steps: int = 10,
              target: int | None = None, seed: int = 0) -> Sweep:
    """Run ``method`` at every ε in ``levels`` (8-bit levels) as ONE batch (B = len(levels)); each
    budget uses its own step size 2.5 ε / steps and the same random-start pattern as ``attack``."""
    check_pixels(pixels)
    start_t = time.perf_counter()
    with frozen(model):
        fn = Normalised(model, mean, std)
        clean1 = pixels.detach().float().to(model_device(model))
        with torch.no_grad():
            clean_logits = fn(clean1)[0]
        source = int(clean_logits.argmax())
        steps, _ = check_settings(method, max(levels) / 255, steps, None, target, clean_logits.numel())
        eps = torch.tensor(levels, dtype=torch.float32, device=clean1.device).view(-1, 1, 1, 1) / 255
        clean = clean1.expand(len(levels), -1, -1, -1)
        goal = int(target) if method == "targeted" else source
        labels = torch.full((len(levels),), goal, device=clean.device)
        adv = run_attack(fn, clean, labels, method=method, eps=eps, steps=steps, step=2.5 * eps / steps,
                         seed=seed)
        with torch.no_grad():
            probs = torch.softmax(fn(adv).float(), dim=1).cpu()
    preds = tuple(int(p) for p in probs.argmax(1))
    ok = tuple((p == goal) if method == "targeted" else (p != source) for p in preds)
    tp = tuple(float(v) for v in probs[:, goal]) if method == "targeted" else None
    return Sweep(tuple(float(v) for v in levels), tuple(float(v) for v in probs[:, source]), tp, preds, ok,
                 source, goal if method == "targeted" else None, method, time.perf_counter() - start_t)


def _eot_logits(model: nn.Module, mean: tuple[float, ...], std: tuple[float, ...], defence: Defence,
                draws: int, gen: torch.Generator):
    fn = Normalised(model, mean, std)

    def logits(x: torch.Tensor) -> torch.Tensor:  # (1, 3, H, W) → (draws, classes)
        return fn(through(defence, x.expand(draws, -1, -1, -1), gen))

    return logits


def adaptive_attack(model: nn.Module, pixels: torch.Tensor, *, mean: tuple[float, ...],
                    std: tuple[float, ...], defence: Defence, eps: float = 8 / 255, steps: int = 10,
                    step_size: float | None = None, seed: int = 0) -> AttackResult:
    """Untargeted PGD *through* ``defence`` (BPDA / EOT over ``defence.draws`` draws per step, one batch).

    The result's ``pred`` / ``probs`` / ``success`` are measured **with the defence on** (averaged over
    its draws, with a fresh seed), which is what the defender sees."""
    check_pixels(pixels)
    start_t = time.perf_counter()
    steps, step = check_settings("pgd", eps, steps, step_size, None, 10 ** 9)
    with frozen(model):
        clean = pixels.detach().float().to(model_device(model))
        gen = torch.Generator().manual_seed(int(seed) + 1)
        fn = _eot_logits(model, mean, std, defence, defence.draws, gen)
        with torch.no_grad():
            clean_probs = torch.softmax(Normalised(model, mean, std)(clean)[0].float(), 0)
        source = int(clean_probs.argmax())
        labels = torch.full((defence.draws,), source, device=clean.device)
        adv = random_start(clean, eps, seed)
        for _ in range(steps):
            adv = project(adv + step * input_grad(fn, adv, labels, targeted=False).sign(), clean, eps)
    after = defended_predict(model, adv.cpu(), mean=mean, std=std, defence=defence, seed=seed + 7)
    return AttackResult(adv.detach().cpu(), clean.cpu(), after.pred, after.pred != source, source, None,
                        f"pgd-through-{defence.kind}", float(eps), steps, step, after.probs,
                        clean_probs.cpu().numpy(), time.perf_counter() - start_t)
