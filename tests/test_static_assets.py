"""plotly.js is served from app/static once instead of being inlined into every lab rerun."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.shell import static_assets


def test_plotly_js_written_once_and_matches_the_package(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from plotly.offline import get_plotlyjs

    monkeypatch.setattr(static_assets, "STATIC", tmp_path / "static")
    monkeypatch.setattr(static_assets, "PLOTLY_JS", tmp_path / "static" / "plotly.min.js")
    assert static_assets.ensure_plotly_js()
    path = tmp_path / "static" / "plotly.min.js"
    assert path.read_text(encoding="utf-8") == get_plotlyjs()
    before = path.stat().st_mtime_ns
    assert static_assets.ensure_plotly_js()
    assert path.stat().st_mtime_ns == before  # not rewritten


def test_read_only_install_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: object, **_k: object) -> None:
        raise PermissionError("read-only")

    monkeypatch.setattr(static_assets, "STATIC", tmp_path / "static")
    monkeypatch.setattr(static_assets, "PLOTLY_JS", tmp_path / "static" / "plotly.min.js")
    monkeypatch.setattr(Path, "write_text", refuse)
    assert not static_assets.ensure_plotly_js()


def test_player_uses_served_script_when_given() -> None:
    from app.lab.player import player_html

    spec = '{"data": [], "layout": {"height": 300}, "frames": []}'
    served = player_html(spec, plotly_src="app/static/plotly.min.js")
    inline = player_html(spec)
    assert '<script src="app/static/plotly.min.js"></script>' in served
    assert len(served) < 100_000 < len(inline)
