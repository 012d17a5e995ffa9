"""Preprocessing and prediction with the offline pretrained model on real photos."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from models.registry import get_spec
from vizcore.core.preprocess import resize_crop, to_input, to_pixels
from vizcore.predict.topk import predict

CATS = set(range(281, 286))


def test_chelsea_is_a_cat(lite0, chelsea) -> None:
    pred = predict(lite0.model, to_input(chelsea.image, lite0.spec), lite0.spec.categories)
    assert pred.top1 in CATS, pred.labels
    assert len(pred.indices) == 5 and pred.probs == tuple(sorted(pred.probs, reverse=True))
    assert 0 < sum(pred.probs) <= 1.0 + 1e-6


def test_coffee_is_espresso_or_cup(lite0, coffee) -> None:
    pred = predict(lite0.model, to_input(coffee.image, lite0.spec), lite0.spec.categories)
    assert pred.top1 in {967, 968}, pred.labels
    assert pred.labels[0] in {"espresso", "cup"}


def test_preprocessing_matches_torchvision_transforms(chelsea) -> None:
    from torchvision.transforms import v2 as T

    spec = get_spec("efficientnet_lite0")
    ref = T.Compose([
        T.PILToTensor(), T.Resize(spec.resize_size, antialias=True), T.CenterCrop(spec.input_size),
        T.ToDtype(torch.float32, scale=True), T.Normalize(spec.mean, spec.std),
    ])(chelsea.image)[None]
    ours = to_input(chelsea.image, spec)
    assert ours.shape == (1, 3, 224, 224)
    assert (ours - ref).abs().mean() < 0.02  # same geometry and normalisation (resampler differs)


def test_to_pixels_inverts_normalisation(chelsea) -> None:
    spec = get_spec("efficientnet_lite0")
    crop = np.asarray(resize_crop(chelsea.image, spec))
    assert np.abs(to_pixels(to_input(chelsea.image, spec), spec).astype(int) - crop).max() <= 1


def test_small_image_is_upscaled_to_input_size() -> None:
    spec = get_spec("efficientnet_lite0")
    assert to_input(Image.new("RGB", (20, 200)), spec).shape == (1, 3, 224, 224)


def test_predict_refuses_wrong_shape(lite0) -> None:
    with pytest.raises(ValueError, match=r"\(1, 3, H, W\)"):
        predict(lite0.model, torch.zeros(3, 224, 224), lite0.spec.categories)
