"""One layer picker for every page: plain labels ("block 14 · depthwise 3×3 conv · 14×14×672") with
the module path as secondary text (``vizcore.core.labels``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from app.shell import resources
from models.registry import LoadedModel
from vizcore.core.images import LoadedImage
from vizcore.core.labels import LayerLabel, layer_labels

PATH_SEP = "   —   "


def labels_task(loaded: LoadedModel, _image: LoadedImage | None) -> dict[str, LayerLabel]:
    """Plain labels of every traced layer and every conv layer of the model (cached per model)."""
    from app.inside.tasks import conv_layers, model_trace

    trace = model_trace(loaded, None)
    names = list(dict.fromkeys([*trace.layer_shape, *conv_layers(loaded, None)]))
    return layer_labels(loaded.model, trace.layer_shape, names)


def option_text(label: LayerLabel | None, path: str) -> str:
    """What the picker shows for one layer: the plain label, then the module path."""
    if label is None or not label.text:
        return path
    return f"{label.text}{PATH_SEP}{path}"


def layer_select(container: Any, label: str, layers: Sequence[str], *, loaded: LoadedModel,
                 key: str, index: int = 0, help: str | None = None,
                 extra: dict[str, str] | None = None, disabled: bool = False) -> str:
    """A select box over ``layers`` (module paths) showing plain labels; returns the chosen path.

    ``container`` is ``st`` or a column; ``extra`` appends text to some options (e.g. "RF 91 px")."""
    labels = resources.compute(labels_task, loaded, None)
    extra = extra or {}

    def fmt(path: str) -> str:
        text = option_text(labels.get(path), path)
        return f"{text}{' · ' + extra[path] if path in extra else ''}"

    tip = (help + "  \n" if help else "") + "Each entry: where the layer sits · what it computes · " \
        "its output height×width×channels — then its module path in the code."
    if key in st.session_state and st.session_state[key] not in layers:
        del st.session_state[key]  # e.g. an old shared link: fall back to the page's default layer
    start = 0 if key in st.session_state else index  # the session's value wins, without a warning
    return container.selectbox(label, list(layers), index=start, key=key, format_func=fmt, help=tip,
                               disabled=disabled)
