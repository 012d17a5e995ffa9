"""Beyond one server: 2 replicas (``cnn-lens serve``) behind Debian's nginx with the compose template.

Starts everything itself on loopback (``deploy/localcluster.py``) and stops only what it started:

1. round 1 — N browsers open the app through the proxy (GET /, the health check that sets the XSRF
   cookie, the websocket), go to Explain and upload N distinct photos at once (XSRF double submit,
   the shared ``server.cookieSecret``); every Grad-CAM must equal the same request computed alone;
2. round 2 — every browser uploads a new photo, and replica r0 is SIGKILLed mid-run: browsers on r1
   must get correct results undisturbed; browsers on r0 reconnect as the frontend does (health
   check → re-pinned cookie → new websocket), upload again and get a correct page from r1;
3. new browsers after the crash must all land on r1 and work.

The proxy's access log (client id, start time, answering replica per request) is the oracle for
affinity: a browser's requests never change replica, except once, r0 → r1, after the crash.
Last line: ``RESULT replicas=2 sessions=N errors=E wrong=W affinity_breaks=A survivors_ok=0|1``.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.cluster_client import (  # noqa: E402
    PageExpected,
    Tally,
    attempt,
    cam_round,
    connect,
    in_threads,
    reconnect,
)
from bench.load import Expected, photo_variants  # noqa: E402
from bench.loadclient import Session  # noqa: E402
from deploy.localcluster import (  # noqa: E402
    Browser,
    Proxy,
    Replica,
    affinity_breaks,
    keep_logs,
    warmed_before_listening,
)
from tests.devserver import free_port  # noqa: E402


@dataclass(frozen=True)
class Report:
    """What the run showed (the RESULT line plus the sizing numbers for the README)."""

    sessions: int
    errors: int
    wrong: int
    affinity_breaks: int
    survivors_ok: bool
    per_replica: dict[str, int]  # browsers per replica in round 1
    round1_s: tuple[float, ...]  # upload → checked Grad-CAM, round 1 (all at once)
    warm_s: tuple[float, ...]  # start → healthy (warm-up included), per replica
    rss_mb: tuple[float, ...]  # per replica after round 1
    peak_rss_mb: tuple[float, ...]
    warm_first: bool  # every replica logged its warm-up before its server started listening
    problems: tuple[str, ...]

    def result_line(self) -> str:
        return (f"RESULT replicas={len(self.warm_s)} sessions={self.sessions} errors={self.errors} "
                f"wrong={self.wrong} affinity_breaks={self.affinity_breaks} "
                f"survivors_ok={int(self.survivors_ok)}")


def round_two(proxy: Proxy, reps: list[Replica], browsers: list[Browser], sessions: list[Session],
              t: Tally, exp: Expected, timeout: float) -> float:
    """Everyone uploads again; r0 is SIGKILLed mid-run. Returns the kill time (epoch s)."""
    photos = photo_variants(len(browsers), seed=1)
    expected = [exp(d) for _, d in photos]
    killed = threading.Event()
    started = threading.Barrier(len(browsers) + 1)

    def one(i: int) -> None:
        b, s, who = browsers[i], sessions[i], f"{browsers[i].client}@{browsers[i].replica}"
        started.wait(60)
        if b.replica == "r1":
            attempt(t, f"{who} round 2", lambda: cam_round(s, photos[i], expected[i], timeout), survivor=True)
            return
        with contextlib.suppress(Exception):  # on the replica about to die: either outcome is
            cam_round(s, photos[i], expected[i], timeout)  # fine, what counts is the reconnect
        killed.wait(timeout)
        s.close()
        attempt(t, f"{who} reconnect", lambda: reconnect(proxy.url, b, photos[i], expected[i], timeout),
                survivor=True)

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(browsers))]
    for th in threads:
        th.start()
    started.wait(60)
    time.sleep(1.5)  # uploads in flight, Grad-CAMs queued on both replicas
    killed_at = time.time()
    reps[0].crash()
    killed.set()
    for th in threads:
        th.join(timeout + 60)
    return killed_at


def newcomers(proxy: Proxy, n: int, t: Tally, exp: Expected, timeout: float) -> None:
    """Browsers arriving after the crash must all land on the live replica and work."""
    photos = photo_variants(n, seed=2)
    expected = [exp(d) for _, d in photos]

    def one(i: int) -> None:
        b = Browser(f"n{i:02d}")

        def go() -> str:
            s = connect(proxy.url, b, timeout)
            try:
                out = cam_round(s, photos[i], expected[i], timeout)
            finally:
                s.close()
            return out or ("" if b.replica == "r1" else f"error: new browser sent to {b.replica!r}")
        attempt(t, f"{b.client} (new)", go, survivor=True)

    in_threads(n, one, timeout + 60)


def round_one(proxy: Proxy, n: int, t: Tally, exp: Expected,
              timeout: float) -> tuple[list[Browser], list[Session], list[float]]:
    """N browsers connect (round robin) and upload at once; returns them and upload→CAM times."""
    photos = photo_variants(n, seed=0)
    expected = [exp(d) for _, d in photos]
    browsers = [Browser(f"s{i:02d}") for i in range(n)]
    sessions = [connect(proxy.url, b, timeout) for b in browsers]
    times: list[float] = []
    start = threading.Barrier(n)

    def one(i: int) -> None:
        start.wait(60)
        t0 = time.monotonic()
        attempt(t, f"{browsers[i].client}@{browsers[i].replica} round 1",
                lambda: cam_round(sessions[i], photos[i], expected[i], timeout))
        with t.lock:
            times.append(time.monotonic() - t0)

    in_threads(n, one, timeout + 60)
    return browsers, sessions, times


def start_replicas(n: int, root: Path, secret: str) -> list[Replica]:
    """``n`` replicas started at once (each warms its models before its port opens)."""
    out: list[Replica | Exception | None] = [None] * n

    def one(i: int) -> None:
        (root / f"r{i}").mkdir()
        try:
            out[i] = Replica(free_port(), root / f"r{i}", secret=secret)
        except Exception as exc:
            out[i] = exc

    in_threads(n, one, 300)
    good = [r for r in out if isinstance(r, Replica)]
    if len(good) != n:
        for r in good:
            r.stop()
        raise RuntimeError(f"replicas did not start: {out}")
    return good


def run_cluster(sessions: int, *, newcomers_n: int = 4, timeout: float = 300.0) -> Report:
    """The whole scenario; every process it starts is stopped before it returns."""
    with tempfile.TemporaryDirectory(prefix="cnnlens-cluster-") as tmp:
        root = Path(tmp)
        reps = start_replicas(2, root, secrets.token_hex(32))  # one shared cookie secret
        proxy = None
        try:
            proxy = Proxy(free_port(), [r.addr for r in reps], root / "proxy")
            t, exp = Tally(), PageExpected()
            browsers, open_sessions, times = round_one(proxy, sessions, t, exp, timeout)
            per = {f"r{k}": sum(b.replica == f"r{k}" for b in browsers) for k in range(2)}
            rss = tuple(r.rss_mb() for r in reps)
            peak = tuple(r.rss_mb("VmHWM") for r in reps)
            killed_at = round_two(proxy, reps, browsers, open_sessions, t, exp, timeout)
            newcomers(proxy, newcomers_n, t, exp, timeout)
            for s in open_sessions:
                s.close()
            time.sleep(0.5)  # websockets are logged when they close
            breaks, why = affinity_breaks(proxy.access_log, {r.addr: f"r{k}" for k, r in enumerate(reps)},
                                          killed_at)
        finally:
            if proxy is not None:
                proxy.stop()
            for r in reps:
                r.stop()
        warm_first = all(warmed_before_listening(r.log.read_text()) for r in reps)
        keep_logs([r.log for r in reps] + ([proxy.error_log, proxy.access_log] if proxy else []))
    return Report(sessions, len(t.errors), len(t.wrong), breaks,
                  not t.survivor_failures and min(per.values()) > 0, per, tuple(sorted(times)),
                  tuple(r.healthy_after for r in reps), rss, peak, warm_first,
                  tuple(t.errors + t.wrong + why))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=30)
    ap.add_argument("--newcomers", type=int, default=4, help="browsers arriving after the crash")
    ap.add_argument("--timeout", type=float, default=300.0, help="longest wait for one result, s")
    args = ap.parse_args()
    t0 = time.monotonic()
    rep = run_cluster(args.sessions, newcomers_n=args.newcomers, timeout=args.timeout)
    times = rep.round1_s
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))] if times else float("nan")
    print(f"replicas warm and healthy after {', '.join(f'{s:.1f}' for s in rep.warm_s)} s; "
          f"round 1 browsers per replica {rep.per_replica}")
    print(f"round 1 ({rep.sessions} uploads at once): upload→checked Grad-CAM p50 "
          f"{times[len(times) // 2] if times else float('nan'):.1f} s, p95 {p95:.1f} s")
    print(f"RSS per replica after round 1: {', '.join(f'{m:.0f}' for m in rep.rss_mb)} MB "
          f"(peak {', '.join(f'{m:.0f}' for m in rep.peak_rss_mb)} MB)")
    for p in rep.problems[:15]:
        print(f"  problem: {p}")
    print(f"total {time.monotonic() - t0:.0f} s")
    print(rep.result_line())


if __name__ == "__main__":
    main()
