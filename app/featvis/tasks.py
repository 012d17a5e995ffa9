"""Computations for the Feature visualisation page.

Feature visualisations go through the on-disk cache (``vizcore.featvis.cached``): ``lookup`` is an
instant, lock-free read; ``optimise`` draws live progress and takes the shared model one step at a
time through ``guard`` (``resources.model_turn``), so other sessions run between its steps.
Uploaded photos are decoded once, outside any lock (``photo_pixels``). Exemplars are ordinary
``resources.compute`` tasks (cached by content); folder sets indexed by ``cnn-lens exemplars`` are
listed by ``folder_sets`` (a small manifest read, no compute) and loaded by ``folder_exemplars``.
"""

from __future__ import annotations

import numpy as np

from models.registry import LoadedModel
from vizcore.core.diskcache import DiskCache
from vizcore.core.images import LoadedImage, load_image
from vizcore.core.preprocess import resize_crop
from vizcore.featvis import Settings, Target
from vizcore.featvis.cached import Model, Visuals, visualise, work_units
from vizcore.featvis.exemplar_store import SetInfo, list_sets, load_index
from vizcore.featvis.exemplars import Exemplars, exemplars
from vizcore.featvis.render import Guard, Progress

BATCH = 8  # channels optimised together in one batch
WORK_BUDGET = 8192.0  # per click on a shared server (``work_units``): a 16-channel 224-px atlas at 160
# steps fits (7840); bigger jobs go to ``cnn-lens atlas`` on the server


def _model(loaded: LoadedModel) -> Model:
    s = loaded.spec
    return Model(loaded.model, s.name, loaded.trained, s.mean, s.std)


def lookup(loaded: LoadedModel, target: Target, settings: Settings) -> Visuals | None:
    """The visualisations if every one is in the disk cache and readable, else ``None``: never runs
    the model (an unreadable entry is recomputed by ``optimise``, under the model's lock)."""
    return visualise(_model(loaded), target, settings=settings, cache=DiskCache(), compute=False)


def optimise(loaded: LoadedModel, target: Target, settings: Settings, *,
             progress: Progress | None = None, guard: Guard | None = None) -> Visuals:
    """Compute the missing visualisations (batches of ``BATCH`` channels) and store them.

    ``guard()`` is entered around every optimisation step (the shared model's turn)."""
    vis = visualise(_model(loaded), target, settings=settings, cache=DiskCache(), batch=BATCH,
                    progress=progress, preview_every=8, guard=guard)
    assert vis is not None  # compute=True always returns the images
    return vis


def over_budget(n_images: int, settings: Settings) -> float:
    """How many times bigger than ``WORK_BUDGET`` this job is (≤ 1: one click may run it)."""
    return work_units(n_images, settings) / WORK_BUDGET


def cache_problem() -> str:
    """Why the disk cache cannot keep results ("" when it can)."""
    return DiskCache().write_problem()


def photo_pixels(data: bytes, loaded: LoadedModel) -> np.ndarray:
    """Decode an encoded photo and crop it as the model sees it: (S, S, 3) uint8. Raises
    ``ImageError`` for files we refuse. No model, no lock: call it before ``resources.compute``."""
    return np.asarray(resize_crop(load_image(data).image, loaded.spec))


def exemplar_set(loaded: LoadedModel, _image: LoadedImage | None, *, pixels: np.ndarray,
                 layer: str, channel: int, k: int = 6) -> Exemplars:
    """Top-``k`` of ``pixels`` (N, S, S, 3) uint8 (from ``photo_pixels``) for ``channel`` of
    ``layer``, with RF patches."""
    return exemplars(loaded.model, pixels, layer=layer, channel=channel, mean=loaded.spec.mean,
                     std=loaded.spec.std, k=k)


def folder_sets(loaded: LoadedModel, layer: str | None = None) -> list[SetInfo]:
    """Folder sets stored for this model and weights (only ``layer``'s when given), by layer, name."""
    return list_sets(loaded.spec.name, loaded.trained, layer)


def folder_exemplars(loaded: LoadedModel, _image: LoadedImage | None, *, key: str, created: float,
                     channel: int, k: int = 6) -> Exemplars:
    """Top-``k`` of the stored folder set ``key`` for ``channel``, with file names. ``created`` (the
    manifest's time stamp) only keys the cache, so a set indexed again is read again."""
    index = load_index(key)
    if (index.model, index.trained) != (loaded.spec.name, loaded.trained):
        raise ValueError(f"The set {index.name!r} was indexed for another model or weights.")
    return index.exemplars(channel, k)
