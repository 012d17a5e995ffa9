"""Is a map faithful to the model? Deletion / insertion curves and average drop.

* Deletion (Petsiuk et al. 2018, RISE): grey out pixels, most important first; the class probability
  should fall fast → a *low* area under the curve is good.
* Insertion: start from a heavily blurred photo and put pixels back, most important first; the
  probability should rise fast → a *high* area is good.
* Average drop (Chattopadhay et al. 2018, Grad-CAM++): multiply the photo by the map and measure the
  relative loss of confidence, ``max(0, p − p_masked) / p`` in % → lower is better.

"Grey" is 0 in normalised space, i.e. the ImageNet mean colour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vizcore.core.hooks import batch_size_for, frozen, model_device


@dataclass(frozen=True)
class Faithfulness:
    """Curves are (steps + 1,) over ``fractions`` (0 → 1 of the pixels removed / inserted)."""

    fractions: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray
    deletion_auc: float
    insertion_auc: float
    average_drop: float  # percent
    probability: float  # of the target on the untouched input


def blurred(x: torch.Tensor, factor: int = 16) -> torch.Tensor:
    """A strongly blurred copy of ``x`` (N, C, H, W): down-sample by ``factor``, bilinear back up."""
    h, w = x.shape[-2:]
    small = F.interpolate(x, size=(max(1, h // factor), max(1, w // factor)), mode="area")
    return F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)


def auc(fractions: np.ndarray, values: np.ndarray) -> float:
    """Trapezoidal area under ``values`` over ``fractions`` in [0, 1]."""
    v, f = np.asarray(values, np.float64), np.asarray(fractions, np.float64)
    return float(np.sum((v[1:] + v[:-1]) * np.diff(f)) / 2)


def _probs(model: nn.Module, batch: torch.Tensor, target: int, batch_size: int) -> np.ndarray:
    out = [torch.softmax(model(batch[i:i + batch_size]), dim=1)[:, target].float().cpu()
           for i in range(0, batch.shape[0], batch_size)]
    return torch.cat(out).numpy()


def faithfulness(model: nn.Module, x: torch.Tensor, heatmap: np.ndarray, target: int, *,
                 steps: int = 10, batch_size: int | None = None) -> Faithfulness:
    """Deletion / insertion curves and average drop of ``heatmap`` (H, W) for ``x`` (1, 3, H, W).

    Pixels are ranked by ``heatmap`` (ties by position); costs ``2 (steps + 1) + 2`` forwards, batched
    (``batch_size`` default: ``batch_size_for(model, 4)``).
    """
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"expected an input of shape (1, C, H, W), got {tuple(x.shape)}")
    h, w = x.shape[-2:]
    heat = np.asarray(heatmap, np.float32)
    if heat.shape != (h, w):
        raise ValueError(f"heatmap shape {heat.shape} does not match the input's {(h, w)}")
    if steps < 1:
        raise ValueError("steps must be at least 1")
    heat = np.nan_to_num(heat, nan=0.0, posinf=1.0, neginf=0.0)
    dev = model_device(model)
    x = x.detach().to(dev)
    order = torch.from_numpy(np.argsort(-heat.ravel(), kind="stable").copy()).to(dev)
    fractions = np.linspace(0, 1, steps + 1)
    counts = np.round(fractions * h * w).astype(int)
    masks = torch.zeros(steps + 1, h * w, device=dev)
    for i, n in enumerate(counts):
        masks[i, order[:n]] = 1
    masks = masks.view(steps + 1, 1, h, w)
    blur = blurred(x)
    heat_t = torch.from_numpy(heat.clip(0, 1)).to(dev)[None, None]
    batch = torch.cat([x * (1 - masks), blur * (1 - masks) + x * masks, x, x * heat_t])
    with frozen(model), torch.no_grad():
        p = _probs(model, batch, target, batch_size or batch_size_for(model, 4))
    deletion, insertion = p[:steps + 1], p[steps + 1:2 * steps + 2]
    base, masked = float(p[-2]), float(p[-1])
    drop = 100.0 * max(0.0, base - masked) / base if base > 0 else 0.0
    return Faithfulness(fractions, deletion, insertion, auc(fractions, deletion),
                        auc(fractions, insertion), drop, base)
