"""Preprocessing and prediction with the offline pretrained model on real photos."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from models.registry import get_spec, list_specs
from models.weights import TorchvisionWeights
from tests.conftest import photo_bytes
from vizcore.core.images import load_image
from vizcore.core.preprocess import (
    denormalise,
    model_input,
    normalise,
    pixels_to_tensor,
    resize_crop,
    to_input,
)
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


def test_lite0_preprocessing_equals_torchvision_image_classification(chelsea) -> None:
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms._presets import ImageClassification

    spec = get_spec("efficientnet_lite0")
    ref = ImageClassification(crop_size=spec.input_size, resize_size=spec.resize_size, mean=spec.mean,
                              std=spec.std,
                              interpolation=InterpolationMode(spec.interpolation))(chelsea.image)
    ours = to_input(chelsea.image, spec)
    assert ours.shape == (1, 3, 224, 224)
    assert (ours[0] - ref).abs().max() < 1e-5


def test_denormalise_inverts_normalise(chelsea) -> None:
    spec = get_spec("efficientnet_lite0")
    crop = np.asarray(resize_crop(chelsea.image, spec))
    back = denormalise(to_input(chelsea.image, spec)[0], spec.mean, spec.std)
    assert torch.allclose(back, pixels_to_tensor(crop), atol=1e-6)
    mean, std = torch.tensor(spec.mean)[:, None, None], torch.tensor(spec.std)[:, None, None]
    by_hand = (pixels_to_tensor(crop) - mean) / std
    assert torch.allclose(normalise(pixels_to_tensor(crop)[None], spec.mean, spec.std)[0], by_hand)


TORCHVISION_SPECS = [s for s in list_specs() if isinstance(s.weights, TorchvisionWeights)]


@pytest.fixture(scope="module")
def three_photos():
    """Three photos of different shapes: landscape, square-ish, portrait (rocket)."""
    return [load_image(photo_bytes(n)).image for n in ("chelsea", "coffee", "rocket")]


@pytest.mark.parametrize("spec", TORCHVISION_SPECS, ids=lambda s: s.name)
def test_to_input_equals_the_weights_own_transforms(spec, three_photos) -> None:
    from torchvision.models import get_model_weights

    reference = get_model_weights(spec.name).DEFAULT.transforms()
    for photo in three_photos:
        ref = reference(photo)[None]
        ours = to_input(photo, spec)
        assert ours.shape == ref.shape == (1, 3, 224, 224)
        assert (ours - ref).abs().max() < 1e-5, spec.name


def test_efficientnet_b0_uses_bicubic_as_its_weights() -> None:
    assert get_spec("efficientnet_b0").interpolation == "bicubic"
    assert get_spec("resnet50").resize_size == 232


def test_model_input_is_tensor_and_crop_of_one_resize(chelsea) -> None:
    spec = get_spec("efficientnet_b0")
    inp = model_input(chelsea.image, spec, digest=chelsea.digest)
    assert torch.equal(inp.tensor, to_input(chelsea.image, spec))
    assert inp.crop.size == (224, 224)
    assert np.array_equal(np.asarray(inp.crop), np.asarray(resize_crop(chelsea.image, spec)))
    assert inp.digest.startswith(chelsea.digest) and inp.digest != model_input(
        chelsea.image, get_spec("resnet50"), digest=chelsea.digest).digest


def test_one_channel_recipe_gives_grey_input(chelsea) -> None:
    from dataclasses import replace

    grey = replace(get_spec("efficientnet_lite0"), channels=1, input_size=32, resize_size=32,
                   mean=(0.1307,), std=(0.3081,))
    x = to_input(chelsea.image, grey)
    assert x.shape == (1, 1, 32, 32)
    from torchvision.transforms import v2 as T

    ref = T.Compose([T.Grayscale(), T.PILToTensor(), T.Resize(32, antialias=True), T.CenterCrop(32),
                     T.ToDtype(torch.float32, scale=True), T.Normalize(grey.mean, grey.std)])(chelsea.image)
    assert (x[0] - ref).abs().max() < 0.05  # PIL vs tensor resampler; same geometry and stats


def test_small_image_is_upscaled_to_input_size() -> None:
    spec = get_spec("efficientnet_lite0")
    assert to_input(Image.new("RGB", (20, 200)), spec).shape == (1, 3, 224, 224)


def test_predict_refuses_wrong_shape(lite0) -> None:
    with pytest.raises(ValueError, match=r"\(1, 3, H, W\)"):
        predict(lite0.model, torch.zeros(3, 224, 224), lite0.spec.categories)
