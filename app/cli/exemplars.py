"""``cnn-lens exemplars``: index a folder of images for every channel of one layer.

The Feature visualisation page (Dataset exemplars → Photos) lists every set stored for the current
model, weights and layer. Exit code 2, with the reason on stderr, for an unknown model, an unknown or
non-spatial layer, a missing folder and a folder without one readable image.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

SHOW_CHANNELS = 4  # channels whose top file names are printed at the end


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``exemplars`` sub-command on ``sub``."""
    e = sub.add_parser("exemplars", help="index a folder of images for the Dataset exemplars view")
    e.add_argument("--model", required=True, help="registry name, e.g. efficientnet_lite0")
    e.add_argument("--layer", required=True, help="named_modules() path, e.g. _blocks.5")
    e.add_argument("--folder", required=True, help="folder of images (PNG, JPEG, WebP, BMP, GIF, TIFF)")
    e.add_argument("--name", default=None, help="name of the set in the app (default: folder name)")
    e.add_argument("--top", type=int, default=6, help="images kept per channel (default 6)")
    e.add_argument("--batch", type=int, default=16, help="images per forward pass (default 16)")
    e.add_argument("--threads", type=int, default=2)
    e.add_argument("--untrained", action="store_true", help="use random weights")
    e.add_argument("--cache", default=None, help="cache folder (default $CNN_LENS_CACHE)")
    e.add_argument("--recursive", action="store_true", help="also index images in sub-folders")


def _fail(msg: object) -> int:
    print(f"cnn-lens exemplars: {msg}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """Index ``args.folder`` into the disk cache; prints progress per batch, skipped files and a
    summary with the top file names of the first channels."""
    import torch

    from models.registry import WeightsUnavailable, get_spec, load_model
    from vizcore.featvis.exemplar_index import build_index, check_layer, folder_files
    from vizcore.featvis.exemplar_store import cache, save_index

    folder = Path(args.folder).expanduser()
    name = (args.name if args.name is not None else folder.resolve().name).strip()
    if not name:
        return _fail("Give the set a name with --name.")
    if args.top < 1 or args.batch < 1 or args.threads < 1:
        return _fail("--top, --batch and --threads must be at least 1.")
    try:
        get_spec(args.model)
        files, passed = folder_files(folder, recursive=args.recursive)
    except ValueError as exc:
        return _fail(exc)
    if not files:
        return _fail(f"No files to index in {folder}" + (" (it has sub-folders: add --recursive)."
                                                         if passed else "."))
    torch.set_num_threads(args.threads)
    try:
        loaded = load_model(args.model, trained=not args.untrained)
        rf, shape = check_layer(loaded.model, args.layer, input_size=loaded.spec.input_size)
    except (ValueError, WeightsUnavailable) as exc:
        return _fail(exc)
    weights = "" if loaded.trained else " (untrained)"
    print(f"{loaded.spec.name}{weights} {args.layer}: {shape[0]} channels, {shape[1]}×{shape[2]} map, "
          f"RF {rf.size} px — indexing {len(files)} files of {folder} as {name!r}", flush=True)
    for s in passed:
        print(f"  skipped {s.name}: {s.reason}" + (" — add --recursive to include it"
                                                   if s.name.endswith("/") else ""), flush=True)

    store = cache(args.cache)
    try:  # before the work: an unwritable cache must not cost a whole indexing run
        store.root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _fail(f"Cannot write to the cache folder {store.root}: {exc}")
    start = time.perf_counter()
    try:
        index = build_index(loaded.model, files, spec=loaded.spec, trained=loaded.trained,
                            layer=args.layer, name=name, k=args.top, batch=args.batch,
                            folder=str(folder.resolve()), on_skip=_skip, on_batch=_batch)
    except ValueError as exc:
        return _fail(f"{exc} Nothing was stored for {folder}.")
    try:
        path = save_index(index, store)
    except OSError as exc:
        return _fail(f"Could not store the set in {store.root}: {exc}")
    print(f"done: {index.n_images} images indexed ({index.skipped + len(passed)} skipped) in "
          f"{time.perf_counter() - start:.1f} s → set {name!r} in {store.root} "
          f"({path.stat().st_size / 1e6:.1f} MB, {len(index.kept)} exemplar images kept)", flush=True)
    _summary(index, name, loaded.spec.name, args.layer)
    return 0


def _skip(s: object) -> None:
    print(f"  skipped {s.name}: {s.reason}", flush=True)


def _batch(b: object) -> None:
    print(f"  batch {b.number}: {b.images} image{'s' * (b.images != 1)} ({b.indexed} indexed, "
          f"{b.seen}/{b.total} files read, {b.seconds:.1f} s)", flush=True)


def _summary(index: object, name: str, model: str, layer: str) -> None:
    """The top file names of the first channels and where the set appears in the app."""
    for ch in range(min(SHOW_CHANNELS, index.n_channels)):
        ex = index.exemplars(ch, 3)
        tops = ", ".join(f"{n} ({e.value:.2f})" for n, e in zip(ex.names, ex.top, strict=True))
        print(f"  channel {ch}: {tops}", flush=True)
    print(f"Open Feature visualisation → Dataset exemplars → Photos: folder {name!r} "
          f"(model {model}, layer {layer}).", flush=True)
