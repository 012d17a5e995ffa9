"""Sanity check for explanations (Adebayo et al. 2018): cascading model-parameter randomisation.

Re-initialise the model's layers from the top (logits) down, one more at a time, and recompute the
map. A map that depends on what the network learned must change; one that barely changes mostly
reflects the input (edges) and is flagged. Works on a deep COPY: the shared model is never touched.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

FLAG_THRESHOLD = 0.5  # ρ ≥ this: the map barely changed at that step
CHANGED_BELOW = 0.3  # ρ < this: the map clearly changed at that step


@dataclass(frozen=True)
class SanityResult:
    """``maps`` (n + 1, H, W): the original map, then one per cascade step; ``randomised[i]`` is how
    many top layers were re-initialised for ``maps[i + 1]`` and ``similarity[i]`` its Spearman rank
    correlation with the original (1 = identical ranking)."""

    maps: np.ndarray
    randomised: tuple[int, ...]
    layer_names: tuple[str, ...]  # parameter layers, top first
    similarity: tuple[float, ...]
    flagged: bool  # every step barely changed the map (ρ ≥ FLAG_THRESHOLD)

    @property
    def verdict(self) -> str:
        """Judged on EVERY step: 'passes' (each step changed the map clearly, ρ < ``CHANGED_BELOW``),
        'fails' (each step left it similar, ρ ≥ ``FLAG_THRESHOLD``), else 'mixed'."""
        if self.flagged:
            return "fails"
        return "passes" if all(r < CHANGED_BELOW for r in self.similarity) else "mixed"

    @property
    def unchanged_steps(self) -> tuple[int, ...]:
        """``randomised`` counts of the steps whose map did NOT clearly change (ρ ≥ ``CHANGED_BELOW``)."""
        return tuple(n for n, r in zip(self.randomised, self.similarity, strict=True) if r >= CHANGED_BELOW)


def parameter_layers(model: nn.Module) -> list[str]:
    """Paths of modules that own parameters and can ``reset_parameters()``, top (output) first."""
    names = [n for n, m in model.named_modules()
             if n and hasattr(m, "reset_parameters") and any(True for _ in m.parameters(recurse=False))]
    return names[::-1]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two maps (0 when either is constant)."""
    ra = np.argsort(np.argsort(np.ravel(a), kind="stable"), kind="stable").astype(np.float64)
    rb = np.argsort(np.argsort(np.ravel(b), kind="stable"), kind="stable").astype(np.float64)
    if np.ptp(np.ravel(a)) == 0 or np.ptp(np.ravel(b)) == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def cascading_randomisation(
    model: nn.Module, x: torch.Tensor, explain: Callable[[nn.Module, torch.Tensor], np.ndarray], *,
    counts: Sequence[int] = (1, 2, 3), seed: int = 0,
) -> SanityResult:
    """Run ``explain(model, x) -> (H, W) map`` on the original and on copies of ``model`` with the top
    ``counts[i]`` parameter layers re-initialised (cumulative). ``model`` itself is not modified."""
    layers = parameter_layers(model)
    counts = sorted({max(1, min(int(c), len(layers))) for c in counts})
    if not counts:
        raise ValueError(f"{type(model).__name__} has no layers with parameters to randomise")
    original = np.asarray(explain(model, x), np.float32)
    maps, sims = [original], []
    work = copy.deepcopy(model)
    done = 0
    for c in counts:
        # cumulative: re-initialise the next layers down on the same copy
        modules = dict(work.named_modules())
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(seed + c)
            for name in layers[done:c]:
                modules[name].reset_parameters()
        work.requires_grad_(False)
        done = c
        m = np.asarray(explain(work, x), np.float32)
        maps.append(m)
        sims.append(spearman(original, m))
    return SanityResult(np.stack(maps), tuple(counts), tuple(layers[:counts[-1]]), tuple(sims),
                        all(r >= FLAG_THRESHOLD for r in sims))
