"""Export a transfer-learned model as ``.safetensors`` + a labels file ("Your own model" loads both)."""

from __future__ import annotations

import json

from safetensors.torch import save

from models.registry import LoadedModel


def export(loaded: LoadedModel, base_name: str) -> tuple[bytes, str]:
    """(safetensors bytes of the state dict, labels text one per line) of a trained model.

    The file's metadata records ``arch`` (the registry name of the base model) and the class names,
    so it loads back with ``models.user.load_user_model(data, arch=base_name, labels=...)``.
    """
    state = {k: v.detach().cpu().contiguous() for k, v in loaded.model.state_dict().items()}
    classes = list(loaded.spec.categories)
    spec = loaded.spec
    meta = {"arch": base_name, "labels": json.dumps(classes), "format": "cnn-lens-transfer-1",
            "input_size": str(spec.input_size), "mean": json.dumps(list(spec.mean)),
            "std": json.dumps(list(spec.std))}
    return save(state, metadata=meta), "\n".join(classes) + "\n"
