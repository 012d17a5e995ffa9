"""Two replicas (``cnn-lens serve``, one cookie secret) behind Debian's nginx rendered from the compose
template: sessions pinned by cookie, uploads through the proxy (XSRF on), results checked against the
same Grad-CAM computed alone, then one replica SIGKILLed mid-run (``bench/cluster.py`` does 30)."""

from __future__ import annotations

import pytest

from bench.cluster import run_cluster
from deploy.localcluster import affinity_breaks, nginx_binary, warmed_before_listening

pytestmark = pytest.mark.skipif(nginx_binary() is None,
                                reason="nginx not installed (make test installs nginx-light when root)")


def test_two_replicas_behind_nginx_keep_sessions_and_survive_a_crash():
    rep = run_cluster(8, newcomers_n=2, timeout=400)
    assert rep.problems == ()
    assert (rep.errors, rep.wrong, rep.affinity_breaks) == (0, 0, 0)
    assert rep.per_replica == {"r0": 4, "r1": 4}  # round robin for new browsers, then pinned
    assert rep.survivors_ok  # r1 undisturbed, r0's browsers reconnected to r1, newcomers on r1
    assert rep.warm_first  # the health endpoint opened only after the model was loaded
    assert len(rep.round1_s) == 8
    assert all(m > 200 for m in rep.rss_mb)  # torch + the warmed model are resident


def write_log(path, rows):
    path.write_text("".join(f"{start + rt:.3f} {rt:.3f} route=r0 client={c} upstream=\"{up}\" status=200 "
                            f"\"GET /\"\n" for start, rt, c, up in rows))


def test_affinity_oracle_counts_real_breaks(tmp_path):
    a, b = "127.0.0.1:1", "127.0.0.1:2"
    names = {a: "r0", b: "r1"}
    write_log(tmp_path / "ok.log", [(1, 0.1, "x", a), (2, 50, "x", a), (11, 0.1, "x", f"{a}, {b}"),
                                    (12, 0.1, "y", b), (13, 0.1, "-", a),
                                    (1, 0.1, "w", a), (9.9, 0.3, "w", f"{a}, {b}")])  # in flight at the crash
    assert affinity_breaks(tmp_path / "ok.log", names, killed_at=10) == (0, [])
    write_log(tmp_path / "bad.log", [(1, 0.1, "x", a), (2, 0.1, "x", b),  # moved before the crash
                                     (1, 0.1, "y", b), (3, 0.1, "y", a),  # r1 → r0
                                     (11, 0.1, "z", b), (12, 0.1, "z", a),  # back to the dead one
                                     (1, 0.1, "w", a), (9.9, 0.1, "w", b)])  # r1 without trying r0
    n, why = affinity_breaks(tmp_path / "bad.log", names, killed_at=10)
    assert n == 4 and [w.split(":")[0] for w in why] == ["w", "x", "y", "z"]


def test_warm_log_order():
    assert warmed_before_listening("cnn-lens serve: warmed x in 1 s\n… Uvicorn server started on …")
    assert not warmed_before_listening("Uvicorn server started on …\ncnn-lens serve: warmed x in 1 s")
    assert not warmed_before_listening("You can now view your Streamlit app")
