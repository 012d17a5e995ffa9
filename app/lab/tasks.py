"""Classroom lab computations, each run through ``resources.compute`` and cached by ``LabSettings``:
the lesson (plan + whole-photo picture), the figure (as its JSON text) and the GIF. Every student on
the same settings shares them; a change of settings is a new key, so nothing offered is ever stale.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum

from app.lab import figures
from app.lab.gif import gif_bytes
from models.registry import LoadedModel
from vizcore.core.images import LoadedImage
from vizcore.lab.lesson import WHOLE_SIDE, LabResult, conv_gradients, lesson
from vizcore.lab.settings import LabSettings

__all__ = ["WHOLE_SIDE", "LabFigure", "View", "figure", "gif", "lab"]


class View(StrEnum):
    """Which picture of the lesson is drawn."""

    FORWARD = "forward"
    BACKWARD = "backward (gradients)"


@dataclass(frozen=True)
class LabFigure:
    """A lab figure as plotly JSON text (``data``, ``layout``, ``frames``; no frames when static)
    and its height in CSS pixels."""

    json: str
    height: int
    animated: bool


def _lesson(loaded: LoadedModel, image: LoadedImage, settings: LabSettings, whole: bool) -> LabResult:
    spec = loaded.spec
    return lesson(loaded.model, image.image, settings, stats=(tuple(spec.mean), tuple(spec.std)),
                  whole=whole)


def lab(loaded: LoadedModel, image: LoadedImage, *, settings: LabSettings) -> LabResult:
    """The lesson of ``settings`` on ``image`` (raises ValueError with a clear reason)."""
    return _lesson(loaded, image, settings, True)


def figure(loaded: LoadedModel, image: LoadedImage, *, settings: LabSettings, view: View,
           big: bool, relu: bool, cell: tuple[int, int, int] | None = None) -> LabFigure:
    """The forward animation, the pooling-backward animation or the static convolution gradients
    (``cell`` = the one output cell g is 1 at, None = all ones)."""
    res = _lesson(loaded, image, settings, False)
    ch = settings.channel
    if view is View.FORWARD:
        spec = figures.forward_figure(res.plan, res.channel_names, channel=ch, relu=relu, big=big)
    elif res.routing is not None:
        spec = figures.backward_figure(res.plan, res.routing, channel=ch, big=big)
    else:
        grads = res.grads if cell is None else conv_gradients(res.plan, cell)
        spec = figures.conv_backward_figure(res.plan, grads, res.channel_names, cell=cell, big=big)
    return LabFigure(json.dumps(spec, separators=(",", ":")), int(spec["layout"]["height"]),
                     "frames" in spec)


def gif(loaded: LoadedModel, image: LoadedImage, *, settings: LabSettings, relu: bool = False) -> bytes:
    """Animated GIF of the forward steps of ``settings`` (colour, projector size)."""
    res = _lesson(loaded, image, settings, False)
    return gif_bytes(res.plan, res.channel_names, channel=settings.channel, relu=relu)
