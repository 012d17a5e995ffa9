"""Your own model: load a fine-tuned or home-made classifier safely, as a ``LoadedModel`` every page uses.

    from models.user import load_user_model
    loaded = load_user_model(Path("flowers.safetensors"), arch="resnet18", labels=Path("labels.txt"))

Accepted: ``.safetensors`` (preferred), ``.pt`` / ``.pth`` state dicts (``torch.load(weights_only=True)``)
for any torchvision classification architecture or registry entry, and ``.onnx`` classifiers
(``onnx2torch``). Inferred from the file: the number of classes (classifier weight), the input channels
(first conv weight — grayscale models), and the preprocessing (the architecture's, or the file's
safetensors metadata ``input_size`` / ``mean`` / ``std`` / ``labels``), each overridable. Pickled
modules, TorchScript and code payloads are refused without running anything (``models.user_files``);
only ``load_pickled_model`` — reachable from the CLI's ``--trust-pickle`` — unpickles, on the
teacher's own disk. Every refusal is a ``UserModelError`` with a readable message.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from models.registry import IMAGENET_MEAN, IMAGENET_STD, LoadedModel, ModelSpec, list_specs, pick_device
from models.user_arch import adapt, build_arch, check_keys, first_conv, onnx_input_shape, onnx_to_torch
from models.user_files import (
    MAX_FILE_BYTES,
    SAVE_HOWTO,
    UserModelError,
    labels_from,
    load_state_dict,
    parse_labels,
    read_bytes,
    sniff,
)

__all__ = ["MAX_FILE_BYTES", "SAVE_HOWTO", "UserModelError", "UserSpec", "load_pickled_model",
           "load_user_model", "model_nbytes", "parse_labels"]
MIN_INPUT, MAX_INPUT = 8, 1024


@dataclass(frozen=True)
class UserSpec(ModelSpec):
    """A user model's spec: the registry fields plus where it came from and what to warn about."""

    source: str = ""
    warnings: tuple[str, ...] = ()
    changes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Weights:
    """The file's own state dict as a ``WeightsSource`` (so ``spec.weights`` means what it says)."""

    description: str
    state: dict[str, torch.Tensor]

    def load_state_dict(self, cache_dir: Path | None = None) -> dict[str, torch.Tensor]:
        return dict(self.state)


@dataclass(frozen=True)
class _Prep:
    input_size: int
    resize_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    interpolation: str = "bilinear"


def model_nbytes(model: nn.Module) -> int:
    """Bytes held by the parameters and buffers of ``model`` (what a user model costs in memory)."""
    return sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))


def _default_prep(arch: str, channels: int) -> _Prep:
    """The architecture's own preprocessing: registry entry, torchvision weights, else ImageNet 224."""
    spec = next((s for s in list_specs() if s.name == arch), None)
    if spec is not None:
        prep = _Prep(spec.input_size, spec.resize_size, tuple(spec.mean), tuple(spec.std),
                     getattr(spec, "interpolation", "bilinear"))
    else:
        try:
            from torchvision.models import get_model_weights

            tf = get_model_weights(arch).DEFAULT.transforms()
            prep = _Prep(int(tf.crop_size[0]), int(tf.resize_size[0]), tuple(tf.mean), tuple(tf.std),
                         tf.interpolation.value)
        except (ValueError, KeyError, AttributeError, TypeError):
            prep = _Prep(224, 256, IMAGENET_MEAN, IMAGENET_STD)
    return _Prep(prep.input_size, prep.resize_size, _fit(prep.mean, channels, average=True),
                 _fit(prep.std, channels, average=True), prep.interpolation)


def _fit(values: Sequence[float], channels: int, *, average: bool = False) -> tuple[float, ...]:
    """Mean/std for ``channels``: one value per channel, or one for all; with ``average`` (the
    architecture's RGB recipe for a grey model) the mean of the three."""
    v = tuple(float(x) for x in values)
    if len(v) == channels:
        return v
    if len(v) == 1:
        return v * channels
    if channels == 1 and average:
        return (round(sum(v) / len(v), 4),)
    raise UserModelError(f"mean/std have {len(v)} values but the model takes {channels} channels.")


def _meta_floats(meta: dict[str, str], key: str) -> tuple[float, ...] | None:
    raw = meta.get(key)
    if not raw:
        return None
    try:
        val = json.loads(raw) if raw.strip().startswith("[") else [float(x) for x in raw.split(",")]
        return tuple(float(x) for x in val)
    except (ValueError, TypeError):
        return None


def _prep(arch: str, channels: int, meta: dict[str, str], input_size: int | None,
          mean: Sequence[float] | None, std: Sequence[float] | None) -> _Prep:
    """Defaults ← safetensors metadata ← explicit overrides, validated."""
    base = _default_prep(arch, channels)
    meta_size = meta.get("input_size", "")
    size = input_size or (int(meta_size) if meta_size.isdigit() else None) or base.input_size
    if not MIN_INPUT <= size <= MAX_INPUT:
        raise UserModelError(f"Input size {size} px is outside {MIN_INPUT}–{MAX_INPUT} px.")
    resize = base.resize_size if size == base.input_size else (
        size if size < 64 else round(size * base.resize_size / base.input_size))
    m = _fit(mean if mean is not None else _meta_floats(meta, "mean") or base.mean, channels)
    s = _fit(std if std is not None else _meta_floats(meta, "std") or base.std, channels)
    if any(not v > 0 for v in s):
        raise UserModelError(f"Every std value must be positive, got {s}.")
    return _Prep(size, resize, m, s, base.interpolation)


def _nonfinite(model: nn.Module) -> tuple[str, ...]:
    bad = [n for n, t in model.state_dict().items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if not bad:
        return ()
    return (f"The weights contain NaN or Inf values ({', '.join(bad[:3])}{' …' if len(bad) > 3 else ''}): "
            "predictions and explanations of this model are not meaningful.",)


def _probe(model: nn.Module, channels: int, size: int) -> tuple[int, str]:
    """(number of classes, last spatial conv) from one forward on a zero (1, C, S, S) input."""
    from vizcore.core.hooks import capture

    convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise UserModelError("This model has no 2-D convolution, so it is not an image CNN; CNN Lens "
                             "shows convolutional image classifiers only.")
    x = torch.zeros(1, channels, size, size)
    try:
        with torch.no_grad(), capture(model, convs) as store:
            out = model(x)
    except Exception as exc:  # any architecture/shape error in the user's model
        raise UserModelError(f"The model fails on a {channels}×{size}×{size} input ({type(exc).__name__}: "
                             f"{str(exc)[:300]}). Check the input size and the architecture.") from exc
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != 1:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise UserModelError(f"The model returns {shape}, not (batch, classes) logits: is it a classifier?")
    spatial = [n for n in convs if n in store and store[n].dim() == 4 and min(store[n].shape[-2:]) >= 2]
    if not spatial:
        raise UserModelError("No convolution of this model produces a spatial map at "
                             f"{size}×{size} px: there is nothing to show. Use a larger input size.")
    return int(out.shape[1]), spatial[-1]


def _classes(labels: tuple[str, ...] | None, meta: dict[str, str], k: int) -> tuple[str, ...]:
    if labels is None and meta.get("labels"):
        try:
            labels = parse_labels(meta["labels"], "labels.json")
        except UserModelError:
            labels = None
    if labels is None and meta.get("classes"):
        labels = tuple(meta["classes"].split(","))
    if labels is None:
        from models.registry import imagenet_categories

        return imagenet_categories() if k == 1000 else tuple(f"class {i}" for i in range(k))
    if len(labels) != k:
        raise UserModelError(f"The labels file has {len(labels)} names but the model has {k} classes "
                             f"(its classifier has {k} outputs).")
    return labels


def _finish(model: nn.Module, *, arch: str, data: bytes, source: str, meta: dict[str, str],
            labels: tuple[str, ...] | None, input_size: int | None, mean: Sequence[float] | None,
            std: Sequence[float] | None, name: str | None, changes: Sequence[str] = (),
            channels: int | None = None) -> LoadedModel:
    model.eval()
    model.requires_grad_(False)
    fc = first_conv(model)
    ch = channels or (fc[1].in_channels if fc else 3)
    prep = _prep(arch, ch, meta, input_size, mean, std)
    k, last_conv = _probe(model, ch, prep.input_size)
    classes = _classes(labels, meta, k)
    reg = next((s for s in list_specs() if s.name == arch), None)
    layer = reg.default_layer if reg and reg.default_layer in dict(model.named_modules()) else last_conv
    h = hashlib.sha256(data)
    h.update(json.dumps([arch, classes, prep.__dict__, ch]).encode())
    state = {k2: v for k2, v in model.state_dict().items()}
    spec = UserSpec(
        name=f"user-{h.hexdigest()[:16]}", display_name=name or f"{source} ({arch})", family="Your model",
        year=0, build=lambda: copy.deepcopy(model), weights=_Weights(f"your file {source}", state),
        default_layer=layer, input_size=prep.input_size, resize_size=prep.resize_size, mean=prep.mean,
        std=prep.std, interpolation=prep.interpolation, channels=ch, labels=classes,
        note=f"Your model: {source}, architecture {arch}, {k} classes, {ch}-channel "
             f"{prep.input_size} px input.",
        source=source, warnings=_nonfinite(model), changes=tuple(changes),
    )
    dev = pick_device()
    model.to(dev)
    return LoadedModel(spec=spec, model=model, trained=True, device=dev)


def load_user_model(
    weights: Path | bytes, *, arch: str, labels: Sequence[str] | Path | None = None,
    input_size: int | None = None, mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
    name: str | None = None,
) -> LoadedModel:
    """Load a user's classifier safely; every refusal raises ``UserModelError`` (readable message).

    ``weights``: the file (path or bytes): safetensors, a ``.pt``/``.pth`` state dict, or ONNX (then
    ``arch`` may be ``"onnx"``). ``arch``: a torchvision classification architecture or registry
    entry; its head and first conv are fitted to the file's shapes. Returns a frozen, eval-mode
    ``LoadedModel`` whose spec (``UserSpec``) carries labels, preprocessing, the default Grad-CAM layer
    (the registry's, else the last spatial conv) and warnings (NaN/Inf weights)."""
    data = read_bytes(weights)
    source = Path(weights).name if isinstance(weights, Path) else (name or "uploaded file")
    names = labels_from(labels)
    fmt = sniff(data)
    if fmt == "onnx" or arch == "onnx":
        if fmt != "onnx":
            raise UserModelError("Architecture 'onnx' needs an .onnx file; this file is not ONNX.")
        model = onnx_to_torch(data)
        ch, size = onnx_input_shape(data)
        return _finish(model, arch="onnx", data=data, source=source, meta={}, labels=names,
                       input_size=input_size or size, mean=mean, std=std, name=name, channels=ch)
    state, meta = load_state_dict(data, fmt)
    model = build_arch(arch)
    changes = adapt(model, state)
    state = check_keys(model, state, arch)
    sd = OrderedDict(state)  # module versions (mnasnet checks them): the file's, else the architecture's
    sd._metadata = getattr(state, "_metadata", None) or getattr(model.state_dict(), "_metadata", None)  # type: ignore[attr-defined]
    try:
        model.load_state_dict(sd, strict=False)  # only num_batches_tracked may be absent (checked above)
    except (RuntimeError, ValueError) as exc:
        raise UserModelError(f"The weights could not be loaded into {arch}: {str(exc)[:300]}") from exc
    return _finish(model, arch=arch, data=data, source=source, meta=meta, labels=names,
                   input_size=input_size, mean=mean, std=std, name=name, changes=changes)


def _import_class(class_path: str) -> type:
    mod_name, sep, cls_name = class_path.partition(":")
    if not sep:
        mod_name, _, cls_name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(mod_name), cls_name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise UserModelError(f"Cannot import the model class {class_path!r} ({exc}); give it as "
                             "package.module:ClassName and make sure it is importable.") from exc
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise UserModelError(f"{class_path} is not an nn.Module class.")
    return cls


def load_pickled_model(
    path: Path, *, class_path: str, labels: Sequence[str] | Path | None = None,
    input_size: int | None = None, mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
    name: str | None = None,
) -> LoadedModel:
    """CLI only (``--trust-pickle``): unpickle a whole module saved with ``torch.save(model)`` from the
    teacher's own disk. This RUNS the file's pickle: never call it on an upload. The object must be an
    instance of ``class_path`` (imported first, ``package.module:ClassName``)."""
    data = read_bytes(Path(path))
    cls = _import_class(class_path)
    import io

    obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)
    if not isinstance(obj, cls):
        raise UserModelError(f"{Path(path).name} holds a {type(obj).__name__}, not a {class_path}.")
    return _finish(obj, arch=class_path, data=data, source=Path(path).name, meta={},
                   labels=labels_from(labels), input_size=input_size, mean=mean, std=std, name=name)
