"""Computations of the Adversarial page (module-level, so ``resources.compute`` caches them by content).

The adversarial pixels travel between tasks as bytes (``to_bytes``), so each later step (transfer,
defences) is cached by exactly the image it looks at and holds the model lock only for its own call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from models.registry import LoadedModel, ModelSpec, list_specs
from models.weights import PackagedFile, TorchvisionWeights
from vizcore.adversarial import AttackResult, attack
from vizcore.adversarial.defences import Defence
from vizcore.adversarial.export import PngExport, export_png, pixels_of
from vizcore.adversarial.metrics import Distortion, distortion
from vizcore.adversarial.robust import DefendedPrediction, adaptive_attack, defended_predict
from vizcore.adversarial.sweep import Sweep, eps_sweep
from vizcore.core.images import LoadedImage
from vizcore.core.preprocess import normalise
from vizcore.explain.cam import CamResult, gradient_cam

TOASTER = 859


@dataclass(frozen=True)
class AttackSettings:
    """The page's attack settings: ε and step size in 8-bit levels (step ``None`` = 2.5 ε / steps)."""

    method: str = "pgd"
    eps_levels: float = 2.0
    steps: int = 10
    step_levels: float | None = None
    target: int = TOASTER
    seed: int = 0

    def kwargs(self) -> dict[str, object]:
        """Keyword arguments of ``vizcore.adversarial.attack``."""
        return dict(method=self.method, eps=self.eps_levels / 255, steps=self.steps,
                    step_size=None if self.step_levels is None else self.step_levels / 255,
                    target=self.target if self.method == "targeted" else None, seed=self.seed)


@dataclass(frozen=True)
class AttackView:
    """Everything the first screen shows: the attack, its size, four Grad-CAMs (clean / adversarial ×
    original class / new class), the class the CAMs call "new", and the verified 8-bit download."""

    result: AttackResult
    distortion: Distortion
    cams: tuple[CamResult, CamResult, CamResult, CamResult]
    new_class: int
    export: PngExport


@dataclass(frozen=True)
class DefenceRow:
    """One defence on the clean and on the adversarial image (and, optionally, the attack through it)."""

    defence: Defence
    clean: DefendedPrediction
    adversarial: DefendedPrediction
    adaptive: AttackResult | None


def to_bytes(pixels: torch.Tensor) -> bytes:
    """(1, C, S, S) float pixels → raw float32 bytes (a hashable cache-key parameter)."""
    return pixels.detach().cpu().float().numpy().tobytes()


def from_bytes(data: bytes, channels: int, size: int) -> torch.Tensor:
    """Inverse of ``to_bytes`` for a (1, ``channels``, ``size``, ``size``) image."""
    return torch.from_numpy(np.frombuffer(data, np.float32).copy()).view(1, channels, size, size)


def _settings(kw: dict[str, object]) -> AttackSettings:
    return AttackSettings(**kw)  # type: ignore[arg-type]


def run(loaded: LoadedModel, image: LoadedImage, **settings: object) -> AttackView:
    """Attack the photo with ``AttackSettings(**settings)``; Grad-CAMs before/after; 8-bit export."""
    s, spec, model = _settings(settings), loaded.spec, loaded.model
    result = attack(model, pixels_of(image.image, spec), mean=spec.mean, std=spec.std, **s.kwargs())
    new = result.pred if result.pred != result.source else int(np.argsort(result.probs)[-2])
    cams = tuple(gradient_cam(model, normalise(px, spec.mean, spec.std), layer=spec.default_layer or None,
                              target=cls)
                 for cls in (result.source, new) for px in (result.clean, result.pixels))
    export = export_png(model, result, image.image, spec)
    return AttackView(result, distortion(result.clean, result.pixels), cams, new, export)  # type: ignore[arg-type]


def sweep(loaded: LoadedModel, image: LoadedImage, *, method: str, steps: int, target: int,
          seed: int) -> Sweep:
    """The 8-budget ε sweep of ``method`` as one batch."""
    spec = loaded.spec
    return eps_sweep(loaded.model, pixels_of(image.image, spec), mean=spec.mean, std=spec.std,
                     method=method, steps=steps, target=target if method == "targeted" else None, seed=seed)


def defence_row(loaded: LoadedModel, image: LoadedImage, *, adv: bytes, kind: str, strength: float,
                draws: int, adaptive: bool, eps_levels: float, steps: int, seed: int) -> DefenceRow:
    """``Defence(kind, strength, draws)`` on the clean crop and on ``adv``; with ``adaptive`` also an
    untargeted PGD through the defence (BPDA / EOT) at the same budget."""
    spec, model = loaded.spec, loaded.model
    d = Defence(kind, strength, draws)
    clean = pixels_of(image.image, spec)
    x_adv = from_bytes(adv, clean.shape[1], clean.shape[-1])
    kw = dict(mean=spec.mean, std=spec.std, defence=d, seed=seed)
    broken = adaptive_attack(model, clean, eps=eps_levels / 255, steps=steps, **kw) if adaptive else None
    return DefenceRow(d, defended_predict(model, clean, **kw), defended_predict(model, x_adv, **kw), broken)


@dataclass(frozen=True)
class TransferRow:
    """The adversarial image (made on another model) shown to ``model``: clean and adversarial top-1."""

    model: str
    clean_pred: int
    clean_prob: float
    adv_pred: int
    adv_prob: float

    @property
    def fooled(self) -> bool:
        """Did the prediction change?"""
        return self.adv_pred != self.clean_pred


def transfer_row(loaded: LoadedModel, _image: object, *, clean: bytes, adv: bytes) -> TransferRow:
    """Show the clean and adversarial crops (square float32 ``to_bytes``, made for another model) to
    ``loaded``, resized to its input size and normalised its way."""
    n = len(clean) // 4
    channels = 3 if n % 3 == 0 and math.isqrt(n // 3) ** 2 == n // 3 else 1
    size = math.isqrt(n // channels)
    both = torch.cat([from_bytes(clean, channels, size), from_bytes(adv, channels, size)])
    spec = loaded.spec
    if spec.input_size != size:
        both = torch.nn.functional.interpolate(both, size=(spec.input_size,) * 2, mode="bilinear",
                                               align_corners=False, antialias=True).clamp(0, 1)
    c, a = (defended_predict(loaded.model, both[i:i + 1], mean=spec.mean, std=spec.std, defence=None)
            for i in range(2))
    return TransferRow(spec.display_name, c.pred, float(c.probs[c.pred]), a.pred, float(a.probs[a.pred]))


def weights_on_disk(spec: ModelSpec) -> bool:
    """Can ``spec``'s pretrained weights load without the network (file already on this machine)?"""
    src = spec.weights
    try:
        if isinstance(src, TorchvisionWeights):
            return (Path(torch.hub.get_dir()) / "checkpoints" / src.filename).is_file()
        if isinstance(src, PackagedFile):
            return src.path().is_file()
    except Exception:  # a missing package or a broken install: not available
        return False
    path = getattr(src, "path", None)
    return bool(path is not None and Path(path() if callable(path) else path).is_file())


def transfer_candidates(source: ModelSpec) -> tuple[list[ModelSpec], list[tuple[ModelSpec, str]]]:
    """(other models to test, [(skipped model, why)]): same classes and channels, weights on disk."""
    usable, skipped = [], []
    for spec in list_specs():
        if spec.name == source.name:
            continue
        if spec.categories != source.categories or spec.channels != source.channels:
            skipped.append((spec, "different classes or input"))
        elif not weights_on_disk(spec):
            skipped.append((spec, "weights not on this machine"))
        else:
            usable.append(spec)
    return usable, skipped
