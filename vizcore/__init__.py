"""vizcore — all computation of CNN Lens as a small library (torch / numpy / PIL; never imports streamlit).

Use it from a notebook::

    import vizcore
    from models.registry import load_model

    loaded = load_model("efficientnet_lite0")
    x = vizcore.to_input(photo, loaded.spec)            # (1, 3, 224, 224), the weights' preprocessing
    pred = vizcore.predict(loaded.model, x, loaded.spec.categories)
    cam = vizcore.grad_cam(loaded.model, x)             # .heatmap (224, 224) in [0, 1]

Models first, input second, options keyword-only; results are frozen dataclasses of CPU data; hooks
never outlive a call. Every attribution method: ``attribute(model, x, method)`` (keys of ``METHODS``).
Batches: ``predict_batch``, ``grad_cams`` and ``attribute_batch`` take (B, C, H, W). Names other than
``predict`` are imported on first use, so ``import vizcore`` stays cheap. Feature packages:
``vizcore.adversarial.attack(model, pixels, mean=…, std=…)``, ``vizcore.transfer.fit(loaded, images)``.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    # preprocessing and pictures
    "to_input": "vizcore.core.preprocess", "model_input": "vizcore.core.preprocess",
    "normalise": "vizcore.core.preprocess", "denormalise": "vizcore.core.preprocess",
    "ModelInput": "vizcore.core.preprocess", "load_image": "vizcore.core.images",
    "heat_overlay": "vizcore.core.render", "colorize": "vizcore.core.render",
    # prediction
    "predict_batch": "vizcore.predict.topk",
    "Prediction": "vizcore.predict.topk",
    # explanations
    "grad_cam": "vizcore.explain.cam", "grad_cams": "vizcore.explain.cam",
    "gradient_cam": "vizcore.explain.cam", "top_k_cams": "vizcore.explain.cam",
    "score_cam": "vizcore.explain.cam", "CamResult": "vizcore.explain.cam",
    "guided_backprop": "vizcore.explain.guided", "guided_grad_cam": "vizcore.explain.guided",
    "attribute": "vizcore.explain.methods", "attribute_batch": "vizcore.explain.methods",
    "METHODS": "vizcore.explain.methods", "Method": "vizcore.explain.methods",
    "faithfulness": "vizcore.explain.faithfulness",
    "cascading_randomisation": "vizcore.explain.sanity",
    # inside the network
    "feature_maps": "vizcore.inside.features", "filter_bank": "vizcore.inside.filters",
    "receptive_field": "vizcore.inside.receptive", "effective_rf": "vizcore.inside.receptive",
    "trace_model": "vizcore.inside.receptive", "architecture": "vizcore.inside.architecture",
    # convolution / pooling stepping
    "conv_steps": "vizcore.lab.stepping", "pool_steps": "vizcore.lab.stepping",
    "conv_transpose_steps": "vizcore.lab.stepping",
    # feature visualisation
    "render": "vizcore.featvis.render", "Target": "vizcore.featvis.objectives",
    "Settings": "vizcore.featvis.render",
}
_ALIASES = {"grad_cams": "gradient_cams", "attribute": "explain", "attribute_batch": "explain_batch"}
__all__ = sorted([*_EXPORTS, "predict"])

# ``vizcore.predict`` is also a subpackage: importing it (as the app does) would bind the package to
# this name. Importing it here first, then binding the function, makes the function win for good.
from vizcore.predict.topk import predict  # noqa: E402, F401

_SUBPACKAGES = ("adversarial", "transfer", "architectures", "explain", "inside", "featvis", "lab", "core")


def __getattr__(name: str) -> Any:
    """Import ``vizcore.<name>`` from its module on first use (PEP 562); feature subpackages too
    (``vizcore.adversarial.attack``, ``vizcore.transfer.fit``)."""
    if name in _SUBPACKAGES:
        return importlib.import_module(f"vizcore.{name}")
    if name not in _EXPORTS:
        raise AttributeError(f"module 'vizcore' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), _ALIASES.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
