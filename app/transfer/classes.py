"""Step 1 of the Transfer learning page: classes, and images for each (uploads, webcam, demo set)."""

from __future__ import annotations

import html

import streamlit as st

from app.shell import uploads
from app.transfer import state
from vizcore.transfer import demo_set

THUMBS_PER_ROW = 8


def _gen(name: str) -> str:
    """Widget-key suffix for class ``name`` that changes after each batch (clears the widgets)."""
    return f"{name}-{st.session_state.get(f'tl_gen_{name}', 0)}"


def _bump(name: str) -> None:
    st.session_state[f"tl_gen_{name}"] = st.session_state.get(f"tl_gen_{name}", 0) + 1


def _take(files: list) -> tuple[list[tuple[str, bytes]], list[str]]:
    """Bytes of each uploaded file, counted against the session's upload budget, then released."""
    taken, refused = [], []
    for f in filter(uploads.received, files):
        try:
            taken.append((f.name, uploads.take(f)))
        except uploads.UploadRefused as exc:
            refused.append(f"{f.name}: {exc}")
        finally:
            uploads.release(f)
    return taken, refused


def _on_upload(name: str, key: str) -> None:
    taken, refused = _take(st.session_state.get(key) or [])
    st.session_state["tl_problems"] = refused + state.add_images(name, taken)
    _bump(name)


def _on_snapshot(name: str, key: str) -> None:
    shot = st.session_state.get(key)
    if shot is not None:
        taken, refused = _take([shot])
        st.session_state["tl_problems"] = refused + state.add_images(name, [("webcam snapshot", d)
                                                                           for _, d in taken])
        _bump(name)  # a fresh camera widget: the next snapshot is one click away


def _on_add() -> None:
    st.session_state["tl_problems"] = [p for p in [state.add_class(st.session_state.get("tl_new", ""))] if p]
    st.session_state["tl_new"] = ""


def _load_demo() -> None:
    ts = state.training_set()
    ts.classes.clear()
    for name, pictures in demo_set(8).items():
        state.add_pictures(name, pictures)


def _load_folder(folder) -> None:
    st.session_state["tl_problems"] = state.load_folder(folder)


def editor() -> None:
    """Class list with thumbnails, per-class uploader / webcam, add and delete."""
    ts = state.training_set()
    top = st.columns([3, 1, 2], vertical_alignment="bottom")
    top[0].text_input("New class name", key="tl_new", placeholder="e.g. thumbs up",
                      max_chars=40, on_change=_on_add)
    top[1].button("Add class", on_click=_on_add, key="tl_add", width="stretch")
    top[2].button("Load the demo set (circles · squares · stripes)", on_click=_load_demo, key="tl_demo",
                  width="stretch", help="24 generated pictures in 3 classes, to try it without a camera.")
    folder = state.teacher_folder()
    if folder is not None:
        st.button(f"Load the teacher's photos ({html.escape(folder.name)}: one folder per class)",
                  key="tl_folder", on_click=_load_folder, args=(folder,))
    for problem in st.session_state.pop("tl_problems", []) or []:
        st.warning(html.escape(problem), icon="🚫")
    if not ts.classes:
        st.info("Add at least two classes (e.g. *me* and *my mug*), then give each a few photos — "
                "or load the demo set.")
        return
    st.caption(f"{len(ts.classes)} classes · {ts.total} images (at most {state.MAX_PER_CLASS} per class, "
               f"{state.MAX_TOTAL} in all).")
    for name, images in list(ts.classes.items()):
        _class_panel(name, images)


def _class_panel(name: str, images: list) -> None:
    with st.container(border=True):
        head = st.columns([4, 1], vertical_alignment="center")
        head[0].markdown(f"**{html.escape(name)}** — {len(images)} image{'s' * (len(images) != 1)}")
        head[1].button("Delete class", key=f"tl_del_{name}", on_click=state.remove_class, args=(name,),
                       width="stretch")
        _thumbnails(name, images)
        add = st.columns(2)
        key = f"tl_up_{_gen(name)}"
        add[0].file_uploader(f"Add photos to “{name}”", accept_multiple_files=True, key=key,
                             on_change=_on_upload, args=(name, key), max_upload_size=25,
                             help="Several files at once; any image format the app reads.")
        if add[1].toggle("Webcam snapshots", key=f"tl_cam_on_{name}"):
            cam = f"tl_cam_{_gen(name)}"
            add[1].camera_input(f"Snapshot for “{name}” (each photo is added at once)", key=cam,
                                on_change=_on_snapshot, args=(name, cam))


def _thumbnails(name: str, images: list) -> None:
    for start in range(0, len(images), THUMBS_PER_ROW):
        cols = st.columns(THUMBS_PER_ROW)
        for i, img in enumerate(images[start:start + THUMBS_PER_ROW], start=start):
            with cols[i - start]:
                st.image(img, width="stretch")
                st.button("✕", key=f"tl_rm_{name}_{i}_{id(img)}", on_click=state.remove_image,
                          args=(name, i), help="Remove this image", width="stretch")
