"""The public library: ``import vizcore`` exports the documented functions; batches equal single calls;
the README's notebook example runs as written."""

from __future__ import annotations

import importlib
import re

import numpy as np
import torch

import vizcore
from tests.conftest import ROOT, assert_clean


def test_every_export_resolves() -> None:
    for name in vizcore.__all__:
        assert getattr(vizcore, name) is not None, name
    assert vizcore.grad_cam.__module__ == "vizcore.explain.cam"
    importlib.import_module("vizcore.predict.topk")  # the same-named subpackage does not shadow it

    assert callable(vizcore.predict) and vizcore.predict is vizcore.predict.__globals__["predict"]


def test_grad_cam_batch_of_two_equals_two_single_calls(lite0, chelsea, coffee) -> None:
    xs = [vizcore.to_input(p.image, lite0.spec) for p in (chelsea, coffee)]
    batch = torch.cat(xs)
    together = vizcore.grad_cams(lite0.model, batch, layer="_blocks.15._project_conv", targets=[281, 967])
    for x, t, got in zip(xs, (281, 967), together, strict=True):
        alone = vizcore.grad_cam(lite0.model, x, layer="_blocks.15._project_conv", target=t)
        assert got.target == alone.target == t
        np.testing.assert_allclose(got.raw, alone.raw, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(got.heatmap, alone.heatmap, atol=1e-5)
    default = vizcore.grad_cams(lite0.model, batch)  # each image's own predicted class
    assert [c.target for c in default] == [vizcore.predict(lite0.model, x, lite0.spec.categories).top1
                                           for x in xs]
    assert_clean(lite0.model)


def test_predict_and_explain_batch_equal_single_calls(lite0, chelsea, coffee) -> None:
    xs = [vizcore.to_input(p.image, lite0.spec) for p in (chelsea, coffee)]
    preds = vizcore.predict_batch(lite0.model, torch.cat(xs), lite0.spec.categories)
    for x, p in zip(xs, preds, strict=True):
        one = vizcore.predict(lite0.model, x, lite0.spec.categories)
        assert p.indices == one.indices
        np.testing.assert_allclose(p.probs, one.probs, rtol=1e-4)
    maps = vizcore.attribute_batch(lite0.model, torch.cat(xs), "saliency", targets=[281, 967])
    one = vizcore.attribute(lite0.model, xs[1], "saliency", target=967)
    np.testing.assert_allclose(maps[1].raw, one.raw, rtol=1e-4, atol=1e-7)
    assert_clean(lite0.model)


def test_readme_notebook_example_runs(tmp_path, monkeypatch) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Use vizcore in a notebook", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    scope: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["cam"].heatmap.shape == (224, 224)
    assert len(scope["cams"]) == 2 and len(scope["preds"]) == 2
    assert scope["sal"].heatmap.shape == (224, 224)
