"""``extract_block``: trace one block with ``torch.fx``, propagate shapes, fuse layers into boxes.

Works on any device, including ``meta`` (shapes only, no arithmetic): a model built under
``torch.device("meta")`` is traced in milliseconds, even VGG-16.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

import torch
import torch.fx as fx
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp

from vizcore.architectures.blocks import (
    BlockGraph,
    BlockNode,
    BlockRef,
    BlockTracer,
    ConvInfo,
    block_input_shape,
    block_module,
    conv_info,
    fused_owner,
    local_path,
    model_path,
    short_label,
)

_JOINS = {operator.add: "add", operator.iadd: "add", torch.add: "add", torch.cat: "concat",
          operator.mul: "mul", operator.imul: "mul", torch.mul: "mul"}


_FUNC_LABELS = {"relu": "ReLU", "relu_": "ReLU", "silu": "SiLU", "gelu": "GELU", "sigmoid": "Sigmoid",
                "flatten": "flatten", "permute": "permute (channels last)", "add": "+", "mul": "×"}


@dataclass
class _Group:
    """Fx nodes fused into one box (mutable while building, frozen into a ``BlockNode``)."""

    id: str
    kind: str
    owner: str | None
    members: list[fx.Node] = field(default_factory=list)


def _kind(node: fx.Node) -> str:
    if node.op == "placeholder":
        return "input"
    if node.op == "output":
        return "output"
    if node.op == "call_module":
        return "layer"
    if node.op in ("call_function", "call_method"):
        name = node.target if node.op == "call_method" else _JOINS.get(node.target)
        name = {"add": "add", "add_": "add", "cat": "concat", "mul": "mul", "mul_": "mul"}.get(
            str(name), name)
        if name in ("add", "concat", "mul") and len(_inputs(node)) >= 2:
            return str(name)
    return "op"


def _inputs(node: fx.Node) -> list[fx.Node]:
    return [a for a in node.all_input_nodes if a.op != "get_attr"]


def _group(gm: fx.GraphModule, block: nn.Module) -> tuple[list[_Group], dict[fx.Node, _Group]]:
    """Fuse chains of nodes owned by the same fused module; joins and I/O stay single boxes."""
    groups: list[_Group] = []
    of: dict[fx.Node, _Group] = {}
    for node in gm.graph.nodes:
        if node.op == "get_attr":
            continue
        kind, ins = _kind(node), _inputs(node)
        owner = fused_owner(block, local_path(node)) if kind in ("layer", "op") else None
        prev = of.get(ins[0]) if len(ins) == 1 else None
        chained = prev is not None and prev.kind == "layer" and len(ins[0].users) == 1
        if chained and ((owner is not None and prev.owner == owner) or (
                owner is None and prev.owner is None and _follower(node, block)
                and any(_weighted(m, block) for m in prev.members))):
            prev.members.append(node)
            of[node] = prev
            continue
        g = _Group(node.name, "layer" if kind == "op" and owner else kind, owner, [node])
        groups.append(g)
        of[node] = g
    return groups, of


_FOLLOWERS = (nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.SiLU, nn.GELU, nn.Hardswish, nn.Sigmoid,
              nn.Hardsigmoid, nn.Tanh)
_FOLLOWER_FUNCS = {"relu", "relu_", "relu6", "silu", "gelu", "sigmoid", "hardswish", "tanh"}


def _follower(node: fx.Node, block: nn.Module) -> bool:
    """Normalisation / activation that a textbook draws inside the box of the layer before it."""
    if node.op == "call_module":
        return isinstance(block.get_submodule(str(node.target)), _FOLLOWERS)
    return getattr(node.target, "__name__", str(node.target)) in _FOLLOWER_FUNCS


def _weighted(node: fx.Node, block: nn.Module) -> bool:
    return node.op == "call_module" and isinstance(block.get_submodule(str(node.target)),
                                                   (nn.Conv2d, nn.Linear))


def _shape(node: fx.Node) -> tuple[int, ...]:
    meta = node.meta.get("tensor_meta")
    if meta is None and node.op == "output":
        return _shape(node.all_input_nodes[0]) if node.all_input_nodes else ()
    shape = getattr(meta, "shape", None)
    return tuple(int(d) for d in shape[1:]) if shape is not None else ()


def _freeze(g: _Group, block: nn.Module, ref: BlockRef, counted: set[str]) -> BlockNode:
    """Turn a group into a ``BlockNode``: labels, shapes, parameters (once per module), MACs."""
    labels, paths, convs = [], [], []
    params = macs = 0
    for node in g.members:
        if node.op == "call_module":
            mod = block.get_submodule(str(node.target))
            path = model_path(ref, str(node.target))
            paths.append(path)
            labels.append(short_label(mod))
            if path not in counted:
                counted.add(path)
                params += sum(p.numel() for p in mod.parameters())
            info = conv_info(mod, path, _shape(node.all_input_nodes[0]), _shape(node))
            if info is not None:
                convs.append(info)
                macs += info.macs
        elif node.op in ("call_function", "call_method"):
            name = getattr(node.target, "__name__", str(node.target))
            for attr in (a for a in node.all_input_nodes if a.op == "get_attr"):
                path = model_path(ref, str(attr.target))
                if path not in counted:
                    counted.add(path)
                    params += block.get_parameter(str(attr.target)).numel()
                labels.append(f"× {str(attr.target).replace('_', ' ')}")
            plain = not any(a.op == "get_attr" for a in node.all_input_nodes)
            if plain and len(_inputs(node)) == 1 and name != "cat":  # cat of one tensor: no-op
                labels.append(_FUNC_LABELS.get(name, name))
    label, detail = _describe(g, labels, ref)
    return BlockNode(g.id, g.kind, label, detail, tuple(paths), _shape(g.members[-1]), params, macs,
                     tuple(convs))


def _describe(g: _Group, labels: list[str], ref: BlockRef) -> tuple[str, str]:
    if g.kind == "input":
        return "input", ""
    if g.kind == "output":
        return "output", ""
    if g.kind == "add":
        return "+ add", "residual connection"
    if g.kind == "concat":
        return "concat", "stack along channels"
    if g.kind == "mul":
        return "× gate", "rescale each channel"
    weighted = [lab for lab in labels if lab.startswith(("Conv", "Linear"))]
    if len(weighted) > 1 and g.owner is not None:
        return g.owner.rsplit(".", 1)[-1], " → ".join(labels)
    if weighted and len(labels) > 1:
        rest = [lab for lab in labels if lab != weighted[0]]
        return weighted[0], "+ " + " + ".join(rest)
    return (labels[0] if labels else g.id), " + ".join(labels[1:])


def extract_block(model: nn.Module, ref: BlockRef, *, input_size: int = 224, channels: int = 3,
                  input_shape: tuple[int, ...] | None = None, model_name: str = "") -> BlockGraph:
    """Trace ``ref`` of ``model`` (fed by a (1, C, S, S) image, S = ``input_size``, C =
    ``channels``) into a ``BlockGraph``; ``input_shape`` (batch 1) skips finding the block's input
    with a forward. Leaves ``model`` as it was (no hooks, same mode); use a private copy."""
    block, first = block_module(model, ref)
    in_shape = input_shape or block_input_shape(model, first, (1, channels, input_size, input_size))
    gm = fx.GraphModule(block, BlockTracer().trace(block))
    dev = next((p.device for p in block.parameters()), torch.device("cpu"))
    with torch.no_grad():
        ShapeProp(gm).propagate(torch.zeros(in_shape, device=dev))
    groups, of = _group(gm, block)
    counted: set[str] = set()
    nodes = tuple(_freeze(g, block, ref, counted) for g in groups)
    edges: list[tuple[str, str]] = []
    for g in groups:
        for node in g.members:
            for src in _inputs(node):
                e = (of[src].id, g.id)
                if e[0] != e[1] and e not in edges:
                    edges.append(e)
    return BlockGraph(model_name, ref, tuple(in_shape[1:]), nodes, tuple(edges))


__all__ = ["BlockGraph", "BlockNode", "BlockRef", "ConvInfo", "extract_block"]
