"""What to maximise: a channel's mean, one neuron, a class logit — plus a diversity term.

Each objective maps the target layer's output to one value per batch item, shape (B,), so several
channels (or classes) are optimised in one batch: item ``i`` maximises ``indices[i]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

KINDS = ("channel", "neuron", "logit")


@dataclass(frozen=True)
class Target:
    """The unit(s) to maximise.

    ``kind`` "channel" (mean of a feature map), "neuron" (one position of a map, the centre unless
    ``row``/``col`` are given) or "logit" (a class score; ``layer`` is ignored and the whole network
    runs). ``indices`` holds one channel / class per batch item (repeat one for diversity).
    """

    kind: str
    layer: str
    indices: tuple[int, ...]
    row: int | None = None
    col: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Unknown objective {self.kind!r}; choose one of {', '.join(KINDS)}.")
        if not self.indices:
            raise ValueError("Give at least one channel / class to maximise.")
        if any(int(i) < 0 for i in self.indices):
            raise ValueError("Channel and class indices must be ≥ 0.")
        if self.kind != "logit" and not self.layer:
            raise ValueError("A channel or neuron objective needs a layer name.")

    @property
    def hooked_layer(self) -> str | None:
        """The layer whose output is needed (``None`` for logits: the model output)."""
        return None if self.kind == "logit" else self.layer


def check_shape(act: torch.Tensor, target: Target) -> None:
    """Raise ``ValueError`` with a clear message when ``target`` does not fit ``act``'s shape."""
    where = "the model output" if target.kind == "logit" else f"layer {target.layer!r}"
    n = act.shape[1]
    bad = [i for i in target.indices if i >= n]
    if bad:
        what = "classes" if target.kind == "logit" else "channels"
        raise ValueError(f"{where} has {n} {what} (0–{n - 1}); {bad[0]} is out of range.")
    if target.kind == "neuron":
        if act.dim() != 4:
            raise ValueError(f"{where} has no spatial map (shape {tuple(act.shape)}): use a channel.")
        h, w = act.shape[2:]
        r, c = _position(target, h, w)
        if not (0 <= r < h and 0 <= c < w):
            raise ValueError(f"Neuron ({r}, {c}) is outside the {h}×{w} map of {where}.")


def _position(target: Target, h: int, w: int) -> tuple[int, int]:
    return (h // 2 if target.row is None else target.row, w // 2 if target.col is None else target.col)


def values(act: torch.Tensor, target: Target) -> torch.Tensor:
    """Objective per batch item, (B,): ``act`` is (B, C, H, W) (or (B, C) for vectors/logits)."""
    idx = torch.as_tensor(target.indices, device=act.device)
    picked = act[torch.arange(act.shape[0], device=act.device), idx]  # (B, H, W) or (B,)
    if target.kind == "neuron":
        h, w = act.shape[2:]
        r, c = _position(target, h, w)
        return picked[:, r, c]
    return picked.flatten(1).mean(1) if picked.dim() > 1 else picked


def diversity(act: torch.Tensor) -> torch.Tensor:
    """Mean negative cosine similarity between the Gram matrices of the batch items (scalar).

    Larger = the images use the layer's channels in more different ways (lucid's diversity term).
    """
    b = act.shape[0]
    if b < 2 or act.dim() != 4:
        return act.new_zeros(())
    flat = act.flatten(2)  # (B, C, HW)
    grams = F.normalize((flat @ flat.transpose(1, 2)).flatten(1), dim=1)  # (B, C*C)
    sim = grams @ grams.T
    return -(sim.sum() - sim.diagonal().sum()) / b
