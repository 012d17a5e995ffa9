"""Training for the Transfer learning page: one run per click, bounded, through the compute gate.

Steps on the shared backbone take a ``model_turn`` (gate slot + model lock) one batch at a time;
steps on the session's private copy take a compute slot only — so other students interleave.
The last result is kept per session, keyed by the model, the set's version and the settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Literal

import streamlit as st

from app.shell import resources
from app.transfer.state import TrainingSet
from models.registry import LoadedModel
from vizcore.transfer import Progress, TransferResult, fit

RESULT_KEY = "transfer_result"
USED_KEY = "transfer_used"
MAX_HEAD_EPOCHS = 400
MAX_FINETUNE_EPOCHS = 15
MAX_BLOCKS = 4


@dataclass(frozen=True)
class TrainSettings:
    """What the user chose; every field is part of the result's key."""

    strategy: Literal["head", "finetune"] = "head"
    augment: bool = True
    epochs: int = 200
    lr: float = 1e-2
    train_blocks: int = 2
    val_fraction: float = 0.25
    seed: int = 0

    def checked(self) -> TrainSettings:
        """The settings clipped to the per-click work budget."""
        cap = MAX_HEAD_EPOCHS if self.strategy == "head" else MAX_FINETUNE_EPOCHS
        return TrainSettings(self.strategy, self.augment, max(1, min(self.epochs, cap)), self.lr,
                             max(1, min(self.train_blocks, MAX_BLOCKS)), self.val_fraction, self.seed)


def result_key(loaded: LoadedModel, ts: TrainingSet, settings: TrainSettings) -> tuple:
    """Identity of one training run."""
    return (loaded.spec.name, loaded.trained, id(ts), ts.version, tuple(asdict(settings).items()))


def last_result(key: tuple) -> TransferResult | None:
    """The session's last result if it was trained with exactly ``key``."""
    kept = st.session_state.get(RESULT_KEY)
    return kept[1] if kept and kept[0] == key else None


def any_result() -> TransferResult | None:
    """The session's last result, whatever it was trained with."""
    kept = st.session_state.get(RESULT_KEY)
    return kept[1] if kept else None


def train(loaded: LoadedModel, ts: TrainingSet, settings: TrainSettings,
          on_progress: Callable[[Progress], None]) -> TransferResult:
    """Run one training (settings already ``checked``) and keep it as the session's result."""
    status = st.empty()
    try:
        result = fit(
            loaded, {k: list(v) for k, v in ts.classes.items()}, strategy=settings.strategy,
            epochs=settings.epochs, lr=settings.lr, augment=settings.augment, seed=settings.seed,
            train_blocks=settings.train_blocks, val_fraction=settings.val_fraction,
            on_progress=on_progress,
            turn=lambda: resources.model_turn(loaded, status),
            slot=lambda: resources.compute_slot(status),
        )
    finally:
        status.empty()
    st.session_state[RESULT_KEY] = (result_key(loaded, ts, settings), result)
    return result


def use(trained: LoadedModel) -> None:
    """Make ``trained`` this session's model on every page (kept with the session's own models,
    least recently used evicted), then rerun so the sidebar's picker shows it."""
    from app.usermodel import panel, store
    from models.user import UserModelError

    try:
        evicted = store.add(trained)
    except UserModelError as exc:
        st.error(str(exc))
        return
    gone = f" To make room, these were closed: {', '.join(evicted)}." if evicted else ""
    st.session_state[panel.NOTE] = ("success", f"Now using **{trained.spec.display_name}** on every page "
                                    f"— open Predict, Explain or Feature maps.{gone}")
    st.session_state[panel.PENDING] = trained.spec.name
    st.session_state[USED_KEY] = trained.spec.name
    st.rerun()
