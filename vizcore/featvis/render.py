"""The optimisation loop: seeded Adam on an FFT image, network run only up to the target layer."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from vizcore.core.hooks import capture, frozen, model_device, run_until
from vizcore.featvis import objectives, param
from vizcore.featvis.objectives import Target
from vizcore.featvis.transforms import Robustness, robust

Progress = Callable[[int, int, "np.ndarray | None"], None]
"""``progress(steps_done, steps_total, preview)``; ``preview`` (B, S, S, 3) uint8 or ``None``."""


@dataclass(frozen=True)
class Settings:
    """Everything besides the target that changes the image (all part of the cache key)."""

    size: int = 128
    steps: int = 64
    lr: float = 0.08
    seed: int = 0
    robust: bool = True
    diversity: float = 0.0
    decay_power: float = 1.0
    polish: float = 0.25  # final fraction of steps without transforms (sharpens the peak)

    def __post_init__(self) -> None:
        if not 32 <= self.size <= 512:
            raise ValueError(f"Image size must be 32–512 px, got {self.size}.")
        if not 1 <= self.steps <= 4096:
            raise ValueError(f"Steps must be 1–4096, got {self.steps}.")
        if not self.lr > 0:
            raise ValueError("The learning rate must be positive.")
        if not 0 <= self.polish <= 1:
            raise ValueError("polish is a fraction of the steps, 0–1.")

    def as_dict(self) -> dict[str, object]:
        """Plain dict (for cache keys and reports)."""
        return asdict(self)


@dataclass(frozen=True)
class ActMaxResult:
    """Feature visualisations: ``images`` (B, S, S, 3) uint8, one per target index;
    ``values`` (B,) objective of each final image seen without transforms; ``history`` (steps, B)
    objective at every step (on the transformed image the optimiser saw)."""

    images: np.ndarray
    values: np.ndarray
    history: np.ndarray
    target: Target
    settings: Settings
    seconds: float


def item_seed(seed: int, kind: str, index: int, replica: int) -> int:
    """A stable per-image seed: the same channel gets the same image whatever the batch is."""
    h = hashlib.sha256(f"{seed}|{kind}|{index}|{replica}".encode()).digest()
    return int.from_bytes(h[:7], "little")


def _seeds(target: Target, seed: int) -> list[int]:
    seen: dict[int, int] = {}
    out = []
    for i in target.indices:
        out.append(item_seed(seed, target.kind, int(i), seen.get(i, 0)))
        seen[i] = seen.get(i, 0) + 1
    return out


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """(B, 3, S, S) in [0, 1] -> (B, S, S, 3) uint8."""
    return (img.detach().clamp(0, 1).permute(0, 2, 3, 1) * 255).round().byte().cpu().numpy()


def _forward(model: nn.Module, x: torch.Tensor, store: dict[str, torch.Tensor] | None,
             layer: str | None) -> torch.Tensor:
    if layer is None:
        return model(x)
    store.clear()
    run_until(model, x)
    if layer not in store:
        raise ValueError(f"Layer {layer!r} did not run during the forward pass.")
    return store[layer]


def render(
    model: nn.Module, target: Target, *, mean: tuple[float, float, float],
    std: tuple[float, float, float], settings: Settings = Settings(),
    progress: Progress | None = None, preview_every: int = 8,
) -> ActMaxResult:
    """Optimise one image per ``target.indices`` item to maximise it (batch = items).

    FFT + decorrelated-colour parameterisation, transformation robustness (pad, jitter, scale,
    rotate), Adam. Each step runs the network only up to the target layer (``capture(...,
    stop_after=True)``) with frozen parameters; gradients via ``torch.autograd.grad`` w.r.t. the
    spectrum only. Deterministic for ``settings.seed``. Hooks are removed and the model's flags
    restored on exit, also on error.
    """
    start = time.perf_counter()
    dev = model_device(model)
    s = settings.size
    seeds = _seeds(target, settings.seed)
    gens = [torch.Generator().manual_seed(x ^ 0x5EED) for x in seeds]
    rob = Robustness().scaled(s)
    scale = param.spectrum_scale(s, decay_power=settings.decay_power).to(dev)
    m = torch.tensor(mean, device=dev).view(1, 3, 1, 1)
    sd = torch.tensor(std, device=dev).view(1, 3, 1, 1)
    spectrum = param.init_spectrum(seeds, s).to(dev).requires_grad_(True)
    opt = torch.optim.Adam([spectrum], lr=settings.lr)
    robust_steps = settings.steps - round(settings.polish * settings.steps) if settings.robust else 0
    history = np.zeros((settings.steps, len(seeds)), dtype=np.float32)
    layer = target.hooked_layer
    with frozen(model), capture(model, [layer] if layer else [], stop_after=True) as store:
        for step in range(settings.steps):
            img = param.to_image(spectrum, scale)
            x = robust(img, gens, rob) if step < robust_steps else img
            act = _forward(model, (x - m) / sd, store, layer)
            if step == 0:
                objectives.check_shape(act, target)
            vals = objectives.values(act, target)
            loss = -vals.sum()
            if settings.diversity:
                loss = loss - settings.diversity * len(seeds) * objectives.diversity(act)
            (grad,) = torch.autograd.grad(loss, [spectrum])
            spectrum.grad = grad
            opt.step()
            spectrum.grad = None
            history[step] = vals.detach().cpu().numpy()
            if progress is not None:
                last = step + 1 == settings.steps
                show = last or (step + 1) % max(1, preview_every) == 0
                progress(step + 1, settings.steps, to_uint8(img) if show else None)
        with torch.no_grad():
            img = param.to_image(spectrum, scale)
            final = objectives.values(_forward(model, (img - m) / sd, store, layer), target)
    return ActMaxResult(to_uint8(img), final.cpu().numpy().astype(np.float32), history, target,
                        settings, time.perf_counter() - start)
