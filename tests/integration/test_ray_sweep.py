"""`vampy sweep --ray`: each point alone on one node of a real two-node loopback Ray cluster (issue 16).

The cluster is tests/support/ray_cluster.py's (head on 127.0.0.2, a second node registering as 127.0.0.1, one CPU
each, every process stopped by its pid at the end). Both nodes are this one machine, so the
points' figures say nothing about speed here; the tests check where and when points ran, from the
timestamps each node stamped on its own clock.
"""
from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

pytest.importorskip("ray", reason="Ray is not installed (pip install 'vampy[ray]')")

from tests.models import conv_model, slow_model  # noqa: E402
from tests.support import ray_cluster  # noqa: E402
from tests.support.processes import interruptible  # noqa: E402
from tests.support.ray_cluster import ENV, HEAD_IP, START_WAIT_S, Cluster, assert_loopback_only, free_port, vampy  # noqa: E402

# the two-node loopback cluster; a module-scoped fixture, so this module starts its own
cluster = ray_cluster.cluster


def assert_one_point_at_a_time_per_node(points: list[dict]) -> None:
    by_node: dict[str, list[tuple[int, int]]] = {}
    for p in points:
        assert 0 < p["node_started_ns"] < p["node_ended_ns"], p
        by_node.setdefault(p["node_id"], []).append((p["node_started_ns"], p["node_ended_ns"]))
    for spans in by_node.values():
        spans.sort()
        assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:])), spans


@pytest.mark.slow
def test_grid_points_spread_over_both_nodes_one_at_a_time_each(cluster: Cluster, tmp_path: Path) -> None:
    model = conv_model(tmp_path / "m.onnx", in_ch=1, dynamic=True)
    table, report = tmp_path / "s.csv", tmp_path / "s.json"
    proc = vampy("sweep", "-m", str(model), "-s", "[1,16,16]", "-i", "1,2", "-p", "1", "-b", "1,2", "--threads", "1",
                 "--point_iterations", "20", "--csv", str(table), "--json", str(report), "--ray", cluster.address)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(table.open()))
    assert len(rows) == 4 and {r["node"] for r in rows} == {"127.0.0.1", HEAD_IP}
    assert all(r["node_kind"] and "logical cores" in r["node_kind"] and r["error"] == "" for r in rows)
    assert [(r["instances"], r["batch"]) for r in rows] == [("1", "1"), ("1", "2"), ("2", "1"), ("2", "2")]  # grid order
    data = json.loads(report.read_text())
    assert data["ray_address"] == cluster.address and len(data["node_kinds"]) == 1  # both nodes are this machine
    points = data["points"]
    assert all(p["samples"] == 20 for p in points)  # each a real short run of 20 samples, as a local sweep's point
    assert_one_point_at_a_time_per_node(points)
    win = data["winner"]
    assert win is not None and win["node"] in ("127.0.0.1", HEAD_IP)
    assert f"on node {win['node']}" in proc.stdout and data["winners_by_node_kind"][0]["winner"] == win
    assert_loopback_only(cluster.pids())


@pytest.mark.slow
def test_auto_climbs_on_one_kind_of_node(cluster: Cluster, tmp_path: Path) -> None:
    model = conv_model(tmp_path / "m.onnx", in_ch=1, dynamic=True)
    proc = vampy("sweep", "-m", str(model), "-s", "[1,16,16]", "-i", "1,2", "-p", "1", "-b", "1", "--threads", "1", "--search", "auto",
                 "--point_iterations", "20", "--json", str(tmp_path / "s.json"), "--ray", cluster.address, "-q")
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / "s.json").read_text())
    assert data["mode"] == "auto" and data["log"][0].startswith("auto on a cluster: the climb is sequential")
    assert len(data["points"]) >= 2 and all(p["node"] and p["error"] is None for p in data["points"])
    assert data["winner"]["node"]


def running_point(cluster: Cluster, starter: subprocess.Popen[bytes]) -> bool:
    """A point runs on that node: its local pool's spawned worker is among the node's processes."""
    for pid in cluster.pids(starter):
        try:
            if "multiprocessing" in " ".join(psutil.Process(pid).cmdline()):
                return True
        except psutil.NoSuchProcess:
            pass
    return False


@pytest.mark.slow
def test_a_node_lost_mid_point_runs_it_again_on_another_node(cluster: Cluster, tmp_path: Path) -> None:
    with cluster.extra_node() as third:  # the one that dies
        model = slow_model(tmp_path / "slow.onnx", ms=20, size=256)
        report = tmp_path / "s.json"
        proc = subprocess.Popen([sys.executable, "-m", "vampy", "sweep", "-m", str(model), "-i", "1,2,3", "-p", "1", "-b", "1",
                                 "--threads", "1", "--point_iterations", "60", "--json", str(report), "--ray", cluster.address, "-q"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
        deadline = time.monotonic() + START_WAIT_S
        while not running_point(cluster, third):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no point reached the third node"
            time.sleep(0.05)
        cluster.kill(third)
        _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    data = json.loads(report.read_text())
    assert len(data["points"]) == 3 and all(p["error"] is None and p["samples"] == 60 for p in data["points"])
    lost = [line for line in data["log"] if " lost during " in line]
    assert len(lost) == 1, data["log"]
    assert len({p["node_id"] for p in data["points"]}) <= 2  # the lost node's point finished elsewhere
    assert_one_point_at_a_time_per_node(data["points"])


@pytest.mark.slow
def test_ctrl_c_cancels_the_points_and_keeps_the_finished_ones(cluster: Cluster, tmp_path: Path) -> None:
    model = slow_model(tmp_path / "slow.onnx", ms=20, size=256)
    table = tmp_path / "s.csv"
    proc = subprocess.Popen([sys.executable, "-m", "vampy", "sweep", "-m", str(model), "-i", "1-8", "-p", "1", "-b", "1", "--threads", "1",
                             "--point_iterations", "40", "--csv", str(table), "--ray", cluster.address, "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, preexec_fn=interruptible)
    try:
        deadline = time.monotonic() + START_WAIT_S
        while not table.exists() or len(table.read_text().splitlines()) < 2:  # the header, then a finished point
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no point finished"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    rows = list(csv.DictReader(table.open()))
    assert 1 <= len(rows) < 8 and all(r["node"] and r["error"] == "" for r in rows)
    assert "finished point(s) kept" in stderr
    # The cancelled points' local pools stopped: no spawned worker outlives the sweep on the nodes.
    deadline = time.monotonic() + START_WAIT_S
    while running_point(cluster, cluster.starters[0]) or running_point(cluster, cluster.starters[1]):
        assert time.monotonic() < deadline, "a point's worker outlived the interrupted sweep"
        time.sleep(0.2)


def test_an_unreachable_cluster_is_one_line_before_any_point(tmp_path: Path) -> None:
    model = conv_model(tmp_path / "m.onnx", in_ch=1, dynamic=True)
    address = f"{HEAD_IP}:{free_port(HEAD_IP)}"  # nothing listens there
    proc = vampy("sweep", "-m", str(model), "-s", "[1,16,16]", "-i", "1", "-p", "1", "-b", "1", "--threads", "1",
                 "--point_iterations", "5", "--ray", address)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and address in proc.stderr and "Traceback" not in proc.stderr
    assert "[1/1]" not in proc.stderr  # no point started
