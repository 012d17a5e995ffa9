"""``cnn-lens serve``: warm the configured models in THIS process, then start the web app in it.

``st.cache_resource`` is per process, so a model loaded by a separate warm-up process does not help
the server. ``serve`` loads every model of ``--warm`` (default ``$CNN_LENS_WARM_MODELS``, else the
offline default) into the app's shared model cache (``app.shell.resources.warm``) and runs one
forward pass on a blank input, and only then starts Streamlit in the same process. The server's
port, and so ``/_stcore/health``, only opens after the warm-up: a readiness probe on the health
endpoint (Kubernetes, docker compose) therefore never sends the first student to a cold replica.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence

WARM_ENV = "CNN_LENS_WARM_MODELS"


def warm_names(spec: str | None) -> list[str]:
    """Model names from ``"a,b"`` (or ``$CNN_LENS_WARM_MODELS``; ``"none"`` = no warm-up).

    Unknown names raise ``ValueError`` listing the known ones (before anything is loaded).
    """
    from models.registry import default_model_name, get_spec

    raw = spec if spec is not None else os.environ.get(WARM_ENV, default_model_name())
    names = [n.strip() for n in raw.split(",") if n.strip()]
    if names == ["none"]:
        return []
    for name in names:
        get_spec(name)
    return names


def warm(names: Sequence[str]) -> list[tuple[str, float]]:
    """Load each model into this process's shared cache and run one forward pass (seconds each).

    The forward pass takes a ``(1, C, S, S)`` zero tensor (S = the spec's input size).
    """
    import logging

    import torch

    # importing the pages' st.cache_data functions before the runtime exists logs a harmless
    # "No runtime found" warning (their caches are created later, inside the server)
    quiet = logging.getLogger("streamlit.runtime.caching.cache_data_api")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        from app.shell import resources
    finally:
        quiet.setLevel(level)

    out = []
    for name in names:
        t0 = time.perf_counter()
        loaded = resources.warm(name)
        spec = loaded.spec
        with loaded.lock, torch.inference_mode():
            loaded.model(torch.zeros(1, spec.channels, spec.input_size, spec.input_size,
                                     device=loaded.device))
        out.append((name, time.perf_counter() - t0))
    return out


def serve(argv: list[str]) -> int:
    """``cnn-lens serve [--warm a,b] [streamlit options…]``: warm up, then run the app in-process."""
    from app.cli.main import APP_SETTINGS, MAIN

    spec = None
    rest = list(argv)
    if rest and rest[0].startswith("--warm"):
        flag = rest.pop(0)
        if "=" in flag:
            spec = flag.split("=", 1)[1]
        elif rest:
            spec = rest.pop(0)
        else:
            print("cnn-lens serve: --warm needs a value, e.g. --warm efficientnet_lite0,resnet18",
                  file=sys.stderr)
            return 2
    from app.cli import launch, usermodels

    rest, env = usermodels.prepare(rest)  # --model NAME=FILE …: your own models, as `cnn-lens run`
    if env is None:
        return 2
    os.environ.update(env)  # the server is this process
    try:
        names = warm_names(spec)
    except ValueError as exc:
        print(f"cnn-lens serve: {exc}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    for name, seconds in warm(names):
        print(f"cnn-lens serve: warmed {name} in {seconds:.1f} s", flush=True)
    print(f"cnn-lens serve: warm-up done in {time.perf_counter() - t0:.1f} s; starting the server",
          flush=True)
    launch.hide_metrics()  # as `cnn-lens run` does (app/cli/launch.py)
    from streamlit.web import cli as stcli

    return stcli.main(args=["run", str(MAIN), *APP_SETTINGS, *rest], prog_name="streamlit",
                      standalone_mode=False) or 0
