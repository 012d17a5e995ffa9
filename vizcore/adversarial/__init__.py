"""Adversarial examples: attacks (FGSM, BIM, PGD, targeted PGD), ε sweep, distortion metrics, input
defences with a defence-aware attack (BPDA / EOT), and an 8-bit PNG export that stays adversarial.

``attack(model, pixels, *, mean, std, method="pgd", eps=2/255, steps=10, step_size=None, target=None,
seed=0) -> AttackResult`` with ``pixels`` (1, 3, H, W) in [0, 1] is the entry point.
"""

from vizcore.adversarial.attacks import METHODS, AttackResult, Normalised, attack
from vizcore.adversarial.defences import KINDS, Defence
from vizcore.adversarial.export import PngExport, export_png
from vizcore.adversarial.metrics import Distortion, distortion
from vizcore.adversarial.robust import adaptive_attack, defended_predict
from vizcore.adversarial.sweep import Sweep, eps_sweep

__all__ = [
    "KINDS", "METHODS", "AttackResult", "Defence", "Distortion", "Normalised", "PngExport", "Sweep",
    "adaptive_attack", "attack", "defended_predict", "distortion", "eps_sweep", "export_png",
]
