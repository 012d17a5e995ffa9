"""Models a teacher registers on the command line (``cnn-lens run --model NAME=FILE --arch A ...``).

The CLI checks each entry by loading it, then hands the list to the server in ``$CNN_LENS_USER_MODELS``
(JSON); the server loads them once (``resources``' shared cache) and every session can pick them.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from models.registry import LoadedModel
from models.user import UserModelError, load_pickled_model, load_user_model

ENV = "CNN_LENS_USER_MODELS"
LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    """One ``--model NAME=FILE`` with its options."""

    name: str
    path: str
    arch: str = ""
    labels: str | None = None
    input_size: int | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    trust_pickle: str | None = None  # import path of the class of a pickled module (CLI only)


def load(entry: Entry) -> LoadedModel:
    """Load one entry (``UserModelError`` when it is refused)."""
    labels = Path(entry.labels) if entry.labels else None
    common = dict(labels=labels, input_size=entry.input_size, mean=entry.mean, std=entry.std, name=entry.name)
    if entry.trust_pickle:
        return load_pickled_model(Path(entry.path), class_path=entry.trust_pickle, **common)
    if not entry.arch:
        raise UserModelError(f"--model {entry.name}: give --arch (a torchvision architecture, a registry "
                             "entry, or onnx).")
    return load_user_model(Path(entry.path), arch=entry.arch, **common)


def encode(entries: list[Entry]) -> str:
    """The environment value the server reads."""
    return json.dumps([asdict(e) for e in entries])


def from_env(value: str | None = None) -> list[Entry]:
    """Entries from ``$CNN_LENS_USER_MODELS`` (empty when unset)."""
    raw = os.environ.get(ENV, "") if value is None else value
    if not raw.strip():
        return []
    out = []
    for d in json.loads(raw):
        d = dict(d)
        for k in ("mean", "std"):
            d[k] = tuple(d[k]) if d.get(k) else None
        out.append(Entry(**d))
    return out


def load_all(entries: list[Entry]) -> dict[str, LoadedModel]:
    """Spec name → model for every entry that loads (a refused one is logged and skipped)."""
    out = {}
    for e in entries:
        try:
            loaded = load(e)
        except UserModelError as exc:
            LOG.error("registered model %s refused: %s", e.name, exc)
            continue
        out[loaded.spec.name] = loaded
    return out
