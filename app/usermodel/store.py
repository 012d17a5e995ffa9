"""The models a session uploaded: kept in its session state, least recently used evicted first.

Each user model counts its parameter + buffer bytes against ``SESSION_BUDGET_BYTES``
(``$CNN_LENS_USER_MODEL_MB``, default 400) and at most ``SESSION_MAX_MODELS`` are kept; adding one
evicts the least recently used until it fits, and says which ones went.
"""

from __future__ import annotations

import os
from collections import OrderedDict

import streamlit as st

from models.registry import LoadedModel
from models.user import UserModelError, model_nbytes

SESSION_BUDGET_BYTES = int(os.environ.get("CNN_LENS_USER_MODEL_MB", "400")) * 2**20
SESSION_MAX_MODELS = 4
OWN = "__your_own_model__"  # the model picker's "Your own model…" entry
STORE_KEY = "user_models"  # session state: OrderedDict name -> LoadedModel, most recent last


def _store() -> OrderedDict[str, LoadedModel]:
    if STORE_KEY not in st.session_state:
        st.session_state[STORE_KEY] = OrderedDict()
    return st.session_state[STORE_KEY]


def names() -> list[str]:
    """Spec names of this session's models, oldest first."""
    return list(_store())


def get(name: str) -> LoadedModel | None:
    """This session's model ``name`` (marked as most recently used), or None."""
    store = _store()
    loaded = store.get(name)
    if loaded is not None:
        store.move_to_end(name)
    return loaded


def used_bytes() -> int:
    """Bytes held by this session's models."""
    return sum(model_nbytes(m.model) for m in _store().values())


def add(loaded: LoadedModel, *, budget: int = SESSION_BUDGET_BYTES,
        max_models: int = SESSION_MAX_MODELS) -> list[str]:
    """Keep ``loaded``; returns the display names of the models evicted to make room.

    Raises ``UserModelError`` when the model alone is larger than the budget."""
    size = model_nbytes(loaded.model)
    if size > budget:
        raise UserModelError(f"This model needs {size / 2**20:.0f} MB of memory; each session may keep "
                             f"{budget / 2**20:.0f} MB of its own models.")
    store = _store()
    store.pop(loaded.spec.name, None)
    evicted = []
    while store and (len(store) >= max_models or used_bytes() + size > budget):
        _, old = store.popitem(last=False)
        evicted.append(old.spec.display_name)
    store[loaded.spec.name] = loaded
    return evicted
