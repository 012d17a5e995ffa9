"""``cnn-lens`` command line.

* ``cnn-lens`` / ``cnn-lens run [streamlit args…]`` — start the web app (``streamlit run app/main.py``);
  ``cnn-lens run --model NAME=FILE --arch A [--labels L] [--trust-pickle pkg.mod:Class] …`` also offers
  your own models to every session (several ``--model`` allowed; ``app/cli/usermodels.py``);
  ``--transfer-folder DIR`` (one sub-folder of photos per class) offers the teacher's photos on the
  Transfer learning page;
* ``cnn-lens serve [--warm a,b] [streamlit args…]`` — load the models (``$CNN_LENS_WARM_MODELS``)
  into the server process first, then start the app in it (the container entrypoint, ``app/cli/serve.py``);
* ``cnn-lens atlas --model M --layer L --channels 0-63 [--shard i/n] [--steps] [--size] [--seed]``
  — precompute feature visualisations into the on-disk cache the app reads
  (``$CNN_LENS_CACHE``, default ``~/.cache/cnn-lens``);
* ``cnn-lens exemplars --model M --layer L --folder DIR [--name NAME] [--top 6] [--batch 16]
  [--recursive] [--untrained] [--cache DIR]`` — index a folder of images for every channel of one
  layer (``app/cli_exemplars.py``); the Feature visualisation page's Dataset exemplars view offers
  every set stored for the current model, weights and layer.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from app.cli import exemplars as cli_exemplars

MAIN = Path(__file__).resolve().parent.parent / "main.py"
# The settings of .streamlit/config.toml (all except headless), so they hold from any working directory;
# tests/test_cli.py checks the two agree.
APP_SETTINGS = ("--server.maxUploadSize", "200", "--server.enableStaticServing", "true",
                "--browser.gatherUsageStats", "false", "--theme.base", "light",
                "--runner.postScriptGC", "false", "--client.toolbarMode", "viewer",
                "--client.showErrorDetails", "none")


def run_app(extra: list[str]) -> int:
    """``streamlit run app/main.py`` with ``extra`` passed through; returns its exit code.

    ``--model NAME=FILE --arch A …`` entries (your own models) are checked and handed to the server
    (``app/cli/usermodels.py``)."""
    from app.cli import usermodels

    extra, env = usermodels.prepare(extra)
    if env is None:
        return 2
    extra, folder = _transfer_folder(extra)
    if folder is False:
        return 2
    if folder:
        env["CNN_LENS_TRANSFER_DIR"] = folder  # the Transfer learning page offers the teacher's photos
    return subprocess.call([sys.executable, "-m", "app.cli.launch", "run", str(MAIN), *APP_SETTINGS,
                            *extra], env=env)  # launch: streamlit's CLI with /_stcore/metrics hidden


def _transfer_folder(argv: list[str]) -> tuple[list[str], str | bool | None]:
    """Take ``--transfer-folder DIR`` (one sub-folder of photos per class) out of ``argv``; returns
    (the rest, the absolute folder or None), or (…, False) after printing why DIR is refused."""
    if "--transfer-folder" not in argv:
        return argv, None
    i = argv.index("--transfer-folder")
    folder = Path(argv[i + 1]).expanduser().resolve() if i + 1 < len(argv) else None
    if folder is None or not folder.is_dir() or not any(p.is_dir() for p in folder.iterdir()):
        print("cnn-lens: --transfer-folder needs a folder with one sub-folder of photos per class",
              file=sys.stderr)
        return argv, False
    return argv[:i] + argv[i + 2:], str(folder)


def atlas(args: argparse.Namespace) -> int:
    """Precompute the channels of this shard into the disk cache; prints one line per batch."""
    import torch

    from models.registry import WeightsUnavailable, load_model
    from vizcore.core.diskcache import DiskCache
    from vizcore.core.hooks import resolve_layer
    from vizcore.featvis import Settings, Target
    from vizcore.featvis.cached import Model, parse_channels, shard, visualise

    torch.set_num_threads(args.threads)
    try:
        channels = parse_channels(args.channels)
        if args.shard:
            channels = shard(channels, args.shard)
        settings = Settings(size=args.size, steps=args.steps, seed=args.seed)
        loaded = load_model(args.model, trained=not args.untrained)
        resolve_layer(loaded.model, args.layer)
    except (ValueError, WeightsUnavailable) as exc:
        print(f"cnn-lens atlas: {exc}", file=sys.stderr)
        return 2
    spec = loaded.spec
    m = Model(loaded.model, spec.name, loaded.trained, spec.mean, spec.std)
    cache = DiskCache(args.cache) if args.cache else DiskCache()
    print(f"{spec.name} {args.layer}: {len(channels)} channels → {cache.root}", flush=True)
    start = time.perf_counter()
    done = 0
    for i in range(0, len(channels), args.batch):
        chunk = tuple(channels[i:i + args.batch])
        try:
            vis = visualise(m, Target("channel", args.layer, chunk), settings=settings, cache=cache,
                            batch=args.batch)
        except ValueError as exc:
            print(f"cnn-lens atlas: {exc}", file=sys.stderr)
            return 2
        done += len(chunk)
        print(f"  channels {chunk[0]}–{chunk[-1]}: {vis.hits} cached, {len(chunk) - vis.hits} "
              f"computed in {vis.seconds:.1f} s ({done}/{len(channels)})", flush=True)
    print(f"done in {time.perf_counter() - start:.1f} s", flush=True)
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser (sub-commands ``run``, ``atlas`` and ``exemplars``)."""
    p = argparse.ArgumentParser(prog="cnn-lens", description="CNN Lens: see inside a CNN.")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("run", help="start the web app (extra arguments go to streamlit run)",
                   add_help=False)
    sub.add_parser("serve", help="warm the models, then start the web app in the same process "
                   "(--warm a,b; extra arguments go to streamlit run)", add_help=False)
    a = sub.add_parser("atlas", help="precompute feature visualisations into the disk cache")
    a.add_argument("--model", required=True, help="registry name, e.g. efficientnet_lite0")
    a.add_argument("--layer", required=True, help="named_modules() path, e.g. _blocks.8")
    a.add_argument("--channels", default="0-63", help="e.g. 0-63 or 3,5,9-12 (default 0-63)")
    a.add_argument("--shard", default=None, help="i/n: this job does every n-th channel from i")
    a.add_argument("--steps", type=int, default=64)
    a.add_argument("--size", type=int, default=128)
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--batch", type=int, default=8, help="channels per optimisation batch")
    a.add_argument("--threads", type=int, default=2)
    a.add_argument("--untrained", action="store_true", help="use random weights")
    a.add_argument("--cache", default=None, help="cache folder (default $CNN_LENS_CACHE)")
    cli_exemplars.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cnn-lens`` script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] == "run":
        return run_app(argv[1:])
    if argv[0] == "serve":
        from app.cli.serve import serve

        return serve(argv[1:])
    if argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        return run_app(argv)  # bare streamlit options: cnn-lens --server.port 8600
    args = parser().parse_args(argv)
    if args.command == "atlas":
        return atlas(args)
    if args.command == "exemplars":
        return cli_exemplars.run(args)
    parser().print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
