"""Benchmark: transfer learning on EfficientNet-Lite0 with the built-in demo set (24 pictures).

Run: ``.venv/bin/python bench/transfer.py``. In one run, interleaved, median of several repeats:

* ``head_fit_over_embed`` — training the new head (200 full-batch epochs with per-epoch validation and
  best-epoch snapshots) / computing the embeddings of the same images (the clean pictures plus the
  augmented views the head trains on). Goal ≤ 0.5.
* ``finetune_epoch_over_fwd_bwd`` — one fine-tuning epoch (augmentation, forward, backward into the
  last two blocks and the head, Adam step, validation forward — which, as in ``fit_finetune``, runs
  only the trainable end: ``vizcore/transfer/replay.py``) / a forward + the same backward of the
  same training images. Goal ≤ 1.3.

Last line: ``RESULT head_fit_over_embed=<x> finetune_epoch_over_fwd_bwd=<y>``.
"""

from __future__ import annotations

import statistics
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from models.registry import load_model  # noqa: E402
from vizcore.transfer import demo_set  # noqa: E402
from vizcore.transfer.data import augment, flatten, model_pixels, normalise_batch, stratified_split  # noqa: E402
from vizcore.transfer.finetune import private_copy, train_epoch  # noqa: E402
from vizcore.transfer.fit import Options, fit_head  # noqa: E402
from vizcore.transfer.head import embeddings  # noqa: E402
from vizcore.transfer.replay import Replay  # noqa: E402

REPEATS = 3


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    torch.set_num_threads(2)
    loaded = load_model("efficientnet_lite0")
    flat, labels_np, classes = flatten(demo_set(8))
    split = stratified_split(labels_np, 0.25, 0)
    spec = loaded.spec
    norm = lambda x: normalise_batch(x, spec.mean, spec.std)  # noqa: E731
    pixels = model_pixels(flat, spec)
    labels = torch.from_numpy(labels_np)
    tr, va = torch.tensor(split.train), torch.tensor(split.val)
    gen = torch.Generator().manual_seed(0)
    opts = Options(views=4)
    views = torch.cat([augment(pixels[tr], gen) for _ in range(opts.views)])
    inputs = norm(torch.cat([pixels, views]))
    embeddings(loaded.model, inputs[:8])  # warm-up

    embed_t, head_t, epoch_t, base_t = [], [], [], []
    module, units = private_copy(loaded.model, len(classes), 2, gen)
    validate = Replay(module, units[0], norm(pixels[va]))  # as fit_finetune: the frozen part once
    with torch.no_grad():
        validate()
    opt = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=1e-3)
    params = [p for p in module.parameters() if p.requires_grad]
    x_tr, y_tr = pixels[tr], labels[tr]
    for _ in range(REPEATS):
        start = time.perf_counter()
        f = embeddings(loaded.model, inputs)
        embed_t.append(time.perf_counter() - start)
        n = pixels.shape[0]
        head_t.append(timed(lambda f=f, n=n: fit_head(
            loaded.model, nullcontext, f[:n], f[n:], labels[tr].repeat(opts.views), tr, va, labels,
            len(classes), opts, torch.Generator().manual_seed(0), lambda p: None)))

        def epoch() -> None:
            train_epoch(module, x_tr, y_tr, opt, batch=8, gen=gen, augment=augment, normalise=norm)
            with torch.no_grad():
                validate()

        def fwd_bwd() -> None:
            for s in range(0, x_tr.shape[0], 8):
                loss = nn.functional.cross_entropy(module(norm(x_tr[s:s + 8])), y_tr[s:s + 8])
                torch.autograd.grad(loss, params)

        epoch_t.append(timed(epoch))
        base_t.append(timed(fwd_bwd))
    med = statistics.median
    print(f"embeddings of {inputs.shape[0]} images: {med(embed_t) * 1e3:.0f} ms · head fit "
          f"{med(head_t) * 1e3:.0f} ms · fine-tune epoch ({len(tr)} train + {len(va)} val images) "
          f"{med(epoch_t) * 1e3:.0f} ms · forward+backward {med(base_t) * 1e3:.0f} ms · "
          f"threads {torch.get_num_threads()}")
    print(f"RESULT head_fit_over_embed={med(head_t) / med(embed_t):.3f} "
          f"finetune_epoch_over_fwd_bwd={med(epoch_t) / med(base_t):.3f}")


if __name__ == "__main__":
    main()
