"""`vampy run --datalist --ray`: a 40-line datalist on a one-node Ray cluster, then on two (issue 16).

Both clusters live on this machine, on loopback (the head on 127.0.0.2, as tests/integration/
test_ray.py starts it), each node with --num-cpus=1, the model with one intra-op thread: on real
separate machines the second node doubles the compute; here the two nodes share this machine's
cores with the run's parent process (reading inputs, writing outputs), so the ratio shows the
overhead of the Ray path. The model is tests/models.py's slow_model (MatMuls, ~100 ms a sample on
one core): compute dominates, as with VDSR on full-size images. Throughput is vampy's own figure
(samples over the common window, setup and warm-up excluded).
Run: `.venv/bin/python -m pytest benchmarks/bench_cluster.py --benchmark-only -s` (about a minute).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ray", reason="Ray is not installed (pip install 'vampy[ray]')")

from tests.models import slow_model  # noqa: E402
from tests.support.ray_cluster import ENV, HEAD_IP, Cluster, datalist, free_port, vdsp  # noqa: E402

LINES = 40


def cluster_qps(cluster: Cluster, tmp: Path, model: Path, lines: Path, name: str) -> dict[str, Any]:
    report = tmp / f"{name}.json"
    proc = subprocess.run([sys.executable, "-m", "vampy", "run", "-m", str(model), "--vdsp_params", str(vdsp(tmp, 384)), "--threads", "1",
                           "--datalist", str(lines), "--path_output", str(tmp / name), "--json", str(report), "-q",
                           "--ray", cluster.address],
                          capture_output=True, text=True, timeout=600, env=ENV)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(report.read_text())
    return {"qps": data["throughput_qps"], "nodes": [(n["ip"], n["samples"]) for n in data["cluster"]["nodes"]]}


def test_one_node_vs_two(benchmark: Any, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    model = slow_model(tmp_path / "slow.onnx", ms=100, size=384)
    lines = datalist(tmp_path, LINES)
    cluster = Cluster(f"{HEAD_IP}:{free_port(HEAD_IP)}", tmp_path_factory.mktemp("ray"))  # short: Ray's socket paths
    figures: dict[str, Any] = {}

    def one_round() -> None:
        try:
            cluster.start_node(head=True)
            cluster.wait_nodes(1)
            figures["one"] = cluster_qps(cluster, tmp_path, model, lines, "one")
            cluster.start_node()
            cluster.wait_nodes(2)
            figures["two"] = cluster_qps(cluster, tmp_path, model, lines, "two")
        finally:
            cluster.stop()

    benchmark.pedantic(one_round, rounds=1, iterations=1)
    ratio = figures["two"]["qps"] / figures["one"]["qps"]
    benchmark.extra_info.update({"one_node_qps": figures["one"]["qps"], "two_nodes_qps": figures["two"]["qps"], "ratio": ratio})
    print(f"\none node: {figures['one']['qps']:.2f} samples/s {figures['one']['nodes']}; "
          f"two nodes: {figures['two']['qps']:.2f} samples/s {figures['two']['nodes']}; ratio {ratio:.2f}x")
    assert all(samples > 0 for _, samples in figures["two"]["nodes"])  # both nodes worked; the ratio is reported, not asserted
