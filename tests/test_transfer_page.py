"""AppTest of the Transfer learning page: classes, uploads, demo set, training, results, use."""

from __future__ import annotations

import io

from PIL import Image

from app.shell.navigation import page_file
from tests.apptest_utils import fresh_app, no_exceptions
from vizcore.transfer import demo_set


def _open():
    at = fresh_app().run()
    at.switch_page(page_file("transfer"))
    return at.run()


def _texts(at) -> str:
    return " ".join([m.value for m in at.markdown] + [c.value for c in at.caption]
                    + [w.value for w in at.warning] + [i.value for i in at.info])


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_classes_uploads_and_refusals() -> None:
    at = _open()
    no_exceptions(at)
    assert "Add at least two classes" in _texts(at)
    assert at.button(key="tl_train").disabled
    at.text_input(key="tl_new").set_value("mugs").run()
    at.text_input(key="tl_new").set_value("mugs").run()  # a duplicate is refused with a message
    assert "already a class" in _texts(at)
    at.text_input(key="tl_new").set_value("pens").run()
    from app.transfer import state

    pics = demo_set(2, seed=3)
    ts = at.session_state[state.KEY]
    assert list(ts.classes) == ["mugs", "pens"]
    at.session_state[state.KEY].classes["mugs"].extend(pics["circles"])
    at.session_state[state.KEY].classes["pens"].extend(pics["squares"])
    at.session_state[state.KEY].version += 1
    at.run()
    no_exceptions(at)
    assert not at.button(key="tl_train").disabled
    assert "2 classes · 4 images" in _texts(at)
    at.button(key="tl_del_pens").click().run()
    assert list(at.session_state[state.KEY].classes) == ["mugs"]
    assert at.button(key="tl_train").disabled


def test_demo_set_trains_and_the_model_is_used_on_predict() -> None:
    at = _open()
    at.button(key="tl_demo").click().run()
    no_exceptions(at)
    assert "3 classes · 24 images" in _texts(at)
    at.toggle(key="tl_augment").set_value(False).run()
    at.button(key="tl_train").click().run()
    no_exceptions(at)
    assert at.metric, "no validation accuracy shown"
    acc = at.metric[0].value
    assert acc.endswith("%") and int(acc[:-1]) >= 90
    cells = [b for b in at.button if b.key and b.key.startswith("tl_cm_")]
    assert len(cells) == 9
    diagonal = [b for b in cells if b.key in ("tl_cm_0_0", "tl_cm_1_1", "tl_cm_2_2")]
    assert sum(int(b.label) for b in cells) == 6 and all(int(b.label) >= 1 for b in diagonal)
    at.button(key="tl_cm_0_0").click().run()
    assert "correct: true “circles”, predicted “circles”" in _texts(at)
    assert len(at.get("plotly_chart")) >= 2  # curves + embedding map
    at.button(key="tl_use").click().run()
    no_exceptions(at)
    # the page reran with the trained model as the session's model (the browser test opens Predict)
    assert any("Now using" in s.value for s in at.success)
    from app.usermodel import store

    name = next(iter(at.session_state[store.STORE_KEY]))
    assert "-transfer-" in name and at.session_state["model_name"] == name


def test_add_images_decodes_refuses_and_caps(monkeypatch) -> None:
    """What the per-class uploader and webcam callbacks do with the files they receive."""
    from app.transfer import state

    monkeypatch.setattr(state.st, "session_state", {})
    assert state.add_class("  cats  ") is None and state.add_class("") is not None
    big = Image.new("RGB", (1200, 900), (200, 10, 10))
    problems = state.add_images("cats", [("a.png", _png(big)), ("notes.png", b"just text"),
                                         ("![x](http://evil)", b"\x89PNG broken")])
    ts = state.training_set()
    assert len(ts.classes["cats"]) == 1 and max(ts.classes["cats"][0].size) == state.KEEP_PX
    assert len(problems) == 2 and problems[0].startswith("notes.png:")
    monkeypatch.setattr(state, "MAX_PER_CLASS", 2)
    problems = state.add_images("cats", [("b.png", _png(big)), ("c.png", _png(big))])
    assert len(ts.classes["cats"]) == 2 and "at most 2 images per class" in problems[0]
    state.remove_image("cats", 0)
    assert len(ts.classes["cats"]) == 1


def test_teacher_folder_loads_one_class_per_subfolder(monkeypatch, tmp_path) -> None:
    from app.transfer import state

    monkeypatch.setattr(state.st, "session_state", {})
    for name, pics in demo_set(2, seed=4).items():
        (tmp_path / name).mkdir()
        for i, img in enumerate(pics):
            (tmp_path / name / f"{i}.png").write_bytes(_png(img))
    (tmp_path / "circles" / "readme.txt").write_text("not a photo")
    monkeypatch.setenv(state.FOLDER_ENV, str(tmp_path))
    assert state.teacher_folder() == tmp_path
    problems = state.load_folder(tmp_path)
    ts = state.training_set()
    assert list(ts.classes) == ["circles", "squares", "stripes"]
    assert [len(v) for v in ts.classes.values()] == [2, 2, 2]
    assert len(problems) == 1 and problems[0].startswith("circles/readme.txt")
    monkeypatch.setenv(state.FOLDER_ENV, str(tmp_path / "missing"))
    assert state.teacher_folder() is None


def test_cli_transfer_folder_option(tmp_path, capsys) -> None:
    from app.cli.main import _transfer_folder

    assert _transfer_folder(["--server.port", "1"]) == (["--server.port", "1"], None)
    (tmp_path / "cats").mkdir()
    rest, folder = _transfer_folder(["--transfer-folder", str(tmp_path), "--server.port", "1"])
    assert rest == ["--server.port", "1"] and folder == str(tmp_path.resolve())
    _, refused = _transfer_folder(["--transfer-folder", str(tmp_path / "cats")])  # no class sub-folders
    assert refused is False and "one sub-folder of photos per class" in capsys.readouterr().err
