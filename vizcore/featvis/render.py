"""The optimisation loop: seeded Adam on an FFT image, network run only up to the target layer."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
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
Guard = Callable[[], AbstractContextManager[object]]
TURN_PIXELS = 2 * 128 * 128  # image pixels per guarded turn when a guard is given (a shared server)
"""``guard()`` is entered around every part of an optimisation step (e.g. take the shared model's lock
for that part only, so other users' requests run in between); hooks exist only inside it. A part
holds ``micro_batch(size)`` images: two at 128 px, one from 160 px up, so a turn stays short."""


def micro_batch(size: int) -> int:
    """Images per guarded turn at ``size`` px (at least one)."""
    return max(1, TURN_PIXELS // (size * size))


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
        if not 16 <= self.size <= 512:  # 28 px: a digit model's class logit at its own input size
            raise ValueError(f"Image size must be 16–512 px, got {self.size}.")
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
    """(B, 3, S, S) or grey (B, 1, S, S) in [0, 1] -> (B, S, S, 3) uint8."""
    img = img.expand(-1, 3, -1, -1) if img.shape[1] == 1 else img
    return (img.detach().clamp(0, 1).permute(0, 2, 3, 1) * 255).round().byte().cpu().numpy()


def _image(spectrum: torch.Tensor, scale: torch.Tensor, channels: int) -> torch.Tensor:
    """The parameterised image (B, C, S, S) in (0, 1). Grayscale models (C = 1) see the mean of the
    colour parameterisation: only its luminance is optimised, and the result is shown in grey."""
    img = param.to_image(spectrum, scale)
    return img.mean(1, keepdim=True) if channels == 1 else img


def _forward(model: nn.Module, x: torch.Tensor, store: dict[str, torch.Tensor] | None,
             layer: str | None) -> torch.Tensor:
    if layer is None:
        return model(x)
    store.clear()
    run_until(model, x)
    if layer not in store:
        raise ValueError(f"Layer {layer!r} did not run during the forward pass.")
    return store[layer]


def _parts(target: Target, n: int, settings: Settings, micro: int) -> list[tuple[slice, Target]]:
    """Batch slices optimised in separate turns (with their sub-targets). Images are independent
    unless the diversity term couples them, so splitting changes nothing but how long the shared
    model is held at a time."""
    if settings.diversity or micro >= n:
        return [(slice(0, n), target)]
    return [(slice(i, min(n, i + micro)),
             Target(target.kind, target.layer, tuple(target.indices[i:i + micro]), target.row, target.col))
            for i in range(0, n, micro)]


def _report(progress: Progress, done: int, total: int, preview_every: int,
            image: Callable[[], torch.Tensor]) -> None:
    """``progress(done, total, preview)``: a uint8 preview every ``preview_every`` steps and at the end."""
    show = done == total or done % max(1, preview_every) == 0
    if show:
        with torch.no_grad():
            preview = to_uint8(image())
    progress(done, total, preview if show else None)


def render(
    model: nn.Module, target: Target, *, mean: tuple[float, float, float],
    std: tuple[float, float, float], settings: Settings = Settings(),
    progress: Progress | None = None, preview_every: int = 8, guard: Guard | None = None,
) -> ActMaxResult:
    """Optimise one image per ``target.indices`` item to maximise it (batch = items).

    FFT + decorrelated-colour parameterisation, transformation robustness (pad, jitter, scale,
    rotate), Adam. Each step runs the network only up to the target layer (``capture(...,
    stop_after=True)``) with frozen parameters; gradients via ``torch.autograd.grad`` w.r.t. the
    spectrum only. Deterministic for ``settings.seed``. Each step runs inside ``guard()`` (if given:
    in parts of ``micro_batch(size)`` images, a turn each, unless diversity couples them) with its own hooks;
    the model's flags are restored after every step, also on error (``progress`` raising = cancel).
    """
    start = time.perf_counter()
    dev = model_device(model)
    s = settings.size
    seeds = _seeds(target, settings.seed)
    gens = [torch.Generator().manual_seed(x ^ 0x5EED) for x in seeds]
    rob = Robustness().scaled(s)
    scale = param.spectrum_scale(s, decay_power=settings.decay_power).to(dev)
    m = torch.tensor(mean, device=dev).view(1, len(mean), 1, 1)  # len 1: grayscale model
    sd = torch.tensor(std, device=dev).view(1, len(std), 1, 1)
    spectrum = param.init_spectrum(seeds, s).to(dev).requires_grad_(True)
    opt = torch.optim.Adam([spectrum], lr=settings.lr)
    robust_steps = settings.steps - round(settings.polish * settings.steps) if settings.robust else 0
    history = np.zeros((settings.steps, len(seeds)), dtype=np.float32)
    layer = target.hooked_layer
    turn = guard or nullcontext
    parts = _parts(target, len(seeds), settings, micro_batch(s) if guard is not None else len(seeds))
    for step in range(settings.steps):
        grad = torch.zeros_like(spectrum)
        vals = []
        for sl, sub in parts:  # one guarded turn per part: other users run between parts
            with turn(), frozen(model), capture(model, [layer] if layer else [], stop_after=True) as store:
                img = _image(spectrum[sl], scale, len(mean))
                x = robust(img, gens[sl], rob) if step < robust_steps else img
                act = _forward(model, (x - m) / sd, store, layer)
                if step == 0:
                    objectives.check_shape(act, sub)
                part_vals = objectives.values(act, sub)
                loss = -part_vals.sum()
                if settings.diversity:
                    loss = loss - settings.diversity * len(seeds) * objectives.diversity(act)
                grad += torch.autograd.grad(loss, [spectrum])[0]
                del act, loss, x
            vals.append(part_vals.detach())
        spectrum.grad = grad
        opt.step()
        spectrum.grad = None
        history[step] = torch.cat(vals).cpu().numpy()
        if progress is not None:  # outside the guard: may be slow, or raise to cancel the run
            _report(progress, step + 1, settings.steps, preview_every,
                    lambda: _image(spectrum, scale, len(mean)))
    with turn(), frozen(model), capture(model, [layer] if layer else [], stop_after=True) as store, \
            torch.no_grad():
        img = _image(spectrum, scale, len(mean))
        final = objectives.values(_forward(model, (img - m) / sd, store, layer), target)
    return ActMaxResult(to_uint8(img), final.cpu().numpy().astype(np.float32), history, target,
                        settings, time.perf_counter() - start)
