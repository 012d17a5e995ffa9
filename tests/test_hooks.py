"""Hooks live only inside the with block; model state is restored after success and failure."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.conftest import count_hooks
from vizcore.core.hooks import capture, conv_layer_names, frozen, resolve_layer, run_until


def tiny() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 1, 1), nn.Flatten(), nn.Linear(36, 3))


def test_resolve_layer_suggests_close_matches() -> None:
    model = load = tiny()
    assert resolve_layer(model, "0") is load[0]
    with pytest.raises(ValueError, match="No layer named 'layer4'"):
        resolve_layer(model, "layer4")
    lite = __import__("models.efficientnet_lite", fromlist=["x"]).efficientnet_lite0()
    with pytest.raises(ValueError, match=r"_blocks\.15\._project_conv"):
        resolve_layer(lite, "_blocks.15._project_con")


def test_capture_values_equal_truncated_forward() -> None:
    torch.manual_seed(0)
    model = tiny().eval()
    x = torch.randn(2, 1, 8, 8)
    with capture(model, ["1", "2"]) as acts:
        model(x)
    assert torch.allclose(acts["1"], model[1](model[0](x)))
    assert torch.allclose(acts["2"], model[2](model[1](model[0](x))))
    assert count_hooks(model) == 0


def test_capture_stop_after_skips_the_rest() -> None:
    model = tiny().eval()
    calls = []
    model[2].register_forward_pre_hook(lambda *_: calls.append(1))
    with capture(model, ["1"], stop_after=True) as acts:
        assert run_until(model, torch.randn(1, 1, 8, 8)) is None
    assert "1" in acts and calls == []


def test_hooks_removed_and_state_restored_after_exception() -> None:
    model = tiny()
    model.train()
    model[0].weight.requires_grad_(True)
    with pytest.raises(RuntimeError, match="boom"), frozen(model), capture(model, ["0"]):
        assert not model.training and not model[0].weight.requires_grad
        raise RuntimeError("boom")
    assert count_hooks(model) == 0
    assert model.training and model[0].weight.requires_grad and model[2].weight.requires_grad


def test_bad_layer_name_registers_nothing() -> None:
    model = tiny()
    with pytest.raises(ValueError), capture(model, ["0", "nope"]):
        pass
    assert count_hooks(model) == 0


def test_conv_layer_names_in_order() -> None:
    assert conv_layer_names(tiny()) == ["0", "2"]


def test_observe_wraps_forward_and_restores_it_after_success_and_failure() -> None:
    from vizcore.core.hooks import StopForward, observe

    torch.manual_seed(0)
    model = tiny().eval()
    custom = model[2].forward
    model[2].forward = lambda t: custom(t) * 2  # a forward the module already had as an attribute
    wrapped_before = model[2].__dict__["forward"]
    x = torch.randn(1, 1, 8, 8)
    plain = model(x)
    seen: list[tuple[str, str, tuple[int, ...]]] = []
    with observe(model, ["0", "2", ""],
                 before=lambda n, inp: seen.append(("in", n, tuple(inp[0].shape))),
                 after=lambda n, _i, out: seen.append(("out", n, tuple(out.shape)))):
        assert count_hooks(model) == 3  # one wrapper per module (over the module's own forward)
        out = model(x)
    assert torch.equal(out, plain)
    assert [(k, n) for k, n, _ in seen] == [("in", ""), ("in", "0"), ("out", "0"), ("in", "2"),
                                            ("out", "2"), ("out", "")]
    assert seen[2][2] == (1, 2, 6, 6) and seen[4][2] == (1, 1, 6, 6)
    assert model[2].__dict__["forward"] is wrapped_before and "forward" not in model[0].__dict__

    def stop(_n: str, _i: tuple, _o: object) -> None:
        raise StopForward

    with pytest.raises(StopForward), observe(model, ["0"], after=stop):
        model(x)
    with pytest.raises(ValueError), observe(model, ["0", "nope"]):
        pass
    assert count_hooks(model) == 1 and model[2].__dict__["forward"] is wrapped_before
    del model[2].forward
    assert count_hooks(model) == 0
