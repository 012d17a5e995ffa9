"""The ``cnn-lens`` command: app launch pass-through and atlas precomputation into the cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cli import main as cli


def test_run_passes_arguments_through(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(cli.subprocess, "call", lambda cmd, env=None: calls.append(cmd) or 0)
    assert cli.main([]) == 0
    assert cli.main(["run", "--server.port", "8999"]) == 0
    assert cli.main(["--server.headless", "true"]) == 0
    assert calls[0][1:5] == ["-m", "app.cli.launch", "run", str(cli.MAIN)]  # streamlit, metrics hidden
    assert "--server.maxUploadSize" in calls[0] and "--server.enableStaticServing" in calls[0]
    assert calls[1][-2:] == ["--server.port", "8999"] and calls[2][-2:] == ["--server.headless", "true"]


def test_run_settings_match_the_streamlit_config() -> None:
    import tomllib

    config = tomllib.loads((Path(cli.MAIN).parent.parent / ".streamlit" / "config.toml").read_text())
    flat = {f"--{section}.{key}": str(value).lower() if isinstance(value, bool) else str(value)
            for section, table in config.items() for key, value in table.items()}
    flat.pop("--server.headless")  # `cnn-lens run` on a desktop may open the browser
    given = dict(zip(cli.APP_SETTINGS[::2], cli.APP_SETTINGS[1::2], strict=True))
    assert given == flat


def test_atlas_fills_the_cache_and_shards(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    base = ["atlas", "--model", "efficientnet_lite0", "--layer", "_blocks.1", "--channels", "0-2",
            "--steps", "3", "--size", "32", "--cache", str(tmp_path)]
    assert cli.main([*base, "--shard", "1/2"]) == 0
    assert len(list(tmp_path.rglob("*.npz"))) == 2  # channels 0 and 2
    assert cli.main([*base, "--shard", "2/2"]) == 0
    assert len(list(tmp_path.rglob("*.npz"))) == 3
    assert cli.main(base) == 0
    out = capsys.readouterr().out
    assert "3 cached, 0 computed" in out


@pytest.mark.parametrize("args, msg", [
    (["--model", "nope", "--layer", "x"], "Unknown model"),
    (["--model", "efficientnet_lite0", "--layer", "_blockz"], "No layer named"),
    (["--model", "efficientnet_lite0", "--layer", "_blocks.1", "--channels", "9-1"], "Bad channel"),
    (["--model", "efficientnet_lite0", "--layer", "_blocks.1", "--shard", "3/2"], "Bad shard"),
    (["--model", "efficientnet_lite0", "--layer", "_blocks.1", "--channels", "500", "--steps", "2",
      "--size", "32"], "out of range"),
])
def test_atlas_bad_arguments(args: list[str], msg: str, tmp_path: Path,
                             capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["atlas", *args, "--cache", str(tmp_path)]) == 2
    assert msg in capsys.readouterr().err
