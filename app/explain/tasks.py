"""Computations of the Explain page (module-level, so ``resources.compute`` can cache them by content)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from models.registry import LoadedModel
from vizcore.core.hooks import conv_layer_names
from vizcore.core.images import LoadedImage
from vizcore.core.preprocess import to_input
from vizcore.explain.cam import CamResult, top_k_cams
from vizcore.explain.faithfulness import Faithfulness, faithfulness
from vizcore.explain.methods import METHODS, explain
from vizcore.explain.sanity import SanityResult, cascading_randomisation, parameter_layers
from vizcore.predict.topk import Prediction, predict

# cheap defaults: every option a slow method takes, chosen so it finishes in a few seconds on 2 cores
OPTIONS: dict[str, dict[str, int]] = {
    "scorecam": {"scorecam_channels": 64},
    "occlusion": {"occlusion_window": 48, "occlusion_stride": 24},
    "smoothgrad": {"smooth_samples": 10},
    "ig": {"ig_steps": 20},
}


@dataclass(frozen=True)
class Overview:
    """Prediction and the layers a CAM can target (the model's default first, then deepest first)."""

    prediction: Prediction
    layers: tuple[str, ...]
    randomisable: int  # layers with parameters (for the sanity-check slider)


@dataclass(frozen=True)
class MethodView:
    """One method's map and (optionally) its faithfulness scores."""

    cam: CamResult
    faith: Faithfulness | None


def overview(loaded: LoadedModel, image: LoadedImage) -> Overview:
    """Top-5 prediction and the layer choices for ``image``."""
    spec, model = loaded.spec, loaded.model
    pred = predict(model, to_input(image.image, spec), spec.categories, k=5)
    convs = conv_layer_names(model)[::-1]
    layers = (spec.default_layer, *(n for n in convs if n != spec.default_layer))
    return Overview(pred, layers, len(parameter_layers(model)))


def top_k(loaded: LoadedModel, image: LoadedImage, *, layer: str, k: int = 5) -> tuple[CamResult, ...]:
    """Grad-CAM of the top-``k`` classes from one forward pass."""
    return top_k_cams(loaded.model, to_input(image.image, loaded.spec), layer=layer, k=k)


def method_view(loaded: LoadedModel, image: LoadedImage, *, method: str, layer: str, target: int,
                faithful: bool = True, steps: int = 10,
                progress: Callable[[float], None] | None = None) -> MethodView:
    """``method``'s map for ``target`` at ``layer`` (+ deletion/insertion/average drop if ``faithful``)."""
    x = to_input(image.image, loaded.spec)
    cam = explain(loaded.model, x, method, layer=layer, target=target, progress=progress,
                  **OPTIONS.get(method, {}))
    faith = faithfulness(loaded.model, x, cam.heatmap, cam.target, steps=steps) if faithful else None
    return MethodView(cam, faith)


def sanity(loaded: LoadedModel, image: LoadedImage, *, method: str, layer: str, target: int,
           counts: tuple[int, ...]) -> SanityResult:
    """Cascading randomisation of ``method`` (on a deep copy of the shared model)."""
    if METHODS[method].slow:
        raise ValueError(f"{METHODS[method].label} is too slow for the sanity check here; pick another.")
    x = to_input(image.image, loaded.spec)

    def run(model, xx) -> np.ndarray:
        return explain(model, xx, method, layer=layer, target=target, **OPTIONS.get(method, {})).heatmap

    return cascading_randomisation(loaded.model, x, run, counts=counts)
