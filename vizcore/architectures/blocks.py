"""A building block drawn from the real graph: ``torch.fx`` traces one block module of a model and
shape propagation gives every node's output shape; the result is data (nodes, edges, shapes,
parameters, MACs) that ``app/architectures/figures.py`` draws.

Nodes are fused the way a textbook draws them: the layers of one ``Conv2dNormActivation`` /
``BasicConv2d`` / DenseNet layer become one box, joins (residual add, concat, gating multiply) are
always boxes of their own. MACs use ``vizcore.inside.architecture.layer_macs`` on each fx node's own
output shape, so a drawing and the architecture table count the same way but are traced separately.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.fx as fx
from torch import nn

from vizcore.core.hooks import observe, resolve_layer
from vizcore.inside.architecture import layer_macs


@dataclass(frozen=True)
class BlockRef:
    """Where a block lives: a module path, or ``path[start:stop]`` of a ``Sequential`` (stacks)."""

    path: str
    start: int | None = None
    stop: int | None = None

    @property
    def label(self) -> str:
        """``features.1.0``, ``features[10:17]`` or "(whole model)"."""
        if not self.path:
            return "(whole model)"
        return self.path if self.start is None else f"{self.path}[{self.start}:{self.stop}]"


@dataclass(frozen=True)
class ConvInfo:
    """One convolution or linear layer inside a node (``kernel`` 0 for linear layers)."""

    path: str
    c_in: int
    c_out: int
    kernel: int
    stride: int
    groups: int
    padding: int
    in_shape: tuple[int, ...]  # without the batch dimension
    out_shape: tuple[int, ...]  # (C, H, W) or (…, features) without the batch dimension
    macs: int
    params: int

    @property
    def depthwise(self) -> bool:
        """One filter per input channel (groups == in channels > 1)."""
        return self.groups > 1 and self.groups == self.c_in


@dataclass(frozen=True)
class BlockNode:
    """One box of the drawing. ``kind``: input | layer | add | concat | mul | op | output."""

    id: str
    kind: str
    label: str
    detail: str
    paths: tuple[str, ...]  # model-level module paths of the layers inside (may be empty)
    out_shape: tuple[int, ...]  # without the batch dimension
    params: int
    macs: int
    convs: tuple[ConvInfo, ...]


@dataclass(frozen=True)
class BlockGraph:
    """A traced block: nodes in execution order and edges ``(source id, target id)``."""

    model_name: str
    ref: BlockRef
    input_shape: tuple[int, ...]  # without the batch dimension
    nodes: tuple[BlockNode, ...]
    edges: tuple[tuple[str, str], ...]

    @property
    def total_params(self) -> int:
        """Parameters of every layer drawn (each module counted once)."""
        return sum(n.params for n in self.nodes)

    @property
    def total_macs(self) -> int:
        """Multiply-accumulates of one image through the block."""
        return sum(n.macs for n in self.nodes)

    def node(self, node_id: str) -> BlockNode:
        """The node with id ``node_id``."""
        return next(n for n in self.nodes if n.id == node_id)

    def successors(self, node_id: str) -> list[str]:
        """Ids of the nodes fed by ``node_id``."""
        return [b for a, b in self.edges if a == node_id]

    def predecessors(self, node_id: str) -> list[str]:
        """Ids of the nodes feeding ``node_id``."""
        return [a for a, b in self.edges if b == node_id]

    def joins(self, kind: str) -> list[BlockNode]:
        """Nodes of ``kind`` (``"add"``, ``"concat"``, ``"mul"``) with two or more inputs."""
        return [n for n in self.nodes if n.kind == kind and len(self.predecessors(n.id)) >= 2]

    def branches(self) -> list[list[str]]:
        """Paths from the input to the first join each reaches (a direct input→join edge is an
        empty branch: the identity skip)."""
        start = next(n.id for n in self.nodes if n.kind == "input")
        out = []
        for first in self.successors(start):
            path: list[str] = []
            cur = first
            while self.node(cur).kind not in ("add", "concat", "mul", "output") or \
                    len(self.predecessors(cur)) < 2:
                path.append(cur)
                nxt = self.successors(cur)
                if len(nxt) != 1:
                    break
                cur = nxt[0]
            out.append(path)
        return out

    def convs(self) -> list[ConvInfo]:
        """Every convolution / linear layer of the block in execution order."""
        return [c for n in self.nodes for c in n.convs]


class BlockTracer(fx.Tracer):
    """Standard leaves plus ``StochasticDepth`` (identity at inference; its functional form is
    wrapped by torchvision and would otherwise become an opaque call)."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return type(m).__name__ == "StochasticDepth" or super().is_leaf_module(m, qualname)


FUSE_TYPES = ("Conv2dNormActivation", "BasicConv2d", "_DenseLayer")


def block_module(model: nn.Module, ref: BlockRef) -> tuple[nn.Module, str]:
    """The block as a module, and the model path of its first layer (whose input it takes)."""
    if not ref.path:
        return model, ""
    mod = resolve_layer(model, ref.path)
    if ref.start is None:
        return mod, ref.path
    if not isinstance(mod, nn.Sequential):
        raise ValueError(f"{ref.path!r} is a {type(mod).__name__}, not a Sequential: cannot slice it")
    if not 0 <= ref.start < (ref.stop or 0) <= len(mod):
        raise ValueError(f"slice [{ref.start}:{ref.stop}] is outside {ref.path!r} (length {len(mod)})")
    return nn.Sequential(*list(mod)[ref.start:ref.stop]), f"{ref.path}.{ref.start}"


def block_input_shape(model: nn.Module, first: str, image_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Shape (with batch 1) of the input ``first`` receives on an image of ``image_shape``."""
    seen: list[tuple[int, ...]] = []

    def before(_name: str, args: tuple) -> None:
        if not seen and args and isinstance(args[0], torch.Tensor):
            seen.append(tuple(args[0].shape))

    dev = next((p.device for p in model.parameters()), torch.device("cpu"))
    with torch.no_grad(), observe(model, [first], before=before):
        model(torch.zeros(image_shape, device=dev))
    if not seen:
        raise ValueError(f"{first!r} did not run on a tensor during the forward pass")
    return seen[0]


def model_path(ref: BlockRef, local: str) -> str:
    if ref.start is None:
        return ".".join(p for p in (ref.path, local) if p)
    head, _, rest = local.partition(".")
    return f"{ref.path}.{ref.start + int(head)}" + (f".{rest}" if rest else "")


def conv_info(mod: nn.Module, path: str, in_shape: tuple[int, ...],
               out_shape: tuple[int, ...]) -> ConvInfo | None:
    params = sum(p.numel() for p in mod.parameters())
    if isinstance(mod, nn.Conv2d):
        pad = mod.padding[0] if isinstance(mod.padding, tuple) else 0
        return ConvInfo(path, mod.in_channels, mod.out_channels, int(mod.kernel_size[0]),
                        int(mod.stride[0]), mod.groups, int(pad), in_shape, out_shape,
                        layer_macs(mod, out_shape), params)
    if isinstance(mod, nn.Linear):
        return ConvInfo(path, mod.in_features, mod.out_features, 0, 1, 1, 0, in_shape, out_shape,
                        layer_macs(mod, out_shape), params)
    return None


def short_label(mod: nn.Module) -> str:
    """Textbook name of a leaf module: "Conv 3×3 dw /2 96→96", "BN", "ReLU", "MaxPool 3×3"."""
    if isinstance(mod, nn.Conv2d):
        k = mod.kernel_size[0]
        dw = " dw" if mod.groups > 1 and mod.groups == mod.in_channels else ""
        stride = f" /{mod.stride[0]}" if mod.stride[0] > 1 else ""
        return f"Conv {k}×{k}{dw}{stride} {mod.in_channels}→{mod.out_channels}"
    if isinstance(mod, nn.Linear):
        return f"Linear {mod.in_features}→{mod.out_features}"
    if isinstance(mod, nn.BatchNorm2d):
        return "BN"
    if isinstance(mod, (nn.MaxPool2d, nn.AvgPool2d)):
        k = mod.kernel_size if isinstance(mod.kernel_size, int) else mod.kernel_size[0]
        return f"{type(mod).__name__} {k}×{k}"
    if isinstance(mod, nn.AdaptiveAvgPool2d):
        return "Global avg pool"
    if type(mod).__name__ == "StochasticDepth":
        return "StochasticDepth (identity at inference)"
    return type(mod).__name__


def fused_owner(block: nn.Module, local: str | None) -> str | None:
    """The outermost module path (prefix of ``local``) whose type is fused into one box."""
    if local is None:
        return None
    parts = local.split(".") if local else []
    for i in range(1, len(parts) + 1):
        p = ".".join(parts[:i])
        try:
            mod = block.get_submodule(p)
        except AttributeError:
            return None
        if type(mod).__name__ in FUSE_TYPES:
            return p
    return None


def local_path(node: fx.Node) -> str | None:
    if node.op == "call_module":
        return str(node.target)
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return None
    key, value = next(reversed(stack.items()))
    return value[0] if isinstance(value, tuple) else key
