"""``cnn-lens run --model NAME=FILE --arch A …``: parsing, checking before start, ``--trust-pickle``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from app.cli.usermodels import prepare, split
from app.usermodel.registered import ENV, Entry, from_env, load
from models.lenet import LeNet5
from models.user import UserModelError


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cli-models")
    torch.manual_seed(0)
    m = LeNet5(num_classes=3).eval()
    save_file({k: v.contiguous() for k, v in m.state_dict().items()}, str(d / "shapes.safetensors"))
    (d / "shapes.txt").write_text("circle\ncross\nplus\n")
    torch.save(m, d / "whole.pt")
    return d


def test_split_groups_options_by_model(files: Path) -> None:
    entries, rest = split(["--server.port", "8600", "--model", f"shapes={files}/shapes.safetensors",
                           "--arch", "lenet5", "--labels", str(files / "shapes.txt"), "--mean=0.5",
                           "--model=b=x.onnx", "--arch", "onnx", "--input-size", "28",
                           "--theme.base", "dark"])
    assert rest == ["--server.port", "8600", "--theme.base", "dark"]
    assert entries[0] == Entry("shapes", str(files / "shapes.safetensors"), "lenet5",
                               str(files / "shapes.txt"), mean=(0.5,))
    assert (entries[1].name, entries[1].arch, entries[1].input_size) == ("b", "onnx", 28)
    bad_args = [(["--arch", "resnet18"], "must follow the --model"), (["--model", "nofile"], "NAME=FILE"),
                (["--model", "a=b", "--input-size", "big"], "whole number"), (["--model"], "needs a value")]
    for bad, msg in bad_args:
        with pytest.raises(UserModelError, match=msg):
            split(bad)


def test_prepare_checks_models_and_hands_them_to_the_server(files: Path, capsys) -> None:
    rest, env = prepare(["--model", f"shapes={files}/shapes.safetensors", "--arch", "lenet5",
                         "--labels", str(files / "shapes.txt"), "--server.port", "1"])
    assert rest == ["--server.port", "1"] and env is not None
    (entry,) = from_env(env[ENV])
    loaded = load(entry)
    assert loaded.spec.display_name == "shapes" and loaded.spec.categories == ("circle", "cross", "plus")
    assert "model shapes:" in capsys.readouterr().out
    rest, env = prepare(["--model", f"bad={files}/shapes.safetensors", "--arch", "resnet18"])
    assert env is None and "do not fit the architecture" in capsys.readouterr().err
    assert rest[0] == "--model"  # nothing started, arguments returned untouched


def test_pickled_module_only_with_trust_pickle(files: Path) -> None:
    with pytest.raises(UserModelError, match="pickled Python object"):
        load(Entry("whole", str(files / "whole.pt"), "lenet5"))
    loaded = load(Entry("whole", str(files / "whole.pt"), trust_pickle="models.lenet:LeNet5", input_size=32))
    assert loaded.spec.channels == 1 and len(loaded.spec.categories) == 3
    with pytest.raises(UserModelError, match="not a torchvision"):
        load(Entry("whole", str(files / "whole.pt"), trust_pickle="torchvision.models:ResNet"))
    with pytest.raises(UserModelError, match="Cannot import"):
        load(Entry("whole", str(files / "whole.pt"), trust_pickle="nope.module:Net"))
