"""deploy/: compose file (compose-spec schema + semantics), the ONE nginx template, Kubernetes manifests
(validated offline against the Kubernetes schemas), the image's warm-up entrypoint, the atlas Job."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import numpy as np
import pytest
import yaml

from app.cli import serve
from deploy.localcluster import nginx_binary
from deploy.nginx_conf import ProxySettings, compose_replicas, render

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
K8S_VERSION = "1.33.0"


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def compose() -> dict:
    return load(DEPLOY / "compose.yaml")


def app_services(compose: dict) -> dict[str, dict]:
    return {n: s for n, s in compose["services"].items() if s.get("labels", {}).get("cnn-lens.role") == "app"}


def env_example() -> dict[str, str]:
    lines = (DEPLOY / "cnn-lens.env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


# ── docker compose ───────────────────────────────────────────────────────────────────────────────
def test_compose_matches_the_compose_spec_schema(compose):
    from check_jsonschema.builtin_schemas import get_builtin_schema

    schema = get_builtin_schema("vendor.compose-spec")
    jsonschema.validate(compose, schema)
    bad = {**compose, "services": {**compose["services"], "proxy": {**compose["services"]["proxy"],
                                                                     "ports": "8080:80"}}}
    with pytest.raises(jsonschema.ValidationError):  # the schema really checks our keys
        jsonschema.validate(bad, schema)


def test_compose_replicas_share_secret_cache_health_and_warm_up(compose):
    apps = app_services(compose)
    assert len(apps) >= 2
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = json.loads(next(line for line in dockerfile.splitlines() if line.startswith("CMD "))[4:])
    assert cmd[:2] == ["cnn-lens", "serve"]  # the image warms its models before the port opens
    secret_env = "STREAMLIT_SERVER_COOKIE_SECRET"
    assert secret_env in env_example() and "CNN_LENS_WARM_MODELS" in env_example()
    for name, svc in apps.items():
        assert svc["command"] == cmd, name
        assert [e["path"] for e in svc["env_file"]] == ["cnn-lens.env"], name  # one secret for all
        assert secret_env not in (svc.get("environment") or {}), f"{name} overrides the shared secret"
        (cache,) = [v for v in svc["volumes"] if v["source"] == "lens-cache"]
        assert cache["read_only"] is True and cache["target"] == svc["environment"]["CNN_LENS_CACHE"]
        assert "/_stcore/health" in " ".join(svc["healthcheck"]["test"])
        assert svc["healthcheck"]["start_period"] == "180s"
    atlas = compose["services"]["atlas"]
    (cache,) = [v for v in atlas["volumes"] if v["source"] == "lens-cache"]
    assert cache["read_only"] is False and atlas["command"][:2] == ["cnn-lens", "atlas"]
    proxy = compose["services"]["proxy"]
    conditions = {n: d["condition"] for n, d in proxy["depends_on"].items()}
    assert conditions == dict.fromkeys(apps, "service_healthy")
    ips = [next(iter(s["networks"].values()))["ipv4_address"] for s in apps.values()]
    assert len(set(ips)) == len(ips)


def test_compose_proxy_config_is_rendered_from_the_template(compose):
    replicas = compose_replicas(DEPLOY / "compose.yaml")
    assert replicas == ("172.28.0.11:8501", "172.28.0.12:8501")
    committed = (DEPLOY / "nginx.compose.conf").read_text()
    assert committed == render(ProxySettings(replicas)), (
        "deploy/nginx.compose.conf is stale: python deploy/nginx_conf.py --from-compose "
        "deploy/compose.yaml > deploy/nginx.compose.conf")
    (mount,) = compose["services"]["proxy"]["volumes"]
    assert (DEPLOY / mount["source"]).resolve() == DEPLOY / "nginx.compose.conf"
    assert mount["target"] == "/etc/nginx/nginx.conf" and mount["read_only"] is True


def test_rendered_config_pins_by_cookie_and_upgrades_websockets():
    text = render(ProxySettings(("10.0.0.1:8501", "10.0.0.2:8501", "10.0.0.3:8501")))
    assert "{{" not in text
    for k, addr in enumerate(("10.0.0.1:8501", "10.0.0.2:8501", "10.0.0.3:8501")):
        block = text.split(f"upstream lens_r{k} {{")[1].split("}")[0]
        assert f"server {addr} max_fails" in block and block.count("backup") == 2
        assert f"r{k} lens_r{k};" in text
        assert f'"~(^|[ ,]){addr.replace(".", chr(92) + ".")}$" r{k};' in text
    for needle in ("proxy_set_header Upgrade $http_upgrade;",
                   "proxy_set_header Connection $connection_upgrade;", "proxy_read_timeout 86400s;",
                   "proxy_http_version 1.1;", "client_max_body_size 201m;",
                   "add_header Set-Cookie $lens_cookie always;"):
        assert needle in text


@pytest.mark.parametrize("replicas", [(), ("app1:8501",), ("10.0.0.1:8501", "10.0.0.1:8501"), ("10.0.0.1",)])
def test_renderer_refuses_what_cannot_work(replicas):
    with pytest.raises(ValueError):
        render(ProxySettings(replicas))


def test_rendered_compose_config_passes_nginx_syntax_check(tmp_path):
    binary = nginx_binary()
    if binary is None:
        pytest.skip("nginx not installed (make test installs Debian's nginx-light when root)")
    text = render(ProxySettings(compose_replicas(DEPLOY / "compose.yaml"), listen="127.0.0.1:18080",
                                user="", pid=str(tmp_path / "pid"), error_log=str(tmp_path / "err"),
                                access_log=str(tmp_path / "acc"), temp=str(tmp_path)))
    (tmp_path / "nginx.conf").write_text(text)
    out = subprocess.run([binary, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    (tmp_path / "nginx.conf").write_text(text.replace("proxy_pass", "proxy_passs"))
    out = subprocess.run([binary, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0  # the check really parses the file


# ── Kubernetes ───────────────────────────────────────────────────────────────────────────────────
def k8s_docs() -> dict[str, dict]:
    """Every manifest in deploy/k8s (not the kustomization) by kind."""
    out = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            doc = load(path)
            out[doc["kind"]] = doc
    return out


def test_k8s_manifests_validate_against_the_kubernetes_schemas():
    docs = k8s_docs()
    assert set(docs) == {"Namespace", "PersistentVolumeClaim", "Deployment", "Service", "Ingress",
                         "HorizontalPodAutoscaler", "PodDisruptionBudget", "Job", "Secret"}
    for doc in docs.values():
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)  # raises on any error
    broken = json.loads(json.dumps(docs["Deployment"]))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["pathh"] = "/"
    with pytest.raises(kubernetes_validate.ValidationError):  # strict: unknown keys are errors
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_kustomization_lists_every_manifest_and_the_secret_generator():
    kust = load(K8S / "kustomization.yaml")
    listed = set(kust["resources"])
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "atlas-job.yaml",
                                                       "secret.example.yaml"}
    assert listed == present
    (gen,) = kust["secretGenerator"]
    assert gen["name"] == load(K8S / "secret.example.yaml")["metadata"]["name"]


def test_deployment_probes_warm_up_secret_and_cache():
    docs = k8s_docs()
    pod = docs["Deployment"]["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/_stcore/health", "port": "http"}
    assert c["startupProbe"]["periodSeconds"] * c["startupProbe"]["failureThreshold"] >= 180
    assert c["command"][:2] == ["cnn-lens", "serve"]
    env = {e["name"]: e for e in c["env"]}
    ref = env["STREAMLIT_SERVER_COOKIE_SECRET"]["valueFrom"]["secretKeyRef"]
    secret = docs["Secret"]
    assert ref["name"] == secret["metadata"]["name"] and ref["key"] in secret["stringData"]
    (mount,) = c["volumeMounts"]
    assert mount["readOnly"] is True and mount["mountPath"] == env["CNN_LENS_CACHE"]["value"]
    (vol,) = pod["volumes"]
    assert vol["persistentVolumeClaim"] == {"claimName": docs["PersistentVolumeClaim"]["metadata"]["name"],
                                            "readOnly": True}
    assert docs["PersistentVolumeClaim"]["spec"]["accessModes"] == ["ReadWriteMany"]
    req, lim = c["resources"]["requests"], c["resources"]["limits"]
    assert int(req["memory"].removesuffix("Mi")) >= 2000  # measured RSS per replica (1.9 GB), see README
    assert int(lim["memory"].removesuffix("Mi")) > int(req["memory"].removesuffix("Mi"))
    hpa = docs["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == docs["Deployment"]["metadata"]["name"]
    assert hpa["metrics"][0]["resource"]["name"] == "cpu" and hpa["minReplicas"] >= 2
    svc = docs["Service"]["spec"]
    assert svc["selector"] == docs["Deployment"]["spec"]["selector"]["matchLabels"]


def test_ingress_has_cookie_affinity_and_websocket_timeouts():
    ing = k8s_docs()["Ingress"]
    a = ing["metadata"]["annotations"]
    p = "nginx.ingress.kubernetes.io/"
    assert a[p + "affinity"] == "cookie" and a[p + "affinity-mode"] == "persistent"
    assert a[p + "session-cookie-change-on-failure"] == "true"
    assert int(a[p + "proxy-read-timeout"]) >= 3600 and int(a[p + "proxy-send-timeout"]) >= 3600
    assert a[p + "proxy-body-size"] == "201m"  # model files up to 200 MB
    assert ing["spec"]["ingressClassName"] == "nginx"
    backend = ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == k8s_docs()["Service"]["metadata"]["name"]


# ── warm-up entrypoint ───────────────────────────────────────────────────────────────────────────
def test_warm_names(monkeypatch):
    monkeypatch.delenv(serve.WARM_ENV, raising=False)
    assert serve.warm_names(None) == ["efficientnet_lite0"]
    monkeypatch.setenv(serve.WARM_ENV, "none")
    assert serve.warm_names(None) == []
    assert serve.warm_names(" efficientnet_lite0 , resnet18") == ["efficientnet_lite0", "resnet18"]
    with pytest.raises(ValueError, match="Known models"):
        serve.warm_names("efficientnet_lite0,nosuchnet")


def test_serve_refuses_an_unknown_model_before_starting():
    out = subprocess.run([sys.executable, "-m", "app.cli.main", "serve", "--warm", "nosuchnet"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "Unknown model 'nosuchnet'" in out.stderr


def test_warm_loads_into_the_servers_shared_model_cache(lite0):
    from app.shell import resources

    resources._model.clear()
    try:
        ((name, seconds),) = serve.warm(["efficientnet_lite0"])
        assert name == "efficientnet_lite0" and seconds > 0
        hits = []
        orig = resources.load_model
        resources.load_model = lambda *a, **k: hits.append(a) or orig(*a, **k)
        try:
            assert resources._model("efficientnet_lite0", True) is resources.warm("efficientnet_lite0")
        finally:
            resources.load_model = orig
        assert hits == []  # a page's first call is a cache hit: nothing is loaded again
    finally:
        resources._model.clear()


# ── the atlas as an Indexed Job ──────────────────────────────────────────────────────────────────
def arrays(root: Path) -> dict[str, dict[str, np.ndarray]]:
    out = {}
    for p in sorted(root.rglob("*.npz")):
        with np.load(p) as z:
            out[str(p.relative_to(root))] = {k: z[k] for k in z.files}
    return out


def test_indexed_atlas_job_writes_what_one_cli_run_writes(tmp_path):
    job = k8s_docs()["Job"]
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed" and spec["parallelism"] == spec["completions"]
    (c,) = spec["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["ATLAS_SHARDS"] == str(spec["completions"])
    assert c["image"] == "{newName}:{newTag}".format(**load(K8S / "kustomization.yaml")["images"][0])
    small = " --steps 2 --size 32 --batch 4 --threads 1"  # argparse: the last value wins
    bin_dir = str(Path(sys.executable).parent)
    for index in range(2):  # the Job's own shell command, as pod i of a 2-completion Job runs it
        run_env = {**os.environ, **env, "ATLAS_SHARDS": "2", "ATLAS_CHANNELS": "0-4",
                   "JOB_COMPLETION_INDEX": str(index), "CNN_LENS_CACHE": str(tmp_path / "job"),
                   "PATH": bin_dir + os.pathsep + os.environ["PATH"]}
        out = subprocess.run([*c["command"][:-1], c["command"][-1] + small], env=run_env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        assert f"{3 - index} channels" in out.stdout  # shard 1/2 = 0,2,4; shard 2/2 = 1,3
    local = [sys.executable, "-m", "app.cli.main", "atlas", "--model", env["ATLAS_MODEL"], "--layer",
             env["ATLAS_LAYER"], "--channels", "0-4", "--cache", str(tmp_path / "cli"), *shlex.split(small)]
    out = subprocess.run(local, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    job_files, cli_files = arrays(tmp_path / "job"), arrays(tmp_path / "cli")
    assert len(cli_files) == 5 and sorted(job_files) == sorted(cli_files)
    for name, want in cli_files.items():
        for key, value in want.items():
            np.testing.assert_allclose(job_files[name][key].astype(np.float64), value.astype(np.float64),
                                       atol=2, err_msg=f"{name}:{key}")
