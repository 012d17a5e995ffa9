"""Module-level computations for the "Inside the network" pages (run through ``resources.compute``,
cached by content: model, weights, image hash and every parameter)."""

from __future__ import annotations

from models.registry import LoadedModel
from vizcore.core.hooks import conv_layer_names
from vizcore.core.images import LoadedImage
from vizcore.core.preprocess import ModelInput, as_model_input
from vizcore.inside.architecture import ArchTable, build_table
from vizcore.inside.features import FeatureMaps, activation_range, feature_maps, spatial_layers
from vizcore.inside.filters import FilterBank, filter_bank
from vizcore.inside.receptive import EffectiveRF, Trace, effective_rf, trace_model


def model_trace(loaded: LoadedModel, _image: LoadedImage | None) -> Trace:
    """Shapes and receptive fields of every layer for the model's input size (no image needed);
    traced once per shared model (``loaded.memo``; tasks run under ``loaded.lock``)."""
    key = f"trace@{loaded.spec.input_size}"
    if key not in loaded.memo:
        loaded.memo[key] = trace_model(loaded.model, input_size=loaded.spec.input_size)
    return loaded.memo[key]  # type: ignore[return-value]


def conv_layers(loaded: LoadedModel, _image: LoadedImage | None) -> tuple[str, ...]:
    """Paths of every ``nn.Conv2d``, in definition order."""
    return tuple(conv_layer_names(loaded.model))


def arch_table(loaded: LoadedModel, _image: LoadedImage | None) -> ArchTable:
    """The architecture table for a ``spec.input_size`` input."""
    trace = model_trace(loaded, None)
    return build_table(loaded.model, trace, model_name=loaded.spec.display_name)


def filters(loaded: LoadedModel, _image: LoadedImage | None, *, layer: str) -> FilterBank:
    """The weights of conv layer ``layer``."""
    return filter_bank(loaded.model, layer)


def maps(loaded: LoadedModel, image: LoadedImage | ModelInput, *, layer: str) -> FeatureMaps:
    """All channels of ``layer`` for ``image`` plus the overview strip, from one forward pass."""
    trace = model_trace(loaded, None)
    return feature_maps(loaded.model, as_model_input(image, loaded.spec).tensor, layer, trace=trace)


def global_range(loaded: LoadedModel, image: LoadedImage | ModelInput) -> tuple[float, float]:
    """(min, max) over every spatial layer's output for ``image`` (the "global" colour scale)."""
    trace = model_trace(loaded, None)
    x = as_model_input(image, loaded.spec).tensor
    return activation_range(loaded.model, x, spatial_layers(trace))


def erf(loaded: LoadedModel, image: LoadedImage | ModelInput, *, layer: str, row: int, col: int,
        channel: int) -> EffectiveRF:
    """Effective RF of unit (``channel``, ``row``, ``col``) of ``layer``; ``channel=-1`` = all."""
    x = as_model_input(image, loaded.spec).tensor
    return effective_rf(loaded.model, x, layer, row=row, col=col,
                        channel=None if channel < 0 else channel)
