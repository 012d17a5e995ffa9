"""Module-level computations the pages hand to ``resources.compute`` (cached by content)."""

from __future__ import annotations

from models.registry import LoadedModel
from vizcore.core.images import LoadedImage
from vizcore.core.preprocess import to_input
from vizcore.predict.topk import Prediction, predict


def prediction(loaded: LoadedModel, image: LoadedImage, *, k: int = 5) -> Prediction:
    """Top-k prediction of the shared model on ``image``."""
    return predict(loaded.model, to_input(image.image, loaded.spec), loaded.spec.categories, k=k)
