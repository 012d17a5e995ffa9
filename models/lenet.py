"""LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998), the first architecture of every CNN course.

The 1998 layout on a 32×32 grey input: C1 5×5 conv 6 → S2 2×2 subsampling → C3 5×5 conv 16 →
S4 2×2 subsampling → C5 120 → F6 84 → 10 outputs, with tanh squashing and average-pool
subsampling as in the paper (C5 is a 5×5 convolution over a 5×5 map, i.e. a fully connected layer
on the flattened 16·5·5 = 400 values). Module paths follow torchvision's AlexNet/VGG naming:
``features.0`` (C1), ``features.3`` (C3), ``classifier.1`` (C5), ``classifier.3`` (F6),
``classifier.5`` (output). Weights: ``models/data/lenet5_digits.safetensors`` written by
``models/train_lenet.py``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

WEIGHTS_FILE = Path(__file__).resolve().parent / "data" / "lenet5_digits.safetensors"
DIGITS = tuple(str(d) for d in range(10))
INPUT_SIZE = 32
MEAN = (0.5,)
STD = (0.5,)


class LeNet5(nn.Module):
    """(N, C, 32, 32) → (N, num_classes) logits; C = ``in_channels`` (1 for the digit model)."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5), nn.Tanh(), nn.AvgPool2d(2),   # C1, S2: 28→14
            nn.Conv2d(6, 16, kernel_size=5), nn.Tanh(), nn.AvgPool2d(2),            # C3, S4: 10→5
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.Tanh(),                    # C5
            nn.Linear(120, 84), nn.Tanh(),                                          # F6
            nn.Linear(84, num_classes),                                             # output
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, 32, 32) → (N, num_classes) logits."""
        return self.classifier(self.features(x))


def lenet5(num_classes: int = 10, in_channels: int = 1) -> LeNet5:
    """An untrained LeNet-5."""
    return LeNet5(num_classes=num_classes, in_channels=in_channels)


class ShippedFile:
    """The LeNet-5 digit weights shipped in the repository (``models/data``), read with safetensors."""

    model = "LeNet-5"
    description = ("trained by models/train_lenet.py on scikit-learn's handwritten digits (8×8 → 32×32), "
                   "shipped as models/data/lenet5_digits.safetensors")

    def __init__(self, path: Path = WEIGHTS_FILE) -> None:
        self.path = path
        self.filename, self.directory = path.name, path.parent
        self.url = "python -m models.train_lenet"

    def load_state_dict(self, cache_dir: Path | None = None) -> dict:
        """The state dict (safetensors: data only, nothing is unpickled)."""
        from safetensors.torch import load_file

        from models.weights import WeightsUnavailable

        if not self.path.is_file():
            raise WeightsUnavailable(self.model, self.filename, self.directory, self.url,
                                     "the file is missing (re-create it with the training script)")
        return load_file(str(self.path))


def lenet5_spec():
    """The registry entry: 1-channel 32×32 input, digits 0–9, Grad-CAM on C3 (``features.3``)."""
    from models.registry import ModelSpec

    return ModelSpec(
        "lenet5", "LeNet-5 (handwritten digits)", "LeNet", 1998, lenet5, ShippedFile(),
        default_layer="features.3", input_size=INPUT_SIZE, resize_size=INPUT_SIZE, mean=MEAN, std=STD,
        channels=1, labels=DIGITS,
        note="LeCun et al. 1998 layout, trained on scikit-learn's digits; draw a digit in the sidebar "
             "(white on black, like the training data).",
    )
