"""Computations for the Feature visualisation page.

Feature visualisations go through the on-disk cache (``vizcore.actmax.cached``): ``lookup`` is an
instant, lock-free read; ``optimise`` must run inside ``resources.exclusive(loaded)`` because it
draws live progress. Exemplars are ordinary ``resources.compute`` tasks (cached by content).
"""

from __future__ import annotations

import numpy as np

from models.registry import LoadedModel
from vizcore.actmax import Settings, Target
from vizcore.actmax.cached import Model, Visuals, entry_key, visualise
from vizcore.actmax.render import Progress
from vizcore.diskcache import DiskCache
from vizcore.exemplars import Exemplars, exemplars
from vizcore.images import LoadedImage, load_image
from vizcore.preprocess import resize_crop

BATCH = 8  # channels optimised together in one batch


def _model(loaded: LoadedModel) -> Model:
    s = loaded.spec
    return Model(loaded.model, s.name, loaded.trained, s.mean, s.std)


def lookup(loaded: LoadedModel, target: Target, settings: Settings) -> Visuals | None:
    """The visualisations if every one is already in the disk cache, else ``None`` (no compute)."""
    cache = DiskCache()
    m = _model(loaded)
    keys = ([entry_key(m, target, tuple(target.indices), settings)] if settings.diversity
            else [entry_key(m, target, i, settings) for i in target.indices])
    if not all(k in cache for k in keys):
        return None
    return visualise(m, target, settings=settings, cache=cache)


def optimise(loaded: LoadedModel, target: Target, settings: Settings, *,
             progress: Progress | None = None) -> Visuals:
    """Compute the missing visualisations (batches of ``BATCH`` channels) and store them.

    Call only inside ``resources.exclusive(loaded)``."""
    return visualise(_model(loaded), target, settings=settings, cache=DiskCache(), batch=BATCH,
                     progress=progress, preview_every=8)


def exemplar_set(loaded: LoadedModel, _image: LoadedImage | None, *, photos: tuple[bytes, ...],
                 layer: str, channel: int, k: int = 6) -> Exemplars:
    """Top-``k`` of ``photos`` (encoded image files) for ``channel`` of ``layer``, with RF patches."""
    pixels = np.stack([np.asarray(resize_crop(load_image(p).image, loaded.spec)) for p in photos])
    return exemplars(loaded.model, pixels, layer=layer, channel=channel, mean=loaded.spec.mean,
                     std=loaded.spec.std, k=k)
