"""The compose topology on loopback, for the tests and ``bench/cluster.py`` (no Docker needed).

* ``Replica``: the container's entrypoint, ``cnn-lens serve`` (warm-up first, XSRF protection on,
  the shared ``server.cookieSecret`` from the environment), on ``127.0.0.1:<port>``;
* ``Proxy``: Debian's nginx as a non-daemon child process, its configuration rendered from
  ``deploy/nginx.conf.template`` (the same template as compose) into a temp folder;
* ``Browser``: what a browser keeps between requests (cookies), with a client id that the proxy
  writes into its access log, so tests can check which replica served every request.

Every process here is started by this module and stopped only by it (by its own handle).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

from deploy.nginx_conf import ProxySettings, render

ROOT = Path(__file__).resolve().parent.parent
NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/bin/nginx")


def nginx_binary() -> str | None:
    """Path of Debian's nginx, or None (``make test`` installs it when run as root)."""
    found = shutil.which("nginx")
    return found or next((p for p in NGINX_CANDIDATES if os.access(p, os.X_OK)), None)


def stop_process(proc: subprocess.Popen, grace: float) -> None:
    """SIGTERM ``proc`` and wait up to ``grace`` seconds, then SIGKILL it (nothing when it has ended)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not come up: {log.read_text()[-2000:]}")
        time.sleep(0.05)


class Replica:
    """``python -m app.cli.main serve`` (the Dockerfile's CMD) on ``127.0.0.1:port``."""

    def __init__(self, port: int, cache_dir: str | Path, *, secret: str, warm: str = "efficientnet_lite0",
                 timeout: float = 300.0) -> None:
        self.port = port
        self.addr = f"127.0.0.1:{port}"
        self.url = f"http://{self.addr}"
        self.log = Path(cache_dir) / "streamlit.log"
        cmd = [sys.executable, "-m", "app.cli.main", "serve", "--warm", warm,
               f"--server.port={port}", "--server.address=127.0.0.1", "--server.headless=true",
               "--server.fileWatcherType=none", "--server.runOnSave=false"]
        env = {**os.environ, "CNN_LENS_CACHE": str(cache_dir), "STREAMLIT_SERVER_COOKIE_SECRET": secret}
        self.started = time.perf_counter()
        with open(self.log, "wb") as fh:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, env=env)
        try:
            _wait_http(f"{self.url}/_stcore/health", self.proc, self.log, timeout)
        except RuntimeError:
            self.stop()
            raise
        self.healthy_after = time.perf_counter() - self.started

    def rss_mb(self, field_name: str = "VmRSS") -> float:
        """Resident set size (``VmRSS``) or its peak (``VmHWM``) of the server process, MB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(f"{field_name}:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no {field_name} for pid {self.proc.pid}")

    def crash(self) -> None:
        """SIGKILL the replica (a crashed pod / container: no goodbye to its websockets)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """Terminate (kill after 20 s)."""
        stop_process(self.proc, 20)


class Proxy:
    """nginx (non-daemon child) on ``127.0.0.1:port`` in front of ``replicas`` (IP:port)."""

    def __init__(self, port: int, replicas: list[str], workdir: str | Path, *, timeout: float = 20.0) -> None:
        binary = nginx_binary()
        if binary is None:
            raise RuntimeError("nginx is not installed (Debian: apt-get install nginx-light)")
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.access_log = self.dir / "access.log"
        self.error_log = self.dir / "error.log"
        self.conf = self.dir / "nginx.conf"
        self.conf.write_text(render(ProxySettings(
            # as root, workers stay root: "nobody" could not enter the private temp folder
            tuple(replicas), listen=f"127.0.0.1:{port}", user="root" if os.geteuid() == 0 else "",
            workers="1", pid=str(self.dir / "nginx.pid"),
            error_log=str(self.error_log), access_log=str(self.access_log), temp=str(self.dir))))
        self.url = f"http://127.0.0.1:{port}"
        self.error_log.touch()
        self.proc = subprocess.Popen([binary, "-p", str(self.dir), "-c", str(self.conf), "-g", "daemon off;"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            _wait_http(f"{self.url}/_stcore/health", self.proc, self.error_log, timeout)
        except RuntimeError:
            self.stop()
            raise

    def stop(self) -> None:
        """Fast shutdown (SIGTERM), kill after 10 s."""
        stop_process(self.proc, 10)


@dataclass
class Browser:
    """Cookies and the replica that answered last, like a browser tab behind the proxy."""

    client: str
    cookies: dict[str, str] = field(default_factory=dict)
    replica: str = ""  # "r0", "r1", … (the proxy's X-Lens-Replica header)

    def headers(self) -> dict[str, str]:
        """Cookie, the XSRF double-submit header (as Streamlit's frontend sends) and the client id."""
        out = {"X-Lens-Client": self.client}
        if self.cookies:
            out["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if "_streamlit_xsrf" in self.cookies:
            out["X-Xsrftoken"] = self.cookies["_streamlit_xsrf"]
        return out

    def get(self, base: str, path: str = "/", *, timeout: float = 30.0) -> int:
        """GET ``base + path``; keep the cookies it sets; returns the HTTP status."""
        req = urllib.request.Request(base + path, headers=self.headers())
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                self._keep(r.headers)
                return r.status
        except urllib.error.HTTPError as exc:
            self._keep(exc.headers)
            return exc.code

    def _keep(self, headers) -> None:
        for raw in headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            jar.load(raw)
            self.cookies.update({k: m.value for k, m in jar.items()})
        self.replica = headers.get("X-Lens-Replica", "") or self.replica


@dataclass(frozen=True)
class Hit:
    """One access-log line: when the request started, who sent it, which replica answered."""

    start: float
    client: str
    upstream: str  # the address that answered: the last one tried ("" when none)
    status: int
    request: str
    tried: tuple[str, ...] = ()  # every address tried, in order (a failover inside one request)


def read_access_log(path: Path) -> list[Hit]:
    """Parse the proxy's ``lens`` log format (``$msec $request_time client=… upstream="…" …``)."""
    hits = []
    for line in path.read_text().splitlines():
        parts = line.split(" ", 2)
        if len(parts) < 3:
            continue
        fields = dict(kv.split("=", 1) for kv in parts[2].split(" ") if "=" in kv and not kv.startswith('"'))
        upstream = parts[2].split('upstream="', 1)[1].split('"', 1)[0]
        addrs = (a.strip() for a in upstream.replace(" : ", ",").split(","))
        tried = tuple(a for a in addrs if a not in ("", "-"))
        hits.append(Hit(float(parts[0]) - float(parts[1]), fields.get("client", "-"),
                        tried[-1] if tried else "", int(fields.get("status", 0)),
                        parts[2].rsplit('"', 2)[-2], tried))
    return hits


def affinity_breaks(log: Path, names: dict[str, str], killed_at: float) -> tuple[int, list[str]]:
    """Browsers whose requests changed replica other than once, r0 → r1, because r0 crashed.

    A request answered by r1 for a browser pinned to r0 must have started after the crash, or have
    tried r0 first (nginx retries a request that was in flight on r0 when it died)."""
    seqs: dict[str, list[tuple[float, str, bool]]] = {}
    for hit in read_access_log(log):
        if hit.client != "-" and hit.upstream not in ("", "-"):
            failover = len(hit.tried) > 1 and names.get(hit.tried[0]) == "r0"
            served = names.get(hit.upstream, hit.upstream)
            seqs.setdefault(hit.client, []).append((hit.start, served, failover))
    bad = []
    for client, seq in sorted(seqs.items()):
        seq.sort()
        served = [r for _, r, _ in seq]
        in_order = served == sorted(served) and set(served) <= {"r0", "r1"}  # r0… then r1…
        early = "r0" in served and any(r == "r1" and t < killed_at and not fo for t, r, fo in seq)
        if not in_order or early:
            bad.append(f"{client}: {' '.join(served)}")
    return len(bad), bad


def keep_logs(paths: list[Path]) -> None:
    """Copy the replicas' and the proxy's logs to test-artifacts/cluster/ (for a failed run)."""
    out = ROOT / "test-artifacts" / "cluster"
    out.mkdir(parents=True, exist_ok=True)
    for p in paths:
        if p.exists():
            shutil.copyfile(p, out / f"{p.parent.name}-{p.name}")


def warmed_before_listening(log: str) -> bool:
    """``cnn-lens serve`` logged "warmed <model>" before the server's first "started"/URL line."""
    warmed = log.find("cnn-lens serve: warmed ")
    listening = min((i for i in (log.find("server started"), log.find("You can now view")) if i >= 0),
                    default=-1)
    return 0 <= warmed < listening
