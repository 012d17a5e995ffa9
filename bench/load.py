"""Classroom scale: N real sessions against one ``streamlit run`` (loopback), driven over the websocket.

Starts the app itself on a free localhost port and stops only that server. Phases, all bounded in
count and time:

1. payload — one session visits every page (defaults) and records the largest websocket message;
2. serial floor — a few sessions, one at a time on an idle server (half before, half after phase
   3), upload a fresh photo on the Explain page and time upload → Grad-CAM image;
   floor = sessions × their median (the ratio to the fastest one is printed too);
3. load — N sessions on the Explain page upload N distinct photos at once; each waits for its
   Grad-CAM, which must equal the same request computed alone (top-1 class + overlay pixels) with no
   error/exception; the compute gate must show "Queued — position N"; then the session closes its
   tab while the rest of its page is still computing (queued work must be dropped);
4. memory — M sessions do ``cycles`` upload→compute cycles on the Predict page (every photo new);
   the server's RSS (``/proc/<pid>/status``) is sampled after every cycle.

Last line: ``RESULT sessions=<n> errors=<e> wrong=<w> p95_over_floor=<r> rss_growth_pct=<g>``.
"""

from __future__ import annotations

import argparse
import io
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.loadclient import Run, Session, open_session  # noqa: E402
from bench.loadhostile import hostile, predict_during_featvis  # noqa: E402
from tests.devserver import AppServer  # noqa: E402

PHOTOS = ("chelsea", "coffee", "rocket", "astronaut", "immunohistochemistry", "camera")
PAGES = ("", "explain", "filters", "feature_maps", "architecture", "receptive_field", "feature_vis", "lab")
GRADCAM = "Grad-CAM for"


def free_port(lo: int = 8620, hi: int = 8629) -> int:
    """First free loopback port in [lo, hi] (the ports this benchmark may use)."""
    for port in range(lo, hi + 1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {lo}-{hi}")


def photo_variants(n: int, *, seed: int) -> list[tuple[str, bytes]]:
    """``n`` distinct PNG photos: scikit-image samples mirrored, rotated, cropped and re-lit."""
    from skimage import data

    base = [Image.fromarray(getattr(data, p)()).convert("RGB") for p in PHOTOS]
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        img = base[i % len(base)]
        k = i // len(base) + seed
        img = ImageOps.mirror(img) if k % 2 else img
        w, h = img.size
        dx, dy = int(rng.integers(0, w // 8)), int(rng.integers(0, h // 8))
        img = img.crop((dx, dy, w - int(rng.integers(0, w // 8)), h - int(rng.integers(0, h // 8))))
        img = img.rotate(float(rng.uniform(-12, 12)), resample=Image.Resampling.BILINEAR)
        gain = float(rng.uniform(0.85, 1.15))
        img = Image.eval(img, lambda v, g=gain: min(255, int(v * g)))
        buf = io.BytesIO()
        img.save(buf, format="PNG", compress_level=1)
        out.append((f"photo-{seed}-{i:03d}.png", buf.getvalue()))
    return out




def problems(run: Run) -> list[str]:
    """Errors and tracebacks a user would have seen in this run."""
    return run.exceptions + [f"{k}: {b[:120]}" for k, b in run.alerts if k == "error"]


def shows_upload(run: Run, name: str) -> bool:
    """The sidebar shows the uploaded photo (its caption starts with the file name)."""
    return any(c.startswith(name) for c, _, _ in run.images)


def has_cam(run: Run) -> bool:
    return any(c.startswith(GRADCAM) for c, _, _ in run.images) or bool(problems(run)) \
        or run.finished is not None


class Expected:
    """The same Grad-CAM request computed alone, in this process, with the page's defaults."""

    def __init__(self) -> None:
        import torch

        from app.explain import figures, tasks
        from models.registry import load_model
        from vizcore.core.render import COLORMAPS

        torch.set_num_threads(2)
        self.loaded = load_model("efficientnet_lite0")
        self.tasks, self.figures = tasks, figures
        self.cmap = next(c for c in figures.CMAPS if c in COLORMAPS)  # the page's default

    def __call__(self, data: bytes) -> tuple[str, np.ndarray]:
        """(top-1 class name, overlay RGB uint8) the Explain page shows first for ``data``."""
        from vizcore.core.images import load_image
        from vizcore.core.preprocess import resize_crop

        image = load_image(data)
        view = self.tasks.overview(self.loaded, image)
        cam = self.tasks.method_view(self.loaded, image, method="gradcam", layer=view.layers[0],
                                     target=view.prediction.top1, faithful=False).cam
        photo = resize_crop(image.image, self.loaded.spec)
        over = self.figures.cam_overlay(photo, cam, cmap=self.cmap, alpha=self.figures.ALPHA)
        return self.loaded.spec.categories[view.prediction.top1], np.asarray(over.convert("RGB"))


def check_cam(sess: Session, run: Run, expected: tuple[str, np.ndarray]) -> str:
    """'' if the Grad-CAM shown equals the one computed alone, else why not."""
    caption, url, _ = next(i for i in run.images if i[0].startswith(GRADCAM))
    name, want = expected
    if f"“{name}”" not in caption:
        return f"class differs: {caption!r} vs {name!r}"
    got = Image.open(io.BytesIO(sess.fetch(url))).convert("RGB")
    if got.size != (want.shape[1], want.shape[0]):
        got = got.resize((want.shape[1], want.shape[0]))
    diff = np.abs(np.asarray(got, np.float32) - want.astype(np.float32))
    # the server sends JPEG: allow its rounding, not a different map (other images differ by ~30+)
    return "" if diff.mean() < 2.0 else f"overlay differs (mean |Δ| {diff.mean():.1f})"


def payload(base: str, timeout: float) -> dict[str, int]:
    """Largest websocket message per page, default widgets."""
    out = {}
    s = open_session(base, timeout=timeout)
    try:
        for page in PAGES:
            s.rerun(page, with_upload=False)
            run = s.wait_finished(timeout)
            out[page or "predict"] = run.largest
            for p in problems(run):
                print(f"  payload: {page or 'predict'}: {p}")
    finally:
        s.close()
    return out


def heavy_payload(base: str, model: str, timeout: float) -> dict[str, int]:
    """Largest websocket message per page for ``model`` (untrained) at its biggest feature map."""
    from app.inside.tasks import model_trace
    from models.registry import get_spec, load_model

    shapes = model_trace(load_model(model, trained=False), None).layer_shape
    display = get_spec(model).display_name
    out: dict[str, int] = {}
    s = open_session(base, timeout=timeout)
    try:
        s.choose("Model", lambda o: o.startswith(display))
        s.rerun(with_upload=False)
        s.wait_finished(timeout)
        untrained = "Continue with untrained (random) weights"
        if untrained in s.widgets:
            s.click(untrained)
            s.rerun(with_upload=False)
            s.wait_finished(timeout)
        for page in PAGES:
            s.choose("Model", lambda o: o.startswith(display))  # its label gains " · untrained"
            s.rerun(page, with_upload=False)
            run = s.wait_finished(timeout)
            if "Layer" in s.widgets and page in ("feature_maps", "receptive_field"):
                options = s.widgets["Layer"][2]  # "name  ·  C×H×W"
                biggest = max(options, key=lambda o: int(np.prod(shapes.get(o.split()[0], (0,)))))
                s.choose("Layer", lambda o, b=biggest: o == b)
                s.rerun(with_upload=False)
                run = s.wait_finished(timeout)
                page = f"{page}[{' '.join(biggest.split())}]"
            out[f"{model}/{page or 'predict'}"] = run.largest
            for p in problems(run):
                print(f"  payload: {model}/{page or 'predict'}: {p}")
    finally:
        s.close()
    return out


def time_to_cam(base: str, name: str, data: bytes, timeout: float) -> tuple[float, Session, Run]:
    s = open_session(base, page="explain", timeout=timeout)
    t0 = time.monotonic()
    s.upload(data, name)
    run = s.wait(has_cam, timeout)
    return time.monotonic() - t0, s, run


def cam_ok(run: Run, name: str) -> bool:
    """The run shows the uploaded photo and a Grad-CAM, and no error."""
    return shows_upload(run, name) and not problems(run) and \
        any(c.startswith(GRADCAM) for c, _, _ in run.images)


def serial_floor(base: str, photos: list[tuple[str, bytes]], timeout: float) -> list[float]:
    """Upload → Grad-CAM, one session at a time on an otherwise idle server."""
    times = []
    for name, data in photos:
        t, s, run = time_to_cam(base, name, data, timeout)
        if not cam_ok(run, name):
            raise RuntimeError(f"alone run failed: {problems(run)} {[c for c, _, _ in run.images]}")
        times.append(t)
        s.wait_finished(timeout)  # let the rest of the page finish: the server is idle again
        s.close()
    return times


def load_phase(base: str, photos: list[tuple[str, bytes]], expected: list[tuple[str, np.ndarray]],
               timeout: float) -> dict[str, object]:
    """All sessions upload at once; time upload → Grad-CAM; check; then close the tab."""
    n = len(photos)
    sessions = [open_session(base, page="explain", timeout=timeout) for _ in range(n)]
    times: list[float | None] = [None] * n
    errs: list[str] = []
    wrong: list[str] = []
    queued: list[str] = []
    start = threading.Barrier(n)
    lock = threading.Lock()

    def one(i: int) -> None:
        s = sessions[i]
        name, data = photos[i]
        try:
            start.wait(timeout=60)
            t0 = time.monotonic()
            s.upload(data, name)
            run = s.wait(has_cam, timeout)
            t = time.monotonic() - t0
            bad = problems(run)
            with lock:
                queued.extend(b for k, b in run.alerts if "Queued — position" in b)
            if not cam_ok(run, name):
                with lock:
                    errs.append(f"{name}: {bad or 'page finished without this photo + Grad-CAM'}")
                return
            why = check_cam(s, run, expected[i])
            with lock:
                times[i] = t
                if why:
                    wrong.append(f"{name}: {why}")
        except Exception as exc:  # a timeout or a dropped connection is an error for this student
            with lock:
                errs.append(f"{name}: {type(exc).__name__}: {exc}")
        finally:
            s.close()  # the student leaves while the rest of the Explain page is still computing

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 120)
    done = [t for t in times if t is not None]
    return {"times": done, "errors": errs, "wrong": wrong, "queued": queued}


def memory_phase(server: AppServer, sessions: int, cycles: int, timeout: float) -> dict[str, object]:
    """``cycles`` upload→compute cycles (Predict page, every photo new); RSS after each. A student
    reloads the page (a new session) whenever the per-session upload budget is used up."""
    from app.shell.uploads import SESSION_MAX_FILES

    per = cycles // sessions
    photos = photo_variants(per * sessions, seed=1000)
    rss: list[float] = []
    errs: list[str] = []
    lock = threading.Lock()

    def one(k: int) -> None:
        try:
            s = open_session(server.url, timeout=timeout)
        except Exception as exc:
            with lock:
                errs.append(f"open: {exc}")
            return
        try:
            for j in range(per):
                if j and j % SESSION_MAX_FILES == 0:  # the budget is used up: reload the page
                    s.close()
                    s = open_session(server.url, timeout=timeout)
                name, data = photos[k * per + j]
                s.upload(data, name)
                run = s.wait_finished(timeout)
                ok = shows_upload(run, name)
                with lock:
                    rss.append(server.rss_mb())
                    if len(rss) % 100 == 0:
                        print(f"  memory: {len(rss)} cycles, RSS {rss[-1]:.0f} MB", flush=True)
                    if problems(run) or not ok:
                        errs.append(f"{name}: {problems(run) or 'upload not shown'}")
        except Exception as exc:
            with lock:
                errs.append(f"session {k}: {type(exc).__name__}: {exc}")
        finally:
            s.close()

    threads = [threading.Thread(target=one, args=(k,)) for k in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(per * timeout + 60)
    return {"rss": rss, "errors": errs}


def run_load(url: str, args: argparse.Namespace) -> dict[str, float]:
    """Serial floor, the N-session load, the next request after it."""
    photos = photo_variants(args.sessions + args.alone, seed=0)
    alone_photos, load_photos = photos[args.sessions:], photos[:args.sessions]
    exp = Expected()
    t0 = time.monotonic()
    expected = [exp(d) for _, d in load_photos]
    print(f"expected results computed alone (in this process) in {time.monotonic() - t0:.0f} s",
          flush=True)
    half = (len(alone_photos) + 1) // 2  # alone runs before AND after the load: other users of
    alone = serial_floor(url, alone_photos[:half], args.timeout)  # this machine come and go
    load = load_phase(url, load_photos, expected, args.timeout)
    alone += serial_floor(url, alone_photos[half:], args.timeout)
    one = statistics.median(alone)
    floor = args.sessions * one
    print(f"alone upload→Grad-CAM (before, after the load): {', '.join(f'{t:.2f}' for t in alone)} s; "
          f"serial floor = {args.sessions} × median {one:.2f} = {floor:.1f} s "
          f"(× min {min(alone):.2f} = {args.sessions * min(alone):.1f} s)", flush=True)
    times = sorted(load["times"])  # type: ignore[arg-type]
    p95 = float(np.percentile(times, 95)) if times else float("inf")
    p50 = float(np.median(times)) if times else 0.0
    queued: list[str] = load["queued"]  # type: ignore[assignment]
    print(f"load: {len(times)}/{args.sessions} Grad-CAMs; p50 {p50:.1f} s, p95 {p95:.1f} s, "
          f"max {max(times, default=0):.1f} s; queued notices {len(queued)} "
          f"(e.g. {(queued or ['none'])[-1]!r}); p95 / (sessions × min alone) = "
          f"{p95 / (args.sessions * min(alone)):.2f}", flush=True)
    problems_ = [*load["errors"], *load["wrong"]]  # type: ignore[misc]
    for e in problems_[:10]:
        print(f"  problem: {e}")
    after_photo = photo_variants(1, seed=999)[0]
    t_after, s, run = time_to_cam(url, *after_photo, args.timeout)
    s.close()
    after_ok = cam_ok(run, after_photo[0])
    print(f"next request after the load (disconnected sessions' work dropped): "
          f"{'ok' if after_ok else 'FAILED'} in {t_after:.2f} s", flush=True)
    errors = len(load["errors"]) + (0 if after_ok else 1)  # type: ignore[arg-type]
    if not queued:
        print("  problem: no 'Queued — position N' notice was seen")
        errors += 1
    return {"errors": errors, "wrong": len(load["wrong"]), "ratio": p95 / floor}  # type: ignore[arg-type]


def run_memory(server: AppServer, args: argparse.Namespace) -> dict[str, float]:
    mem = memory_phase(server, args.memory_sessions, args.cycles, args.timeout)
    rss: list[float] = mem["rss"]  # type: ignore[assignment]
    if not rss:
        return {"errors": len(mem["errors"]) or 1, "growth": float("nan")}  # type: ignore[arg-type]
    w = max(1, len(rss) // 25)
    base_i = max(0, len(rss) - 200)
    before = statistics.mean(rss[max(0, base_i - w // 2): base_i + w // 2 + 1])
    after = statistics.mean(rss[-w:])
    print(f"memory: {len(rss)} cycles, RSS first {rss[0]:.0f} MB, at cycle {base_i} {before:.0f} MB, "
          f"end {after:.0f} MB, peak {max(rss):.0f} MB; errors {len(mem['errors'])}", flush=True)
    for e in mem["errors"][:5]:  # type: ignore[index]
        print(f"  problem: {e}")
    return {"errors": len(mem["errors"]), "growth": 100 * (after - before) / before}  # type: ignore[arg-type]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=30)
    ap.add_argument("--alone", type=int, default=6, help="alone runs for the serial floor (median)")
    ap.add_argument("--memory-sessions", type=int, default=10)
    ap.add_argument("--cycles", type=int, default=500)
    ap.add_argument("--timeout", type=float, default=600.0, help="longest wait for one result, s")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--deep-model", default="densenet121",
                    help="payload check with this model at its biggest layer ('' to skip)")
    ap.add_argument("--skip", default="", help="comma-separated phases to skip: load,memory,hostile,featvis")
    ap.add_argument("--hostile-only", action="store_true",
                    help="only the two shared-server measurements (hostile uploads, Predict during the "
                    "biggest feature visualisation): quick")
    ap.add_argument("--hostile-sessions", type=int, default=30)
    args = ap.parse_args()
    skip = set(args.skip.split(","))
    t_start = time.monotonic()
    load = {"errors": 0, "wrong": 0, "ratio": float("nan")}
    mem = {"errors": 0, "growth": float("nan")}
    if args.hostile_only:
        skip |= {"load", "memory", "payload"}
    hos = {"peak": float("nan"), "after_pct": float("nan"), "errors": 0}
    during = float("nan")
    sizes = {"none": 0}
    with tempfile.TemporaryDirectory(prefix="cnnlens-load-") as tmp:
        server = AppServer(args.port or free_port(), tmp)
        try:
            print(f"server pid {server.proc.pid} on {server.url}", flush=True)
            if "hostile" not in skip:
                hos = hostile(server, args.hostile_sessions, args.timeout)
            if "featvis" not in skip:
                during = predict_during_featvis(server.url, photo_variants(6, seed=77), args.timeout)
            if args.hostile_only:
                print(f"RESULT hostile_peak_rss_mb={hos['peak']:.0f} "
                      f"hostile_after_pct={hos['after_pct']:.1f} hostile_errors={hos['errors']} "
                      f"predict_during_featvis_over_alone={during:.2f}")
                return
            sizes = payload(server.url, args.timeout) if "payload" not in skip else sizes
            if args.deep_model:
                sizes |= heavy_payload(server.url, args.deep_model, args.timeout)
            for page, size in sizes.items():
                print(f"payload page={page} largest_ws_message_kb={size / 1024:.1f}", flush=True)
            if "load" not in skip:
                load = run_load(server.url, args)
            if "memory" not in skip:
                mem = run_memory(server, args)
        finally:
            server.stop()
    big = max(sizes, key=sizes.get)  # type: ignore[arg-type]
    print(f"largest websocket message: {sizes[big] / 1024:.0f} KB ({big}); "
          f"total {time.monotonic() - t_start:.0f} s")
    print(f"RESULT sessions={args.sessions} errors={int(load['errors'] + mem['errors'])} "
          f"wrong={int(load['wrong'])} p95_over_floor={load['ratio']:.2f} "
          f"rss_growth_pct={mem['growth']:.1f} hostile_peak_rss_mb={hos['peak']:.0f} "
          f"hostile_after_pct={hos['after_pct']:.1f} predict_during_featvis_over_alone={during:.2f}")


if __name__ == "__main__":
    main()
