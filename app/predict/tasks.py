"""Module-level computations the pages hand to ``resources.compute`` (cached by content)."""

from __future__ import annotations

from models.registry import LoadedModel
from vizcore.core.images import LoadedImage
from vizcore.core.preprocess import ModelInput, as_model_input
from vizcore.predict.topk import Prediction, predict


def prediction(loaded: LoadedModel, image: LoadedImage | ModelInput, *, k: int = 5) -> Prediction:
    """Top-k prediction of the shared model on ``image`` (its ``ModelInput``, or the photo)."""
    return predict(loaded.model, as_model_input(image, loaded.spec).tensor, loaded.spec.categories, k=k)
