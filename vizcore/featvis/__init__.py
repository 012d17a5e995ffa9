"""Activation maximisation (feature visualisation) in four parts, after lucent's split.

* ``param``      — FFT image parameterisation with decorrelated (ImageNet) colour;
* ``objectives`` — channel / neuron / logit targets and the diversity term;
* ``transforms`` — pad, jitter, random scale, random rotate, all drawn from a ``torch.Generator``;
* ``render``     — the seeded Adam loop that runs the network only up to the target layer.
"""

from vizcore.featvis.objectives import Target
from vizcore.featvis.render import ActMaxResult, Settings, render

__all__ = ["ActMaxResult", "Settings", "Target", "render"]
