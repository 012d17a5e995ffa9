"""The model picker's "Your own model…" entry: upload weights, pick the architecture, load.

The picker lists the registry, then the models registered on the command line, then this session's
uploads, then "Your own model…". Choosing that entry shows this panel under the picker; a loaded
model is kept in the session (``store``, least recently used evicted) and selected.
"""

from __future__ import annotations

import streamlit as st

from app.shell import resources, uploads
from app.usermodel import store
from models.registry import ModelSpec, get_spec
from models.user import MAX_FILE_BYTES, UserModelError, load_user_model, parse_labels
from models.user_arch import all_archs
from models.user_files import MAX_LABELS_BYTES

GEN = "um_gen"  # bumped after a load: a new uploader key frees the uploaded file's bytes
PENDING = "um_pending"  # a just-loaded model to select before the picker is drawn
NOTE = "um_note"  # (kind, message) shown in the panel / under the picker after a load
WEIGHT_TYPES = ["safetensors", "pt", "pth", "bin", "onnx"]
DEFAULT_ARCH = "resnet18"
ONNX = "onnx"


def extra_names() -> list[str]:
    """Picker entries after the registry: command-line models, this session's uploads, "Your own model…"."""
    return [*resources.registered_models(), *store.names(), store.OWN]


def before_picker(names: list[str], model_key: str, default: str) -> None:
    """Select a model loaded on the previous run; fall back to ``default`` when the selection is gone
    (an evicted upload). Call before the picker widget is drawn."""
    pending = st.session_state.pop(PENDING, None)
    if pending in names:
        st.session_state[model_key] = pending
    elif st.session_state.get(model_key, default) not in names:
        st.session_state[model_key] = default


def display_name(name: str) -> str | None:
    """Picker text of a user-model entry; None for registry names."""
    if name == store.OWN:
        return "📦 Your own model…"
    loaded = resources.registered_models().get(name) or store.get(name)
    return f"📦 {loaded.spec.display_name}" if loaded is not None else None


def spec_of(name: str) -> ModelSpec | None:
    """The spec of picker entry ``name`` (registry or user model) without loading anything new."""
    loaded = resources.registered_models().get(name) or store.get(name)
    if loaded is not None:
        return loaded.spec
    try:
        return get_spec(name)
    except ValueError:
        return None


def _file_key() -> str:
    return f"um_file-{st.session_state.get(GEN, 0)}"


def _arch_label(arch: str) -> str:
    if arch == ONNX:
        return "onnx — convert the .onnx file (onnx2torch)"
    return arch


def _floats(text: str, what: str) -> tuple[float, ...] | None:
    if not text.strip():
        return None
    try:
        return tuple(float(v) for v in text.replace(";", ",").split(",") if v.strip())
    except ValueError as exc:
        raise UserModelError(f"{what} must be numbers separated by commas, e.g. 0.485, 0.456, 0.406."
                             ) from exc


def _load() -> None:
    """Read the widgets, load the model (holding a compute slot), keep it and select it."""
    f = st.session_state.get(_file_key())
    if not uploads.received(f):
        st.session_state[NOTE] = ("error", "Choose a weights file first.")
        return
    lab = st.session_state.get("um_labels")
    lab = lab if uploads.received(lab) else None
    arch = ONNX if f.name.lower().endswith(".onnx") else st.session_state.get("um_arch", DEFAULT_ARCH)
    try:
        labels = parse_labels(lab.getvalue(), lab.name) if lab is not None else None
        size = int(st.session_state.get("um_size") or 0) or None
        status = st.empty()
        with st.spinner(f"Loading {f.name}…"), resources.compute_slot(status):
            loaded = load_user_model(
                f.getvalue(), arch=arch, labels=labels, input_size=size,
                mean=_floats(st.session_state.get("um_mean", ""), "Mean"),
                std=_floats(st.session_state.get("um_std", ""), "Std"),
                name=(st.session_state.get("um_name") or "").strip() or f"{f.name} ({arch})")
        evicted = store.add(loaded)
    except UserModelError as exc:
        st.session_state[NOTE] = ("error", f"**{f.name}** was not loaded. {exc}")
        return
    spec = loaded.spec
    msg = (f"Loaded **{spec.display_name}**: {len(spec.categories)} classes, {spec.channels}-channel "
           f"{spec.input_size}×{spec.input_size} input, Grad-CAM layer `{spec.default_layer}`.")
    if getattr(spec, "changes", ()):
        msg += " Adapted: " + "; ".join(spec.changes) + "."
    if evicted:
        msg += f" To stay within this session's memory budget, these were unloaded: {', '.join(evicted)}."
    st.session_state[NOTE] = ("success", msg)
    st.session_state[PENDING] = spec.name
    st.session_state[GEN] = st.session_state.get(GEN, 0) + 1
    st.rerun()


def note() -> None:
    """The outcome of the last load (under the picker, until the next load)."""
    kind, msg = st.session_state.get(NOTE) or (None, "")
    if kind == "error":
        st.error(msg, icon="🚫")
    elif kind == "success":
        st.success(msg, icon="📦")


def panel(selected: str) -> None:
    """Under the picker: the upload form while "Your own model…" is selected, else the last outcome."""
    if selected != store.OWN:
        if st.session_state.get(NOTE, ("",))[0] == "success" and store.get(selected) is not None:
            note()
        return
    with st.container(border=True):
        st.markdown("**Your own model** — a fine-tuned or home-made image classifier.")
        st.file_uploader("Weights file", type=WEIGHT_TYPES, key=_file_key(),
                         max_upload_size=MAX_FILE_BYTES // 2**20,
                         help=".safetensors (preferred), a .pt/.pth **state dict** "
                         "(`torch.save(model.state_dict(), …)`) or an .onnx classifier. Whole pickled "
                         "models and TorchScript are refused: they could run code.")
        archs = [*all_archs(), ONNX]
        st.selectbox("Architecture", archs, index=archs.index(DEFAULT_ARCH), key="um_arch",
                     format_func=_arch_label, help="Every torchvision classification architecture and "
                     "the registry entries (lenet5, efficientnet_lite0). The classifier and the first "
                     "convolution adapt to the file (number of classes, grayscale input).")
        st.file_uploader("Class names (optional)", type=["txt", "json"], key="um_labels",
                         max_upload_size=MAX_LABELS_BYTES // 2**20,
                         help="A .txt file with one name per line, or a .json list / {index: name}.")
        with st.expander("Preprocessing and name (optional)"):
            st.caption("Blank = inferred from the architecture (or the file's safetensors metadata).")
            st.number_input("Input size (px)", min_value=0, max_value=1024, value=0, step=1, key="um_size",
                            help="0 = the architecture's own (224 for most, 32 for LeNet).")
            st.text_input("Mean per channel", key="um_mean", placeholder="e.g. 0.485, 0.456, 0.406")
            st.text_input("Std per channel", key="um_std", placeholder="e.g. 0.229, 0.224, 0.225")
            st.text_input("Display name", key="um_name", placeholder="e.g. Flowers ResNet-18")
        if st.button("Load model", type="primary", key="um_load", width="stretch"):
            _load()
        note()
