"""Train LeNet-5 on scikit-learn's bundled handwritten digits and write the shipped weights.

    python -m models.train_lenet    # a few minutes on 2 busy cores → models/data/lenet5_digits.safetensors

Data: ``sklearn.datasets.load_digits`` (1,797 8×8 digits, UCI optdigits, bundled with scikit-learn, so
it works offline), values 0–16 scaled to [0, 1] (ink = bright, background = 0, like MNIST), upsampled
bilinearly to 32×32 and normalised with mean 0.5 / std 0.5. Split: stratified 80 / 20 with
``random_state=0``; the 360 held-out digits are never trained on. Training: seed 0, Adam, small random
affine jitter (rotation ±12°, scale 0.85–1.1, shift ±2 px) so hand-drawn digits from the app's canvas
are recognised. scikit-learn is only needed here (``pip install -e ".[train]"``), not by the app.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from models.lenet import INPUT_SIZE, MEAN, STD, WEIGHTS_FILE, LeNet5

SEED = 0
SPLIT_SEED = 0
TEST_FRACTION = 0.2


def digits_split() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x_train, y_train, x_test, y_test): x (N, 1, 32, 32) float in [0, 1], y (N,) int64."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False).clamp(0, 1)
    y = torch.tensor(d.target, dtype=torch.int64)
    idx = torch.arange(len(y)).numpy()
    tr, te = train_test_split(idx, test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=d.target)
    return x[tr], y[tr], x[te], y[te]


def normalise(x: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) in [0, 1] → the model's input (mean 0.5, std 0.5)."""
    return (x - MEAN[0]) / STD[0]


def jitter(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random rotation / scale / shift of a (N, 1, H, W) batch (zeros fill the border)."""
    n = x.shape[0]
    ang = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(12)
    scale = 0.85 + torch.rand(n, generator=gen) * 0.25
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * (2 * 2 / x.shape[-1])  # ±2 px in [-1, 1] units
    cos, sin = torch.cos(ang) / scale, torch.sin(ang) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Top-1 accuracy of ``model`` on (N, 1, 32, 32) inputs in [0, 1]."""
    was = model.training
    model.eval()
    try:
        return float((model(normalise(x)).argmax(1) == y).float().mean())
    finally:
        model.train(was)


def train(*, seed: int = SEED, epochs: int = 30, batch: int = 64, lr: float = 2e-3) -> tuple[LeNet5, float]:
    """Train from ``seed``; returns the eval-mode model and its held-out accuracy."""
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LeNet5()
    x_tr, y_tr, x_te, y_te = digits_split()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(y_tr), generator=gen)
        for i in range(0, len(order), batch):
            b = order[i:i + batch]
            loss = F.cross_entropy(model(normalise(jitter(x_tr[b], gen))), y_tr[b])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sched.step()
    model.eval()
    return model, accuracy(model, x_te, y_te)


def save(model: nn.Module, path: Path, *, seed: int, acc: float, epochs: int) -> None:
    """Write the state dict as safetensors, with the training facts in the metadata."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata={
        "arch": "lenet5", "dataset": "sklearn load_digits 8x8 -> 32x32 bilinear, stratified 80/20 split",
        "seed": str(seed), "split_seed": str(SPLIT_SEED), "epochs": str(epochs),
        "held_out_accuracy": f"{acc:.4f}", "classes": ",".join(str(d) for d in range(10)),
    })


def main(argv: list[str] | None = None) -> int:
    """Command line: train and write the weights file; prints the held-out accuracy."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--out", type=Path, default=WEIGHTS_FILE)
    args = p.parse_args(argv)
    torch.set_num_threads(1)  # tiny batches: one thread is fastest, also on a busy machine
    model, acc = train(seed=args.seed, epochs=args.epochs)
    save(model, args.out, seed=args.seed, acc=acc, epochs=args.epochs)
    print(f"LeNet-5, seed {args.seed}, {args.epochs} epochs: held-out accuracy {acc:.2%} → {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
