"""Building the architecture a user's weights belong to and fitting it to the file's shapes.

The head (the last ``Linear``, or the last ``Conv2d`` for SqueezeNet-style heads) takes the number of
classes from the file; the first ``Conv2d`` takes the number of input channels from the file (a
grayscale model). Everything else must match exactly; mismatches are reported key by key.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

import torch
from torch import nn

from models.user_files import UserModelError

TV_EXTRA = {"googlenet": {"aux_logits": False, "init_weights": False},
            "inception_v3": {"aux_logits": False, "init_weights": False}}
SHOW = 5


def torchvision_archs() -> list[str]:
    """Every torchvision classification architecture (``list_models(module=torchvision.models)``)."""
    import torchvision
    from torchvision.models import list_models

    return sorted(list_models(module=torchvision.models))


def registry_archs() -> dict[str, Callable[[], nn.Module]]:
    """Registry entries usable as an architecture (builder with random weights)."""
    from models.registry import list_specs

    return {s.name: s.build for s in list_specs()}


def all_archs() -> list[str]:
    """Registry entries first, then the other torchvision architectures."""
    reg = list(registry_archs())
    return reg + [a for a in torchvision_archs() if a not in reg]


def build_arch(arch: str) -> nn.Module:
    """An untrained instance of ``arch`` (seeded, so a failed load is reproducible)."""
    reg = registry_archs()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        if arch in reg:
            return reg[arch]()
        if arch in torchvision_archs():
            from torchvision.models import get_model

            return get_model(arch, weights=None, **TV_EXTRA.get(arch, {}))
    close = difflib.get_close_matches(arch, all_archs(), n=5, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise UserModelError(f"Unknown architecture {arch!r}.{hint} Choose a torchvision classification "
                         "architecture (resnet18, mobilenet_v3_small, …) or a CNN Lens registry entry "
                         "(lenet5, …).")


def _replace(model: nn.Module, path: str, new: nn.Module) -> None:
    parent_path, _, child = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    setattr(parent, child, new)


def _conv_like(conv: nn.Conv2d, *, in_ch: int | None = None, out_ch: int | None = None) -> nn.Conv2d:
    return nn.Conv2d(in_ch or conv.in_channels, out_ch or conv.out_channels, conv.kernel_size,
                     stride=conv.stride, padding=conv.padding, dilation=conv.dilation,
                     groups=conv.groups if in_ch is None else 1, bias=conv.bias is not None,
                     padding_mode=conv.padding_mode)


def first_conv(model: nn.Module) -> tuple[str, nn.Conv2d] | None:
    """The first ``Conv2d`` in definition order (the one that sees the image)."""
    return next(((n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)), None)


def head(model: nn.Module) -> tuple[str, nn.Module] | None:
    """The classifier: the last ``Linear``, else the last ``Conv2d`` (SqueezeNet)."""
    lin = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    conv = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    return (lin or conv or [None])[-1]


def adapt(model: nn.Module, state: dict[str, torch.Tensor]) -> list[str]:
    """Resize the head and the first conv to the file's shapes; returns what was changed (sentences)."""
    changes = []
    fc = first_conv(model)
    if fc is not None:
        name, conv = fc
        w = state.get(f"{name}.weight")
        if w is not None and w.dim() == 4 and w.shape[1] != conv.in_channels and conv.groups == 1:
            _replace(model, name, _conv_like(conv, in_ch=int(w.shape[1])))
            changes.append(f"first convolution `{name}` takes {w.shape[1]} input channel(s)")
    hd = head(model)
    if hd is not None:
        name, mod = hd
        w = state.get(f"{name}.weight")
        if w is not None and w.shape[0] != mod.weight.shape[0]:
            n = int(w.shape[0])
            if isinstance(mod, nn.Linear):
                _replace(model, name, nn.Linear(mod.in_features, n, bias=mod.bias is not None))
            else:
                _replace(model, name, _conv_like(mod, out_ch=n))
            changes.append(f"classifier `{name}` has {n} outputs")
    return changes


def _shape(t: torch.Tensor) -> str:
    return "×".join(str(s) for s in t.shape) or "scalar"


def check_keys(model: nn.Module, state: dict[str, torch.Tensor], arch: str) -> dict[str, torch.Tensor]:
    """The state dict to load (auxiliary-classifier keys dropped), or ``UserModelError`` listing the first
    few missing / unexpected / shape-mismatched keys with their shapes."""
    own = model.state_dict()
    extra = [k for k in state if k not in own]
    if extra and all(k.startswith(("aux", "AuxLogits")) for k in extra):
        state = {k: v for k, v in state.items() if k in own}  # auxiliary heads of GoogLeNet / Inception
        extra = []
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    shapes = [k for k in own if k in state and own[k].shape != state[k].shape]
    if not (missing or extra or shapes):
        return state
    lines = [f"The weights do not fit the architecture **{arch}**"
             f" ({len(missing)} missing, {len(extra)} unexpected, {len(shapes)} with another shape; "
             f"the file has {len(state)} tensors, {arch} expects {len(own)})."]
    if missing:
        lines.append("Missing in the file: "
                     + ", ".join(f"`{k}` ({_shape(own[k])})" for k in missing[:SHOW]))
    if extra:
        lines.append("Not in the architecture: "
                     + ", ".join(f"`{k}` ({_shape(state[k])})" for k in extra[:SHOW]))
    if shapes:
        lines.append("Shape differs: " + ", ".join(
            f"`{k}` file {_shape(state[k])} vs {arch} {_shape(own[k])}" for k in shapes[:SHOW]))
    if len(missing) + len(extra) > len(own) // 2:
        lines.append("Most keys differ: the file is probably a different architecture — check the choice.")
    raise UserModelError("\n\n".join(lines))


def onnx_to_torch(data: bytes) -> nn.Module:
    """Convert an ONNX classifier with ``onnx2torch``; unsupported operators are listed in the error."""
    try:
        import onnx
        from onnx2torch import convert
        from onnx2torch.node_converters.registry import get_converter
    except ImportError as exc:  # pragma: no cover - both are runtime dependencies
        raise UserModelError(f"ONNX support needs `pip install onnx onnx2torch` ({exc}).") from exc
    try:
        proto = onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf DecodeError and friends
        raise UserModelError(f"The file could not be read as an ONNX model ({type(exc).__name__}).") from exc
    opsets = {o.domain or "": o.version for o in proto.opset_import}
    missing = []
    for node in proto.graph.node:
        domain = node.domain or ""
        try:
            get_converter(domain=domain, operation_type=node.op_type, version=opsets.get(domain, 1))
        except NotImplementedError:
            where = f", domain {domain}" if domain else ""
            missing.append(f"{node.op_type} (opset {opsets.get(domain, '?')}{where})")
    if missing:
        raise UserModelError("onnx2torch cannot convert these operators: " + ", ".join(sorted(set(missing)))
                             + ". Export the model again with standard operators, or save a state dict.")
    try:
        return convert(proto)
    except Exception as exc:  # converters refuse some attribute combinations
        raise UserModelError(f"onnx2torch could not convert the model: {exc}") from exc


def onnx_input_shape(data: bytes) -> tuple[int | None, int | None]:
    """(channels, spatial size) of the first graph input when the file states them, else None."""
    import onnx

    proto = onnx.load_model_from_string(data)
    inits = {i.name for i in proto.graph.initializer}
    for inp in proto.graph.input:
        if inp.name in inits:
            continue
        dims = [d.dim_value if d.HasField("dim_value") else None for d in inp.type.tensor_type.shape.dim]
        if len(dims) == 4:
            size = dims[2] if dims[2] == dims[3] else None
            return dims[1], size
    return None, None
