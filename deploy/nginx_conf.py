"""Render ``deploy/nginx.conf.template`` for a list of Streamlit replicas (the ONE proxy template).

Used by docker compose (``deploy/nginx.compose.conf``, rendered from the app services of
``deploy/compose.yaml``) and by the tests / ``bench/cluster.py`` (loopback replicas, temp paths)::

    python deploy/nginx_conf.py --from-compose deploy/compose.yaml > deploy/nginx.compose.conf
    python deploy/nginx_conf.py --replica 127.0.0.1:8601 --replica 127.0.0.1:8602 --listen 127.0.0.1:8600

Replicas must be IP:port literals: the proxy recognises the replica that answered by
``$upstream_addr``, which is always an address, never a host name.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from dataclasses import dataclass
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent / "nginx.conf.template"
COOKIE = "lens_route"
APP_ROLE_LABEL = "cnn-lens.role"  # compose services with this label = "app" are replicas


@dataclass(frozen=True)
class ProxySettings:
    """Everything the template needs; the defaults suit the official nginx image."""

    replicas: tuple[str, ...]  # "IP:port", one per replica, in route order r0, r1, …
    listen: str = "80"
    user: str = "nginx"  # workers' user ("" = leave it: nginx not started as root)
    workers: str = "auto"
    pid: str = "/var/run/nginx.pid"
    error_log: str = "/dev/stderr"
    access_log: str = "/dev/stdout"
    temp: str = "/var/cache/nginx"
    fail_timeout_s: int = 10


def check_replica(addr: str) -> tuple[str, int]:
    """``"10.0.0.5:8501"`` -> (ip, port); a clear ``ValueError`` for anything else."""
    host, sep, port = addr.rpartition(":")
    try:
        ipaddress.ip_address(host.strip("[]"))
        number = int(port)
    except ValueError:
        raise ValueError(f"replica {addr!r}: use IP:port (e.g. 172.28.0.11:8501); the proxy pins "
                         "browsers by the address that answered, so host names cannot work") from None
    if not sep or not 0 < number < 65536:
        raise ValueError(f"replica {addr!r}: port must be 1-65535")
    return host, number


def _nginx_regex(addr: str) -> str:
    return addr.replace(".", r"\.").replace("[", r"\[").replace("]", r"\]")


def _blocks(s: ProxySettings) -> dict[str, str]:
    servers = list(s.replicas)
    fail = f"max_fails=1 fail_timeout={s.fail_timeout_s}s"
    up = ["    upstream lens_new {"] + [f"        server {a} {fail};" for a in servers] + ["    }"]
    for k, addr in enumerate(servers):
        up += [f"    upstream lens_r{k} {{", f"        server {addr} {fail};"]
        up += [f"        server {b} backup;" for b in servers if b != addr] + ["    }"]
    routes = [f"        r{k} lens_r{k};" for k in range(len(servers))]
    served = [f'        "~(^|[ ,]){_nginx_regex(a)}$" r{k};' for k, a in enumerate(servers)]
    return {"UPSTREAMS": "\n".join(up), "ROUTES": "\n".join(routes), "SERVED": "\n".join(served)}


def render(settings: ProxySettings) -> str:
    """The nginx.conf text for ``settings`` (``ValueError`` on bad replicas or a broken template)."""
    if not settings.replicas:
        raise ValueError("at least one replica is needed")
    if len(set(settings.replicas)) != len(settings.replicas):
        raise ValueError(f"duplicate replicas: {settings.replicas}")
    for addr in settings.replicas:
        check_replica(addr)
    user = f"user {settings.user};" if settings.user else "# user: as started (not root)"
    values = {"USER": user, "WORKERS": settings.workers, "PID": settings.pid, "ERROR_LOG": settings.error_log,
              "ACCESS_LOG": settings.access_log, "TEMP": settings.temp, "LISTEN": settings.listen,
              **_blocks(settings)}
    text = TEMPLATE.read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    if "{{" in text:
        raise ValueError(f"unfilled placeholder in {TEMPLATE.name}: {text[text.index('{{'):][:40]}")
    return text


def compose_replicas(compose_file: str | Path) -> tuple[str, ...]:
    """IP:port of every app replica of a compose file (services labelled ``cnn-lens.role: app``).

    Each needs a fixed ``ipv4_address`` on its network and ``--server.port`` in its command
    (default 8501).
    """
    import yaml

    doc = yaml.safe_load(Path(compose_file).read_text())
    out = []
    for name, svc in doc["services"].items():
        if (svc.get("labels") or {}).get(APP_ROLE_LABEL) != "app":
            continue
        nets = svc.get("networks") or {}
        ips = [n.get("ipv4_address") for n in nets.values() if isinstance(n, dict)]
        if not any(ips):
            raise ValueError(f"compose service {name!r}: give it a fixed ipv4_address")
        port = 8501
        for arg in svc.get("command") or []:
            if str(arg).startswith("--server.port="):
                port = int(str(arg).split("=", 1)[1])
        out.append(f"{next(ip for ip in ips if ip)}:{port}")
    return tuple(out)


def main(argv: list[str] | None = None) -> int:
    """CLI: print the rendered configuration."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--replica", action="append", default=[], help="IP:port (repeat)")
    p.add_argument("--from-compose", default=None, help="take the replicas from this compose file")
    p.add_argument("--listen", default="80")
    p.add_argument("--workers", default="auto")
    args = p.parse_args(argv)
    replicas = tuple(args.replica)
    if args.from_compose:
        replicas += compose_replicas(args.from_compose)
    try:
        sys.stdout.write(render(ProxySettings(replicas, listen=args.listen, workers=args.workers)))
    except ValueError as exc:
        print(f"nginx_conf: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
