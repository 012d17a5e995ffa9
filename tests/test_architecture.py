"""Architecture table: parameter and MAC counts (hand count for a tiny model, torchvision's
published numbers for the registry models), geometry columns and course-vocabulary labels."""

from __future__ import annotations

import functools

import pytest
import torch
from torch import nn

from models.registry import get_spec, list_specs, load_model
from tests.conftest import assert_clean
from vizcore.inside.architecture import architecture, residual_blocks


@functools.cache
def _untrained(name: str) -> nn.Module:
    """One random-weight copy per architecture for the whole module (never mutated)."""
    return load_model(name, trained=False).model



class _Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1)  # 32 → 16
        self.dw = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=8, bias=False)
        self.pw = nn.Conv2d(8, 8, 1)
        self.grouped = nn.Conv2d(8, 4, 3, padding=1, groups=2, bias=False)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = x + self.pw(self.dw(x))
        return self.fc(self.pool(self.grouped(x)).flatten(1))


def test_tiny_model_hand_counts() -> None:
    model = _Tiny().eval().requires_grad_(False)
    table = architecture(model, input_size=32)
    rows = {r.name: r for r in table.rows}
    stem, dw, pw, grp, fc = (rows[n] for n in ("stem", "dw", "pw", "grouped", "fc"))
    assert stem.out_shape == (8, 16, 16)
    assert (stem.params, stem.macs) == (8 * 27 + 8, 8 * 16 * 16 * 3 * 9)
    assert (dw.params, dw.macs) == (8 * 9, 8 * 16 * 16 * 9)
    assert (pw.params, pw.macs) == (8 * 8 + 8, 8 * 16 * 16 * 8)
    assert (grp.params, grp.macs) == (4 * 4 * 9, 4 * 16 * 16 * 4 * 9)
    assert (fc.params, fc.macs) == (4 * 10 + 10, 40)
    assert table.total_params == sum(p.numel() for p in model.parameters())
    assert table.total_macs == stem.macs + dw.macs + pw.macs + grp.macs + fc.macs
    assert (stem.kernel, stem.stride, stem.padding, stem.groups) == ("3", "2", "1", "1")
    assert "strided" in stem.labels
    assert {"depthwise", "dilated"} <= set(dw.labels) and dw.dilation == "2"
    assert "1×1" in pw.labels and "grouped" in grp.labels
    assert "fully connected" in fc.labels and "global pool" in rows["pool"].labels
    assert residual_blocks(table) == ["(model)"]
    # RF: stem 3 (jump 2); dilated 3×3 adds 2·2·2 = 8 → 11; the residual join keeps the larger
    assert (stem.rf_size, stem.rf_jump, dw.rf_size, rows["pw"].rf_size) == (3, 2, 11, 11)
    assert table.depth == 5
    assert_clean(model)


def _published(name: str) -> tuple[float, int]:
    from torchvision.models import get_model_weights

    meta = get_model_weights(name).DEFAULT.meta  # metadata only, nothing is downloaded
    return meta["_ops"], meta["num_params"]


@pytest.mark.parametrize("name", [s.name for s in list_specs()])
def test_registry_totals_match(name: str) -> None:
    model = _untrained(name)
    table = architecture(model, input_size=get_spec(name).input_size)  # LeNet-5: 32 px, 1 channel
    assert table.total_params == sum(p.numel() for p in model.parameters())
    assert all(r.params >= 0 and r.macs >= 0 for r in table.rows)
    if name not in ("efficientnet_lite0", "lenet5"):  # torchvision models: published metadata
        gmacs, n_params = _published(name)
        assert table.total_macs / 1e9 == pytest.approx(gmacs, abs=0.0015)
        if name != "googlenet":  # the registry builds it without the auxiliary classifiers
            assert table.total_params == n_params
    assert_clean(model)


def test_labels_in_known_models() -> None:
    labels = {n: {lab for r in architecture(_untrained(n)).rows for lab in r.labels}
              for n in ("mobilenet_v3_large", "densenet121", "resnet50")}
    assert {"depthwise", "1×1", "residual", "SE gate"} <= labels["mobilenet_v3_large"]
    assert "concat" in labels["densenet121"] and "residual" not in labels["densenet121"]
    assert {"residual", "1×1", "strided"} <= labels["resnet50"]
