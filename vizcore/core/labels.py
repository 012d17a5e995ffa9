"""Plain labels for layers: ``_blocks.14._depthwise_conv`` → "block 14 · depthwise 3×3 conv · 14×14×672".

A label has three parts: *where* the layer sits (block / layer / branch, from the module path), *what*
it computes (from the module itself: kernel size, stride, groups…) and the *shape* of its output
(height×width×channels, from a trace). The module path stays available as secondary text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from torch import nn

SEP = " · "
_SEQ_WORDS = {"blocks", "features", "layers", "stages"}  # "blocks.3" reads "block 3"
_NAMES: dict[str, str] = {
    "BatchNorm2d": "batch norm", "LayerNorm": "layer norm", "LayerNorm2d": "layer norm",
    "GroupNorm": "group norm", "ReLU": "ReLU", "ReLU6": "ReLU6", "SiLU": "swish (SiLU)",
    "Hardswish": "hard swish", "Hardsigmoid": "hard sigmoid", "GELU": "GELU", "Sigmoid": "sigmoid",
    "Dropout": "dropout", "Linear": "fully connected", "Identity": "identity", "Flatten": "flatten",
    "Permute": "reorder axes", "StochasticDepth": "stochastic depth", "Upsample": "upsample",
}


@dataclass(frozen=True)
class LayerLabel:
    """The plain label of one layer; ``text`` is what a picker shows, ``path`` the secondary text."""

    path: str
    where: str
    what: str
    shape: str  # "H×W×C", "" when unknown

    @property
    def text(self) -> str:
        """"block 14 · depthwise 3×3 conv · 14×14×672" (empty parts left out)."""
        return SEP.join(p for p in (self.where, self.what, self.shape) if p)


def _k(v: object) -> int:
    return int(v[0]) if isinstance(v, (tuple, list)) else int(v)  # square kernels: first axis


def describe_module(module: nn.Module) -> str:
    """What one module computes, in words: "depthwise 3×3 conv, stride 2", "2×2 max pool", …"""
    if isinstance(module, nn.Conv2d):
        k, s, d = _k(module.kernel_size), _k(module.stride), _k(module.dilation)
        groups = module.groups
        kind = ("depthwise " if groups == module.in_channels > 1 else
                "grouped " if groups > 1 else "")
        extra = (f", stride {s}" if s > 1 else "") + (f", dilation {d}" if d > 1 else "")
        return f"{kind}{k}×{k} conv{extra}"
    if isinstance(module, nn.MaxPool2d | nn.AvgPool2d):
        k, s = _k(module.kernel_size), _k(module.stride or module.kernel_size)
        word = "max" if isinstance(module, nn.MaxPool2d) else "average"
        return f"{k}×{k} {word} pool" + (f", stride {s}" if s != k else "")
    if isinstance(module, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d):
        out = module.output_size
        size = _k(out) if out is not None else 0
        word = "average" if isinstance(module, nn.AdaptiveAvgPool2d) else "max"
        return f"global {word} pool" if size == 1 else f"{word} pool to {size}×{size}"
    name = type(module).__name__
    if name in _NAMES:
        return _NAMES[name]
    children = list(module.children())
    first_conv = next((c for c in children if isinstance(c, nn.Conv2d)), None)
    if first_conv is not None and len(children) <= 4:  # conv + norm + activation wrapper
        return f"{describe_module(first_conv)} + norm + activation"
    return "block output" if children else name


def _humanise(part: str) -> str:
    """"denseblock2" → "dense block 2", "layer3" → "layer 3", "_depthwise_conv" → "depthwise conv"."""
    p = part.strip("_").replace("denseblock", "dense block ").replace("denselayer", "dense layer ")
    p = re.sub(r"([a-z])(\d)", r"\1 \2", p).replace("_", " ")
    return re.sub(r"\s+", " ", p).strip()


def describe_where(path: str, *, container: bool = False) -> str:
    """Where a layer sits, from its module path: "_blocks.14._bn1" → "block 14",
    "layer3.1.conv2" → "layer 3 · block 1", "features.5" → "layer 5" (a numbered leaf).
    ``container``: the module at ``path`` holds other modules (a numbered one reads "block N")."""
    parts = [p for p in path.split(".") if p]
    out: list[str] = []
    for i, part in enumerate(parts):
        leaf = i == len(parts) - 1
        prev = parts[i - 1].strip("_") if i else ""
        if not part.isdigit():
            if not leaf:
                out.append(_humanise(part))
            continue
        if leaf and container:
            word = "block"
        elif leaf:
            if out and prev not in _SEQ_WORDS:
                continue  # a numbered step inside a block: the "what" says what it is
            word = "layer"
        else:
            word = "block" if prev in _SEQ_WORDS or (prev and not prev.isdigit() and prev != "block") \
                else "part"
        if prev in _SEQ_WORDS and out:
            out.pop()
        out.append(f"{word} {part}")
    return SEP.join(w for w in out if w not in ("block", "conv", "features", ""))


def format_shape(shape: tuple[int, ...] | None) -> str:
    """(C, H, W) → "H×W×C"; (F,) → "F"; None or () → ""."""
    if not shape:
        return ""
    if len(shape) == 3:
        c, h, w = shape
        return f"{h}×{w}×{c}"
    return "×".join(str(d) for d in shape)


def layer_labels(model: nn.Module, shapes: Mapping[str, tuple[int, ...]],
                 names: list[str] | tuple[str, ...] | None = None) -> dict[str, LayerLabel]:
    """Plain labels of ``names`` (default: every layer in ``shapes``), keyed by module path.

    ``shapes`` maps a module path to its output shape without the batch axis, (C, H, W) for feature
    maps, as in ``vizcore.inside.receptive.Trace.layer_shape``. A name that is not a module of
    ``model`` raises ``ValueError``."""
    modules = dict(model.named_modules())
    labels: dict[str, LayerLabel] = {}
    for name in names if names is not None else list(shapes):
        if name not in modules:
            raise ValueError(f"{name!r} is not a module of {type(model).__name__}")
        module = modules[name]
        what = describe_module(module)
        where = describe_where(name, container=what == "block output")
        if what == "block output" and not where:
            what = f"output of {_humanise(name.split('.')[-1])}"
        labels[name] = LayerLabel(name, where, what, format_shape(shapes.get(name)))
    return labels
