"""Computations of the Explain page (module-level, so ``resources.compute`` can cache them by content).

Each task takes the ``ModelInput`` made once per rerun (``resources.model_input``) — or a
``LoadedImage``, converted here — so no task redoes the resize / crop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from torch import nn

from models.registry import LoadedModel
from vizcore.core.hooks import conv_layer_names
from vizcore.core.images import LoadedImage
from vizcore.core.preprocess import ModelInput, as_model_input
from vizcore.explain.cam import CamResult, top_k_cams, top_k_pass
from vizcore.explain.faithfulness import Faithfulness, faithfulness
from vizcore.explain.methods import (
    METHODS,
    IGOptions,
    OcclusionOptions,
    ScoreCamOptions,
    SmoothGradOptions,
    explain,
)
from vizcore.explain.sanity import SanityResult, cascading_randomisation, parameter_layers
from vizcore.predict.topk import Prediction, from_logits, predict

Image = LoadedImage | ModelInput

# cheap settings for the page: every slow method finishes in a few seconds on 2 cores
OPTIONS: dict[str, object] = {
    "scorecam": ScoreCamOptions(max_channels=64),
    "occlusion": OcclusionOptions(window=48, stride=24),
    "smoothgrad": SmoothGradOptions(samples=10),
    "ig": IGOptions(steps=20),
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


@dataclass(frozen=True)
class Layers:
    """The layers a CAM can target (the model's default first, then deepest first)."""

    layers: tuple[str, ...]
    randomisable: int  # layers with parameters (for the sanity-check slider)


@dataclass(frozen=True)
class FirstView:
    """What the page shows first, from ONE forward: the top-5 prediction and their Grad-CAMs."""

    prediction: Prediction
    cams: tuple[CamResult, ...]


def layer_choices(loaded: LoadedModel, _image: Image | None) -> Layers:
    """Layer choices of the model (no image, no forward)."""
    spec, model = loaded.spec, loaded.model
    convs = conv_layer_names(model)[::-1]
    layers = (spec.default_layer, *(n for n in convs if n != spec.default_layer))
    return Layers(layers, len(parameter_layers(model)))


def first_view(loaded: LoadedModel, image: Image, *, layer: str, k: int = 5) -> FirstView:
    """Prediction and top-``k`` Grad-CAMs at ``layer`` from one forward and one batched backward."""
    done = top_k_pass(loaded.model, as_model_input(image, loaded.spec).tensor, layer=layer, k=k)
    seconds = done.cams[0].seconds if done.cams else 0.0
    return FirstView(from_logits(done.logits, loaded.spec.categories, k=k, seconds=seconds), done.cams)


def overview(loaded: LoadedModel, image: Image) -> Overview:
    """Top-5 prediction and the layer choices for ``image``."""
    spec = loaded.spec
    pred = predict(loaded.model, as_model_input(image, spec).tensor, spec.categories, k=5)
    choices = layer_choices(loaded, None)
    return Overview(pred, choices.layers, choices.randomisable)


def top_k(loaded: LoadedModel, image: Image, *, layer: str, k: int = 5) -> tuple[CamResult, ...]:
    """Grad-CAM of the top-``k`` classes from one forward pass."""
    return top_k_cams(loaded.model, as_model_input(image, loaded.spec).tensor, layer=layer, k=k)


def method_view(loaded: LoadedModel, image: Image, *, method: str, layer: str, target: int,
                faithful: bool = False, steps: int = 10,
                progress: Callable[[float], None] | None = None) -> MethodView:
    """``method``'s map for ``target`` at ``layer`` (+ deletion/insertion/average drop if ``faithful``)."""
    x = as_model_input(image, loaded.spec).tensor
    cam = explain(loaded.model, x, method, layer=layer, target=target, progress=progress,
                  options=OPTIONS.get(method))
    faith = faithfulness(loaded.model, x, cam.heatmap, cam.target, steps=steps) if faithful else None
    return MethodView(cam, faith)


def faith(loaded: LoadedModel, image: Image, *, heatmap: np.ndarray, target: int,
          steps: int = 10) -> Faithfulness:
    """Deletion / insertion / average drop of an existing map (cached by the map's content)."""
    return faithfulness(loaded.model, as_model_input(image, loaded.spec).tensor, heatmap, target, steps=steps)


def sanity(loaded: LoadedModel, image: Image, *, method: str, layer: str, target: int,
           counts: tuple[int, ...]) -> SanityResult:
    """Cascading randomisation of ``method`` (on a deep copy of the shared model)."""
    if METHODS[method].slow:
        raise ValueError(f"{METHODS[method].label} is too slow for the sanity check here; pick another.")
    x = as_model_input(image, loaded.spec).tensor

    def run(model: nn.Module, xx) -> np.ndarray:
        return explain(model, xx, method, layer=layer, target=target, options=OPTIONS.get(method)).heatmap

    return cascading_randomisation(loaded.model, x, run, counts=counts)
