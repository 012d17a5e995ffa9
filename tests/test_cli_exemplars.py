"""``cnn-lens exemplars`` end to end: a folder of photos → disk cache → the Dataset exemplars view."""

from __future__ import annotations

from pathlib import Path

import pytest

import models.registry
from app.cli import main as cli
from app.shell.navigation import page_file
from tests.apptest_utils import fresh_app, no_exceptions
from tests.conftest import assert_clean, photo_bytes
from tests.test_actmax_app import captions
from vizcore.featvis.exemplar_store import cache, list_sets, load_index

MODEL, LAYER = "efficientnet_lite0", "_blocks.1"
PHOTOS = (("chelsea", "JPEG"), ("coffee", "PNG"), ("rocket", "JPEG"), ("astronaut", "PNG"))


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """Four scikit-image photos, a damaged JPEG, a text file and a sub-folder with one more photo."""
    folder = tmp_path / "photos"
    (folder / "more").mkdir(parents=True)
    for name, fmt in PHOTOS[:3]:
        (folder / f"{name}.{fmt.lower()}").write_bytes(photo_bytes(name, fmt))
    (folder / "more" / "astronaut.png").write_bytes(photo_bytes("astronaut"))
    (folder / "broken.jpeg").write_bytes(photo_bytes("chelsea", "JPEG")[:3000])
    (folder / "readme.txt").write_text("holiday photos")
    return folder


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lite0) -> Path:
    """A temporary ``CNN_LENS_CACHE``; the CLI gets the session's model so its state can be checked."""
    root = tmp_path / "cache"
    monkeypatch.setenv("CNN_LENS_CACHE", str(root))
    monkeypatch.setattr(models.registry, "load_model", lambda name, trained=True: lite0)
    return root


def index(folder: Path, *extra: str) -> int:
    return cli.main(["exemplars", "--model", MODEL, "--layer", LAYER, "--folder", str(folder),
                     "--batch", "2", *extra])


def test_cli_indexes_a_folder_and_reports_skips(photos: Path, env: Path, lite0,
                                                capsys: pytest.CaptureFixture) -> None:
    assert index(photos) == 0
    out = capsys.readouterr().out
    assert f"{MODEL} {LAYER}: 24 channels, 56×56 map" in out and "indexing 5 files" in out
    assert "skipped more/: a sub-folder" in out and "add --recursive" in out
    assert "skipped broken.jpeg: The image file is damaged or truncated" in out
    assert "skipped readme.txt: This file is not an image" in out
    assert "batch 1: 2 images" in out and "batch 2: 1 image " in out
    assert "done: 3 images indexed (3 skipped)" in out and str(env / "exemplars") in out
    assert "  channel 0: " in out and "  channel 3: " in out and "  channel 4: " not in out
    (s,) = list_sets(MODEL, True, LAYER)
    assert (s.name, s.n_images, s.folder) == ("photos", 3, str(photos.resolve()))
    idx = load_index(s.key)
    assert sorted(idx.names.tolist()) == ["chelsea.jpeg", "coffee.png", "rocket.jpeg"]
    top0 = ", ".join(f"{n} ({e.value:.2f})" for n, e in zip(*_top(idx, 0), strict=True))
    assert f"  channel 0: {top0}" in out
    # --recursive takes the sub-folder's photo; the same --name replaces the set
    assert index(photos, "--recursive", "--name", "photos") == 0
    out = capsys.readouterr().out
    assert "skipped more/" not in out
    assert "done: 4 images indexed (2 skipped)" in out
    (s,) = list_sets(MODEL, True, LAYER)
    assert s.n_images == 4 and "more/astronaut.png" in load_index(s.key).names.tolist()
    assert_clean(lite0.model)


def _top(idx, ch: int) -> tuple[tuple[str, ...], tuple]:
    ex = idx.exemplars(ch, 3)
    return ex.names, ex.top


@pytest.mark.parametrize("args, msg", [
    (["--model", "nope", "--layer", LAYER], "Unknown model 'nope'"),
    (["--model", MODEL, "--layer", "_blockz.1"], "No layer named '_blockz.1'"),
    (["--model", MODEL, "--layer", "_fc"], "Layer '_fc' has no spatial feature map"),
    (["--model", MODEL, "--layer", LAYER, "--folder", "/no/such/folder"], "Folder not found"),
    (["--model", MODEL, "--layer", LAYER, "--top", "0"], "at least 1"),
])
def test_cli_bad_arguments(args: list[str], msg: str, photos: Path, env: Path, lite0,
                           capsys: pytest.CaptureFixture) -> None:
    folder = [] if "--folder" in args else ["--folder", str(photos)]
    assert cli.main(["exemplars", *args, *folder]) == 2
    assert msg in capsys.readouterr().err
    assert not env.exists() or not list(env.rglob("*.npz"))
    assert_clean(lite0.model)


def test_cli_folder_without_images(tmp_path: Path, env: Path, capsys: pytest.CaptureFixture) -> None:
    junk = tmp_path / "junk"
    (junk / "sub").mkdir(parents=True)
    assert index(junk) == 2
    err = capsys.readouterr().err
    assert "No files to index" in err and "add --recursive" in err
    (junk / "a.txt").write_text("x")
    (junk / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    assert index(junk) == 2
    err = capsys.readouterr().err
    assert "No readable images" in err and "Nothing was stored" in err
    assert not list(env.rglob("*.npz"))


def test_cli_unwritable_cache_is_a_message(photos: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert cli.main(["exemplars", "--model", "efficientnet_lite0", "--layer", "_blocks.1",
                     "--folder", str(photos), "--cache", str(blocker)]) == 2
    out = capsys.readouterr()
    assert "Cannot write to the cache folder" in out.err and "batch 1" not in out.out  # no work done


def test_page_shows_the_folder_set(photos: Path, env: Path, lite0) -> None:
    assert index(photos, "--name", "holiday") == 0
    at = fresh_app().run()
    at.session_state["fv_view"] = "Dataset exemplars"
    at.session_state[f"fv_layer::{MODEL}"] = LAYER
    at.session_state[f"fv_ch::{MODEL}::{LAYER}"] = 3
    at.session_state["fv_steps::64"] = 16
    at.session_state["fv_size::128"] = 64
    at.switch_page(page_file("feature_vis"))
    at.run()
    no_exceptions(at)
    assert "4 photos ranked" in captions(at)  # samples by default
    (s,) = list_sets(MODEL, True, LAYER)
    box = at.selectbox(key=f"fv_photos_from::{MODEL}::{LAYER}")
    assert box.options == ["Samples + your uploads",
                           "folder 'holiday' · 3 images (indexed by the CLI)"]
    box.select(s.key).run()
    no_exceptions(at)
    text = captions(at)
    assert "3 photos of folder 'holiday' ranked" in text and "RF patch" in text
    assert "synthetic: channel 3" not in text  # nothing is optimised before Run (issue 13)
    at.button(key="fv_run::exemplar").click().run()
    no_exceptions(at)
    text = captions(at)
    assert "synthetic: channel 3" in text
    want = load_index(s.key).exemplars(3)
    for i, name in enumerate(want.names):
        assert f"#{i + 1} · {name}  \nmax {want.top[i].value:.2f}" in text
    assert str(photos.resolve()) in text
    assert [u.key for u in at.get("file_uploader")] == ["uploader"]  # only the sidebar's
    # another layer: no set there, so the exact command to make one
    at.session_state[f"fv_layer::{MODEL}"] = "_blocks.2"
    at.run()
    no_exceptions(at)
    assert f"cnn-lens exemplars --model {MODEL} --layer _blocks.2 --folder PATH" in captions(at)
    assert f"exist for: `{LAYER}`" in captions(at)
    # a damaged set file: a clear message, no traceback
    cache().path(s.key).write_bytes(b"garbage")
    at = fresh_app().run()
    for k, v in {"fv_view": "Dataset exemplars", f"fv_layer::{MODEL}": LAYER, "fv_steps::64": 16,
                 "fv_size::128": 64, f"fv_photos_from::{MODEL}::{LAYER}": s.key}.items():
        at.session_state[k] = v
    at.switch_page(page_file("feature_vis"))
    at.run()
    no_exceptions(at)
    assert any("missing or unreadable" in e.value for e in at.error), [e.value for e in at.error]
    at.button(key="fv_run::exemplar").click().run()  # the synthetic view still works beside it
    no_exceptions(at)
    assert "synthetic: channel" in captions(at)


def test_file_labels_are_safe_markdown() -> None:
    from app.featvis.figures import file_label

    assert file_label("my_cat_1.jpg") == r"my\_cat\_1.jpg"
    assert file_label("a*b [x](y) $5$.png") == r"a\*b \[x\]\(y\) \$5\$.png"
    long = file_label("holidays/2023/" + "x" * 40 + ".jpg")
    assert len(long) == 28 and long.startswith("…") and long.endswith("x.jpg")
