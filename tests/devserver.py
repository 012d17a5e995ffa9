"""A local ``streamlit run app/main.py`` for tests and benchmarks (loopback only).

``AppServer(port, cache_dir)`` starts the server and returns once ``/_stcore/health`` answers;
``stop()`` ends only the process it started.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from deploy.localcluster import stop_process

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for pid {pid}")


class AppServer:
    """``streamlit run app/main.py`` on 127.0.0.1:``port`` with its own cache folder and log."""

    def __init__(self, port: int, cache_dir: str | Path, *, timeout: float = 90.0,
                 env: dict[str, str] | None = None) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = Path(cache_dir) / "streamlit.log"
        cmd = [sys.executable, "-m", "app.cli.launch", "run", str(ROOT / "app" / "main.py"),
               "--server.port", str(port), "--server.address", "127.0.0.1",
               "--server.headless", "true", "--browser.gatherUsageStats", "false",
               "--server.enableXsrfProtection", "false", "--server.fileWatcherType", "none",
               "--server.runOnSave", "false"]
        env = {**os.environ, "CNN_LENS_CACHE": str(cache_dir), **(env or {})}
        self.started = time.perf_counter()
        with open(self.log, "wb") as fh:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"streamlit did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)
        self.healthy_after = time.perf_counter() - self.started

    def rss_mb(self) -> float:
        """Resident set size of the server process, MB."""
        return _status_kb(self.proc.pid, "VmRSS") / 1024

    def peak_rss_mb(self) -> float:
        """Peak resident set size of the server process so far, MB."""
        return _status_kb(self.proc.pid, "VmHWM") / 1024

    def stop(self) -> None:
        """Terminate the server (kill it if it does not stop within 20 s)."""
        stop_process(self.proc, 20)
