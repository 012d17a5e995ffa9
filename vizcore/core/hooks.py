"""The only place that registers hooks (or wraps a module's ``forward``). Hooks live inside a
``with`` block and are removed in ``finally``; model state that is touched (``training``,
``requires_grad``) is restored there too.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext

import torch
from torch import nn

CONV_TYPES = (nn.Conv2d,)


def resolve_layer(model: nn.Module, name: str) -> nn.Module:
    """Return the submodule at ``named_modules()`` path ``name``.

    Raises ``ValueError`` listing close matches when there is no such layer.
    """
    modules = dict(model.named_modules())
    if name in modules and name != "":
        return modules[name]
    close = difflib.get_close_matches(name, [n for n in modules if n], n=5, cutoff=0.4)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise ValueError(f"No layer named {name!r} in {type(model).__name__}.{hint}")


def conv_layer_names(model: nn.Module) -> list[str]:
    """Paths of every ``nn.Conv2d`` in forward-definition order."""
    return [n for n, m in model.named_modules() if isinstance(m, CONV_TYPES)]


class StopForward(Exception):
    """Raised inside a hook to end a forward pass once the last needed layer has run."""


@contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode, no parameter requires grad; the previous flags are restored on exit."""
    was_training = {m: m.training for m in model.modules()}
    grad_flags = [(p, p.requires_grad) for p in model.parameters()]
    try:
        model.eval()
        for p, _ in grad_flags:
            p.requires_grad_(False)
        yield model
    finally:
        for m, flag in was_training.items():
            m.training = flag
        for p, flag in grad_flags:
            p.requires_grad_(flag)


def frozen_once(model: nn.Module) -> AbstractContextManager:
    """``frozen(model)``, skipped when the model is already in eval mode with every parameter frozen
    (the shared models always are): nothing to restore, and it saves ~2 % of a Grad-CAM."""
    if any(m.training for m in model.modules()) or any(p.requires_grad for p in model.parameters()):
        return frozen(model)
    return nullcontext(model)


@contextmanager
def capture(
    model: nn.Module, layers: Sequence[str], *, stop_after: bool = False,
) -> Iterator[dict[str, torch.Tensor]]:
    """Record the outputs of ``layers`` during forwards run inside the block.

    Yields a dict ``layer name -> output tensor`` (filled in by each forward; the tensors keep their
    autograd graph so ``torch.autograd.grad`` can be taken w.r.t. them). With ``stop_after`` the
    forward ends (``StopForward``, swallowed by ``run_until``) once every layer has been captured, so
    nothing past the deepest layer is computed. Hooks are removed on exit, also after an exception.
    """
    modules = {name: resolve_layer(model, name) for name in layers}
    store: dict[str, torch.Tensor] = {}

    def make_hook(name: str):
        def hook(_m: nn.Module, _inp: tuple, out: torch.Tensor) -> None:
            if isinstance(out, (tuple, list)):
                out = out[0]
            store[name] = out
            if stop_after and len(store) == len(modules):
                raise StopForward

        return hook

    with _forward_hooks(modules, make_hook):
        yield store


@contextmanager
def _forward_hooks(
    modules: dict[str, nn.Module], make_hook: Callable[[str], Callable[..., object]],
) -> Iterator[None]:
    """Register ``make_hook(name)`` as a forward hook on each module; remove them all on exit."""
    handles = []
    try:
        for name, module in modules.items():
            handles.append(module.register_forward_hook(make_hook(name)))
        yield
    finally:
        for h in handles:
            h.remove()


@contextmanager
def observe(
    model: nn.Module, layers: Sequence[str], *,
    before: Callable[[str, tuple], None] | None = None,
    after: Callable[[str, tuple, object], None] | None = None,
) -> Iterator[None]:
    """Call ``before(name, inputs)`` / ``after(name, inputs, output)`` around every forward of each
    layer in ``layers`` (``""`` = the whole model) while inside the block.

    Observation wraps each module's ``forward`` (an instance attribute ``Module.__call__`` uses)
    instead of registering hooks: with 150 layers, hook handles and the hooked call path cost
    ~10 % of a forward, the wrapper ~3 %. Callbacks may raise ``StopForward`` (then use
    ``run_until``). The wrappers are removed on exit, also after an exception; a ``forward`` the
    module already had as an instance attribute is put back.
    """
    table = dict(model.named_modules())
    modules = {name: table[name] if name in table else resolve_layer(model, name) for name in layers}
    patched: list[tuple[nn.Module, object]] = []
    try:
        for name, module in modules.items():
            inner = module.forward
            patched.append((module, module.__dict__.get("forward", _ABSENT)))
            module.__dict__["forward"] = _observed(name, inner, before, after)  # = setattr, 10× faster
        yield
    finally:
        for module, previous in reversed(patched):
            if previous is _ABSENT:
                del module.__dict__["forward"]
            else:
                module.__dict__["forward"] = previous


_ABSENT = object()


def _observed(
    name: str, inner: Callable[..., object],
    before: Callable[[str, tuple], None] | None, after: Callable[[str, tuple, object], None] | None,
) -> Callable[..., object]:
    """``inner`` with ``before``/``after`` called around it under ``name``."""
    def forward(*args: object, **kwargs: object) -> object:
        if before is not None:
            before(name, args)
        out = inner(*args, **kwargs)
        if after is not None:
            after(name, args, out)
        return out

    return forward


def run_until(model: nn.Module, x: torch.Tensor) -> torch.Tensor | None:
    """Run ``model(x)``; return logits, or ``None`` when a ``capture(stop_after=True)`` ended it."""
    try:
        return model(x)
    except StopForward:
        return None


def batch_size_for(model: nn.Module, cpu: int) -> int:
    """Images per forward for batched work (faithfulness curves, occlusion, Score-CAM, IG): ``cpu``
    on a CPU, 32 on a GPU. On CPU a big batch of 224-px images no longer fits the caches and each
    image gets slower (2-core machine, EfficientNet-Lite0: faithfulness 0.57 s at 32 vs 0.17 s at
    2, IG 1.39 s vs 0.55 s at 8); on a GPU big batches are what makes it fast."""
    return cpu if model_device(model).type == "cpu" else 32


def model_device(model: nn.Module) -> torch.device:
    """Device of the model's first parameter (CPU for a parameter-less model)."""
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


@contextmanager
def tap(model: nn.Module, layers: Sequence[str]) -> Iterator[dict[str, torch.Tensor]]:
    """Like ``capture``, but each layer's output becomes a fresh autograd leaf (``requires_grad``).

    Yields ``layer name -> leaf``; the rest of the forward runs on a copy of the leaf, so autograd
    records only the part of the network *after* the layer (gradients w.r.t. the leaf cost a backward
    from the logit to the layer, nothing more) and later in-place ops (``ReLU(inplace=True)``) neither
    fail nor overwrite the stored activation. Hooks are removed on exit, also after an exception.
    """
    modules = {name: resolve_layer(model, name) for name in layers}
    store: dict[str, torch.Tensor] = {}

    def make_hook(name: str):
        def hook(_m: nn.Module, _inp: tuple, out: torch.Tensor) -> torch.Tensor:
            if not isinstance(out, torch.Tensor):
                raise ValueError(f"layer {name!r} does not output a single tensor")
            leaf = out.detach().requires_grad_(True)
            store[name] = leaf
            return leaf.clone()

        return hook

    with _forward_hooks(modules, make_hook):
        yield store
