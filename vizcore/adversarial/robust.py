"""Defences at work: predictions through a defence (with votes for random ones) and a
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
)
from vizcore.adversarial.defences import Defence, through, transform
from vizcore.core.hooks import frozen, model_device


@dataclass(frozen=True)
class DefendedPrediction:
    """The model's answer on defended input: ``probs`` (classes,) = softmax averaged over ``draws``
    transformations; ``pred`` its argmax; ``votes`` (class, count) of each draw's top-1, most first."""

    probs: np.ndarray
    pred: int
    votes: tuple[tuple[int, int], ...]
    draws: int


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
