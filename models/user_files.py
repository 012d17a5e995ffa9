"""Reading a user's model file safely: sniff the format, never unpickle arbitrary objects.

* ``.safetensors`` — parsed by ``safetensors`` (a JSON header + raw tensors: nothing can run);
* ``.pt`` / ``.pth`` / ``.bin`` state dicts — ``torch.load(weights_only=True)``, whose unpickler refuses
  every global outside tensors and containers *before* calling anything, so a pickled module or a
  code payload is refused without running it;
* TorchScript archives — refused (they carry code);
* ``.onnx`` — parsed by ``onnx`` (protobuf: data only) and converted with ``onnx2torch``.
"""

from __future__ import annotations

import io
import json
import pickle
import re
import struct
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

MAX_FILE_BYTES = 200 * 2**20  # web uploads
MAX_DISK_BYTES = 4 * 2**30  # a teacher's own file (CLI / Python): VGG-16 is 528 MB
MAX_LABELS_BYTES = 2 * 2**20
SAVE_HOWTO = (
    "Save the weights instead, on the machine where the model was trained:\n\n"
    "    torch.save(model.state_dict(), 'model.pt')\n"
    "    safetensors.torch.save_file(model.state_dict(), 'model.safetensors')  # preferred"
)


class UserModelError(ValueError):
    """A user model was refused; ``str(exc)`` is a readable message saying why and what to do."""


def read_bytes(weights: Path | bytes | bytearray, *, limit: int | None = None) -> bytes:
    """The file's bytes, refused when empty/missing or above ``limit`` (default: the upload cap for
    bytes, ``MAX_DISK_BYTES`` for a path on the server's own disk)."""
    if limit is None:
        limit = MAX_FILE_BYTES if isinstance(weights, bytes | bytearray) else MAX_DISK_BYTES
    if isinstance(weights, bytes | bytearray):
        data = bytes(weights)
    else:
        path = Path(weights)
        if not path.is_file():
            raise UserModelError(f"No such model file: {path}")
        if path.stat().st_size > limit:
            raise UserModelError(f"{path.name} is {path.stat().st_size / 2**20:.0f} MB; the limit is "
                                 f"{limit / 2**20:.0f} MB.")
        data = path.read_bytes()
    if len(data) > limit:
        raise UserModelError(f"The model file is {len(data) / 2**20:.0f} MB; the limit is "
                             f"{limit / 2**20:.0f} MB.")
    if not data:
        raise UserModelError("The model file is empty.")
    return data


def sniff(data: bytes) -> str:
    """``safetensors`` | ``torchscript`` | ``torch-zip`` | ``pickle`` | ``onnx`` | ``unknown``."""
    if len(data) >= 10:
        (n,) = struct.unpack("<Q", data[:8])
        if 2 <= n <= len(data) - 8 and data[8:9] == b"{":
            return "safetensors"
    if data[:4] == b"PK\x03\x04":
        try:
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        except zipfile.BadZipFile:
            return "unknown"
        if any("/code/" in n or n.endswith("constants.pkl") for n in names):
            return "torchscript"
        return "torch-zip"
    if data[:1] == b"\x80" and len(data) > 2:
        return "pickle"
    if data[:1] == b"\x08":  # ModelProto field 1 (ir_version), varint
        return "onnx"
    return "unknown"


def _refuse_pickle(detail: str) -> UserModelError:
    return UserModelError(
        "This file is a pickled Python object (for example a whole model saved with "
        "`torch.save(model)`), not a state dict of tensors. Loading it would run code from the file, "
        f"so CNN Lens refuses it ({detail}).\n\n{SAVE_HOWTO}"
    )


def _offending_global(message: str) -> str:
    """The class or function the pickle asked for, from torch's weights-only error message."""
    m = re.search(r"GLOBAL ([\w.]+)", message) or re.search(r"Unsupported \w+:? ([\w.]+)", message)
    return f"it asks for `{m.group(1)}`" if m else "it asks for objects other than tensors"


def _unwrap(obj: object) -> dict[str, torch.Tensor]:
    """A checkpoint dict → its state dict (``state_dict`` / ``model_state_dict`` / ``model`` entries,
    ``module.`` prefixes of DataParallel removed); anything else is refused."""
    if isinstance(obj, Mapping):
        for k in ("state_dict", "model_state_dict", "model", "net"):
            if isinstance(obj.get(k), Mapping) and obj[k] and all(
                    isinstance(v, torch.Tensor) for v in obj[k].values()):
                obj = obj[k]
                break
    if not isinstance(obj, Mapping) or not obj:
        raise UserModelError(f"The file holds a {type(obj).__name__}, not a state dict "
                             f"(a dict of parameter name → tensor).\n\n{SAVE_HOWTO}")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise UserModelError(f"The file is a dict but not a state dict: entries {bad[:5]} are not "
                             f"tensors.\n\n{SAVE_HOWTO}")
    keys = list(obj)
    if all(k.startswith("module.") for k in keys):
        return {k[len("module."):]: v for k, v in obj.items()}
    return dict(obj)


def load_state_dict(data: bytes, fmt: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(state dict on CPU, metadata) from safetensors / torch bytes; refuses code-carrying files."""
    if fmt == "safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load

        try:
            state = load(data)
            (n,) = struct.unpack("<Q", data[:8])
            meta = json.loads(data[8:8 + n]).get("__metadata__") or {}
        except (SafetensorError, ValueError, UnicodeDecodeError) as exc:
            raise UserModelError(f"The .safetensors file is damaged or truncated ({exc}).") from exc
        return _unwrap(state), {str(k): str(v) for k, v in meta.items()}
    if fmt == "torchscript":
        raise UserModelError("This is a TorchScript archive (`torch.jit.save`): it carries code, so CNN "
                             f"Lens does not load it.\n\n{SAVE_HOWTO}")
    if fmt in ("torch-zip", "pickle"):
        try:
            obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            raise _refuse_pickle(_offending_global(str(exc))) from exc
        except (RuntimeError, EOFError, ValueError, zipfile.BadZipFile) as exc:
            raise UserModelError(f"The file could not be read as a PyTorch state dict ({exc}).") from exc
        return _unwrap(obj), {}
    raise UserModelError("Unknown file type: expected a .safetensors file, a .pt/.pth state dict "
                         "(torch.save(model.state_dict(), ...)) or an .onnx model.")


def parse_labels(data: bytes | str, filename: str = "labels.txt") -> tuple[str, ...]:
    """Class names from a ``.txt`` (one per line) or ``.json`` (list, or index → name) file."""
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > MAX_LABELS_BYTES:
        raise UserModelError(f"The labels file {filename} is larger than {MAX_LABELS_BYTES // 2**20} MB.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserModelError(f"The labels file {filename} is not UTF-8 text.") from exc
    if filename.lower().endswith(".json") or text.lstrip()[:1] in ("[", "{"):
        return _json_labels(text, filename)
    names = [line.strip() for line in text.splitlines()]
    while names and not names[-1]:
        names.pop()
    if not names or any(not n for n in names):
        raise UserModelError(f"The labels file {filename} must have one class name per line, no blank lines.")
    return tuple(names)


def _json_labels(text: str, filename: str) -> tuple[str, ...]:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserModelError(f"The labels file {filename} is not valid JSON ({exc}).") from exc
    if isinstance(obj, list) and obj and all(isinstance(v, str | int | float) for v in obj):
        return tuple(str(v) for v in obj)
    if isinstance(obj, dict) and obj:
        try:
            table = {int(k): str(v) for k, v in obj.items()}
        except ValueError as exc:
            raise UserModelError(f"The keys of {filename} must be class indices 0, 1, 2, …") from exc
        if sorted(table) != list(range(len(table))):
            raise UserModelError(f"The indices in {filename} must be 0 … {len(table) - 1} with none missing.")
        return tuple(table[i] for i in range(len(table)))
    raise UserModelError(f"{filename} must hold a JSON list of names or an index → name object.")


def labels_from(labels: Sequence[str] | Path | str | None) -> tuple[str, ...] | None:
    """The public API's ``labels`` argument (names, or a path to a labels file) as a tuple."""
    if labels is None:
        return None
    if isinstance(labels, Path):
        if not labels.is_file():
            raise UserModelError(f"No such labels file: {labels}")
        return parse_labels(labels.read_bytes(), labels.name)
    if isinstance(labels, str):
        raise UserModelError("labels must be a list of names or a Path to a labels file, not a string.")
    names = tuple(str(n) for n in labels)
    if not names:
        raise UserModelError("The labels list is empty.")
    return names
