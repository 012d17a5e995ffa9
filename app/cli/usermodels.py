"""``cnn-lens run --model NAME=FILE --arch A [--labels L] [--input-size S] [--mean m,m,m] [--std s,s,s]
[--trust-pickle package.module:Class] [--model …] [streamlit args…]``.

Each ``--model`` starts an entry; the options after it (up to the next ``--model``) belong to it. Every
entry is loaded once here, so a teacher sees a refusal before class, then the list goes to the server
in ``$CNN_LENS_USER_MODELS`` where every session can pick the models (loaded once, shared).
``--trust-pickle`` loads a whole pickled module from the teacher's own disk — it runs the pickle, so
it exists only here, never in the web upload.
"""

from __future__ import annotations

import os
import sys

from app.usermodel.registered import ENV, Entry, encode, load
from models.user import UserModelError

OPTIONS = {"--arch": "arch", "--labels": "labels", "--input-size": "input_size", "--mean": "mean",
           "--std": "std", "--trust-pickle": "trust_pickle"}


def _value(key: str, raw: str) -> object:
    if key == "input_size":
        if not raw.isdigit():
            raise UserModelError(f"--input-size must be a whole number of pixels, got {raw!r}")
        return int(raw)
    if key in ("mean", "std"):
        try:
            return tuple(float(v) for v in raw.split(","))
        except ValueError as exc:
            raise UserModelError(f"--{key} must be numbers separated by commas, got {raw!r}") from exc
    if key == "labels":
        return os.path.abspath(raw)
    return raw


def split(argv: list[str]) -> tuple[list[Entry], list[str]]:
    """(model entries, the remaining arguments for streamlit). ``UserModelError`` on bad syntax."""
    entries: list[dict[str, object]] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg, _, inline = argv[i].partition("=") if argv[i].startswith("--") else (argv[i], "", "")
        if arg == "--model" or arg in OPTIONS:
            if inline:
                value, i = inline, i + 1
            elif i + 1 < len(argv):
                value, i = argv[i + 1], i + 2
            else:
                raise UserModelError(f"{arg} needs a value")
            if arg == "--model":
                name, eq, path = value.partition("=")
                if not eq or not name or not path:
                    raise UserModelError("--model takes NAME=FILE (e.g. flowers=flowers.safetensors), "
                                         f"got {value!r}")
                entries.append({"name": name, "path": os.path.abspath(path)})
            elif not entries:
                raise UserModelError(f"{arg} must follow the --model it belongs to")
            else:
                entries[-1][OPTIONS[arg]] = _value(OPTIONS[arg], value)
            continue
        rest.append(argv[i])
        i += 1
    return [Entry(**e) for e in entries], rest  # type: ignore[arg-type]


def prepare(argv: list[str]) -> tuple[list[str], dict[str, str] | None]:
    """Check every ``--model`` by loading it; returns (streamlit arguments, environment for the
    server), or (…, None) after printing why a model was refused."""
    try:
        entries, rest = split(argv)
        for e in entries:
            spec = load(e).spec
            print(f"cnn-lens: model {e.name}: {spec.note}", flush=True)
    except UserModelError as exc:
        print(f"cnn-lens: {exc}", file=sys.stderr)
        return argv, None
    env = dict(os.environ)
    if entries:
        env[ENV] = encode(entries)
    return rest, env
