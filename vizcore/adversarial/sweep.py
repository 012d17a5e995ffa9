"""The ε sweep: one attack at eight budgets as one batch, each budget stopping once it is settled.

On two CPU cores a batch of 8 costs about 8 single passes, so a sweep that ran every budget for every
step would cost 8 attacks. Most budgets are decided after a step or two (the original class is
already below 1 %), so each budget leaves the batch as soon as its outcome is **settled**:

* untargeted: the clean top-1 class is no longer top-1 and its probability is below ``SETTLED`` (1 %);
* targeted: the target's probability is above 1 − ``SETTLED`` (99 %).

A settled budget keeps the adversarial image of the step that settled it; on a 0–100 % chart its
numbers differ from running the remaining steps by less than ``SETTLED``. Budgets that never settle run
all ``steps`` and are exactly the single ``attack`` at that ε (same start, same steps).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn

from vizcore.adversarial.attacks import (
    Logits,
    Normalised,
    check_pixels,
    check_settings,
    logits_and_grad,
    project,
    random_start,
    run_attack,
)
from vizcore.core.hooks import frozen, model_device

EPS_LEVELS: tuple[float, ...] = (0.5, 1, 2, 3, 4, 6, 8, 16)  # 8-bit levels; the sweep's 8 budgets
SETTLED = 0.01


@dataclass(frozen=True)
class Sweep:
    """ε sweep of one attack. Per budget (``levels``, 8-bit): probability of the clean top-1 class
    (``source``), of the ``target`` (targeted only), the prediction, whether the attack succeeded and
    the steps it ran (``steps_used``: fewer than ``steps`` when the budget settled early)."""

    levels: tuple[float, ...]
    source_prob: tuple[float, ...]
    target_prob: tuple[float, ...] | None
    preds: tuple[int, ...]
    success: tuple[bool, ...]
    steps_used: tuple[int, ...]
    steps: int
    source: int
    target: int | None
    method: str
    seconds: float


def settled(probs: torch.Tensor, *, source: int, goal: int, targeted: bool) -> torch.Tensor:
    """(B,) bool of (B, classes) ``probs``: is each budget's outcome decided (see the module text)?"""
    if targeted:
        return probs[:, goal] > 1 - SETTLED
    return (probs[:, source] < SETTLED) & (probs.argmax(1) != source)


def settle_iterate(fn: Logits, clean: torch.Tensor, labels: torch.Tensor, start: torch.Tensor, *,
                   eps: torch.Tensor, step: torch.Tensor, steps: int, source: int,
                   targeted: bool) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """The BIM / PGD loop on a batch of budgets (``eps``, ``step``: (B, 1, 1, 1)) where each budget
    leaves the batch once ``settled``. Returns the adversarial images (B, 3, H, W), their logits
    (B, classes) and the steps each budget ran."""
    adv = start.detach().clone()
    live = torch.arange(adv.shape[0], device=adv.device)
    used = [steps] * adv.shape[0]
    out: torch.Tensor | None = None
    goal = int(labels[0])
    for k in range(steps):
        logits, grad = logits_and_grad(fn, adv[live], labels[live], targeted=targeted)
        if out is None:
            out = logits.new_empty(adv.shape[0], logits.shape[1])
        done = settled(torch.softmax(logits.float(), 1), source=source, goal=goal, targeted=targeted)
        for i in live[done].tolist():
            used[i] = k
        out[live[done]] = logits[done]
        live, grad = live[~done], grad[~done]
        if not live.numel():
            break
        adv[live] = project(adv[live] + step[live] * grad.sign(), clean[live], eps[live])
    if live.numel():
        with torch.no_grad():
            last = fn(adv[live])
        out = last.new_empty(adv.shape[0], last.shape[1]) if out is None else out
        out[live] = last
    assert out is not None
    return adv.detach(), out, used


def eps_sweep(model: nn.Module, pixels: torch.Tensor, *, mean: tuple[float, ...], std: tuple[float, ...],
              method: str = "pgd", levels: tuple[float, ...] = EPS_LEVELS, steps: int = 10,
              target: int | None = None, seed: int = 0) -> Sweep:
    """Run ``method`` at every ε in ``levels`` (8-bit levels) as ONE batch (B = len(levels)); each
    budget uses its own step size 2.5 ε / steps and the same random-start pattern as ``attack``, and
    stops once settled (module text). ``pixels``: (1, 3, H, W) in [0, 1]."""
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
        if method == "fgsm":
            adv = run_attack(fn, clean, labels, method=method, eps=eps, steps=1, step=eps, seed=seed)
            with torch.no_grad():
                logits = fn(adv)
            used = [1] * len(levels)
        else:
            start = random_start(clean, eps, seed) if method != "bim" else clean
            _, logits, used = settle_iterate(fn, clean, labels, start, eps=eps, step=2.5 * eps / steps,
                                             steps=steps, source=source, targeted=method == "targeted")
        probs = torch.softmax(logits.float(), dim=1).cpu()
    preds = tuple(int(p) for p in probs.argmax(1))
    ok = tuple((p == goal) if method == "targeted" else (p != source) for p in preds)
    tp = tuple(float(v) for v in probs[:, goal]) if method == "targeted" else None
    return Sweep(tuple(float(v) for v in levels), tuple(float(v) for v in probs[:, source]), tp, preds, ok,
                 tuple(used), steps, source, goal if method == "targeted" else None, method,
                 time.perf_counter() - start_t)
