"""Which real block each family's key-idea card draws, and the idea priced over a whole model.

Families come from the registry (``ModelSpec.family``); a family without an entry here (LeNet, a
user's model) gets its whole network drawn, which is how those small models are taught anyway.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from vizcore.architectures.blocks import BlockRef
from vizcore.architectures.extract import extract_block
from vizcore.architectures.savings import Saving, savings
from vizcore.core.hooks import observe


@dataclass(frozen=True)
class CardBlock:
    """One drawable block: model name, where the block is, a caption, and the module type whose
    every instance in the model is priced as well (``scan``; "" = none)."""

    model: str
    ref: BlockRef
    caption: str
    scan: str = ""
    paper_kernel: int = 0  # also price the last bottleneck branch with this kernel (the paper's 5×5)


REFERENCE_BLOCKS: dict[str, tuple[CardBlock, ...]] = {
    "AlexNet": (CardBlock("alexnet", BlockRef("features", 0, 6), "AlexNet: the first two stages"),),
    "VGG": (CardBlock("vgg16", BlockRef("features", 10, 17),
                      "VGG-16 stage 3: three 3×3 convs, then a pool"),),
    "Inception": (CardBlock("googlenet", BlockRef("inception3a"), "GoogLeNet inception3a", "Inception",
                            paper_kernel=5),),
    "ResNet": (
        CardBlock("resnet18", BlockRef("layer1.0"), "ResNet-18 basic block, identity skip", "BasicBlock"),
        CardBlock("resnet18", BlockRef("layer2.0"), "ResNet-18 basic block, strided projection skip"),
        CardBlock("resnet50", BlockRef("layer1.0"), "ResNet-50 bottleneck block", "Bottleneck"),
    ),
    "DenseNet": (CardBlock("densenet121", BlockRef("features.denseblock1"),
                           "DenseNet-121 dense block 1 (6 layers)", "_DenseBlock"),),
    "MobileNet": (
        CardBlock("mobilenet_v2", BlockRef("features.3"), "MobileNetV2 inverted residual",
                  "InvertedResidual"),
        CardBlock("mobilenet_v3_large", BlockRef("features.5"),
                  "MobileNetV3-Large inverted residual with squeeze-excitation", "InvertedResidual"),
    ),
    "EfficientNet": (
        CardBlock("efficientnet_b0", BlockRef("features.2.1"),
                  "EfficientNet-B0 MBConv with squeeze-excitation", "MBConv"),
        CardBlock("efficientnet_lite0", BlockRef("_blocks.2"), "EfficientNet-Lite0 MBConv (no SE, ReLU6)",
                  "MBConvBlock"),
    ),
    "ConvNeXt": (CardBlock("convnext_tiny", BlockRef("features.1.0"), "ConvNeXt-Tiny block", "CNBlock"),),
}


def card_blocks(family: str, models: Iterable[str]) -> tuple[CardBlock, ...]:
    """The blocks to offer for ``family`` among the registered ``models`` (names, best first); the
    whole first model when the family has no reference block."""
    names = list(models)
    known = tuple(b for b in REFERENCE_BLOCKS.get(family, ()) if b.model in names)
    if known:
        return known
    return (CardBlock(names[0], BlockRef(""), "the whole network"),) if names else ()


def input_shapes(model: nn.Module, paths: list[str],
                 image_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    """Input shape (batch 1) of each module in ``paths`` during one forward of ``image_shape``."""
    seen: dict[str, tuple[int, ...]] = {}

    def before(name: str, args: tuple) -> None:
        if name not in seen and args and isinstance(args[0], torch.Tensor):
            seen[name] = tuple(args[0].shape)

    dev = next((p.device for p in model.parameters()), torch.device("cpu"))
    with torch.no_grad(), observe(model, paths, before=before):
        model(torch.zeros(image_shape, device=dev))
    return seen


@dataclass(frozen=True)
class ScanRow:
    """The ideas found in one block of a scanned model."""

    path: str
    savings: tuple[Saving, ...]


def scan_model(model: nn.Module, type_name: str, image_shape: tuple[int, ...]) -> tuple[ScanRow, ...]:
    """Price the ideas in every module of type ``type_name`` (e.g. every ``_DenseBlock``)."""
    paths = [n for n, m in model.named_modules() if n and type(m).__name__ == type_name]
    shapes = input_shapes(model, paths, image_shape)
    rows = []
    for path in paths:
        if path not in shapes:
            continue
        graph = extract_block(model, BlockRef(path), input_shape=shapes[path])
        rows.append(ScanRow(path, tuple(savings(graph))))
    return tuple(rows)


def totals(rows: tuple[ScanRow, ...]) -> dict[str, tuple[int, int, int, int, int]]:
    """Per idea kind (title without the branch/stride specifics): (blocks, ours MACs, alternative
    MACs, ours weights, alternative weights) summed over the model."""
    out: dict[str, list[int]] = {}
    for row in rows:
        for s in row.savings:
            kind = s.title.split(":", 1)[-1].strip()
            acc = out.setdefault(kind, [0, 0, 0, 0, 0])
            for i, v in enumerate((1, s.ours_macs, s.alt_macs, s.ours_params, s.alt_params)):
                acc[i] += v
    return {k: (v[0], v[1], v[2], v[3], v[4]) for k, v in out.items()}
