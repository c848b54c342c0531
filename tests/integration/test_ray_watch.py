"""`vampy run --datalist --ray --timeout`: the hung-request watchdog and the per-node CPU and memory on a
real two-node Ray cluster on loopback (tests/support/ray_cluster.py's `cluster` fixture: its own cluster for
this module, every process it starts ended by its pid at teardown).

The hang is real: `stalling_model` runs an ONNX Loop whose trip count comes from the input, zero for
ordinary images and about 10^9 MatMuls (hours) for an all-white one, so that one datalist line hangs
its worker and the others are quick.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from tests.models import make_model, save
from tests.support import ray_cluster
from tests.support.ray_cluster import HEAD_IP, START_WAIT_S, Cluster, cmdline, datalist, vampy, vdsp
from vampy.execution.pool import timeout_bound_ns
from vampy.execution.ray_watch import cluster_summary, node_figures

# the two-node loopback cluster; a module-scoped fixture, so this module starts its own
cluster = ray_cluster.cluster
TIMEOUT_S = 3  # --timeout here; the white image's request would take hours


def stalling_model(path: Path, size: int = 64) -> Path:
    """float32 `input` (N, 1, H, W) -> `output` = 2 x input, and `loop` (1, size): a vector after
    round(1e10 x max(0, min(input) - 0.9)) MatMuls with an orthogonal matrix, in an ONNX Loop."""
    q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((size, size)))
    state = [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, [1, size]) for n in ("state_in", "state_out")]
    body = helper.make_graph(
        [helper.make_node("MatMul", ["state_in", "w"], ["product"], name="loop_matmul"),
         helper.make_node("Identity", ["cond_in"], ["cond_out"], name="loop_cond"),
         helper.make_node("Identity", ["product"], ["state_out"], name="loop_state")],
        "loop_body",
        [helper.make_tensor_value_info("iter", onnx.TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", onnx.TensorProto.BOOL, []), state[0]],
        [helper.make_tensor_value_info("cond_out", onnx.TensorProto.BOOL, []), state[1]],
    )
    nodes = [
        helper.make_node("ReduceMin", ["input"], ["darkest"], keepdims=0, name="darkest"),
        helper.make_node("Sub", ["darkest", "threshold"], ["over"], name="over"),
        helper.make_node("Relu", ["over"], ["excess"], name="excess"),
        helper.make_node("Mul", ["excess", "scale"], ["trips_f"], name="trips_f"),
        helper.make_node("Cast", ["trips_f"], ["trips"], to=onnx.TensorProto.INT64, name="trips"),
        helper.make_node("Loop", ["trips", "keep_going", "state0"], ["loop"], name="loop", body=body),
        helper.make_node("Mul", ["input", "two"], ["output"], name="double"),
    ]
    graph = helper.make_graph(
        nodes, "stalling_model",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["batch", 1, "height", "width"])],
        [helper.make_tensor_value_info("output", onnx.TensorProto.FLOAT, ["batch", 1, "height", "width"]),
         helper.make_tensor_value_info("loop", onnx.TensorProto.FLOAT, [1, size])],
        initializer=[numpy_helper.from_array(np.array(0.9, np.float32), "threshold"),
                     numpy_helper.from_array(np.array(1e10, np.float32), "scale"),
                     numpy_helper.from_array(np.array(True), "keep_going"),
                     numpy_helper.from_array(np.ones((1, size), np.float32), "state0"),
                     numpy_helper.from_array(q.astype(np.float32), "w"), numpy_helper.from_array(np.array(2.0, np.float32), "two")],
    )
    return save(make_model(graph), path)


def with_white_line(lines: Path, index: int) -> tuple[Path, str]:
    """The datalist with an all-white image inserted at `index` (the line that hangs): (its path, the image's)."""
    white = lines.parent / "in" / "white.npz"
    np.savez(white, input_0=np.full((3, 16, 16), 255, np.uint8))
    entries = lines.read_text().split()
    entries.insert(index, str(white))
    path = lines.parent / "with_white.txt"
    path.write_text("\n".join(entries) + "\n")
    return path, str(white)


def all_outputs(folder: Path) -> dict[str, dict[str, np.ndarray]]:
    out = {}
    for p in sorted(folder.glob("output_*.npz")):
        with np.load(p, allow_pickle=False) as z:
            out[p.name] = {k: z[k] for k in z.files}
    return out


def wait_for_no_shard_worker(cluster: Cluster) -> None:
    """ray.kill ended the hung worker (and the run's end the others): no ShardWorker process lingers."""
    deadline = time.monotonic() + START_WAIT_S
    while any("ShardWorker" in cmdline(pid) for pid in cluster.pids()):
        assert time.monotonic() < deadline, "a ShardWorker outlived the run"
        time.sleep(0.2)


@pytest.mark.slow
def test_a_hung_request_fails_its_worker_and_the_others_finish(cluster: Cluster, tmp_path: Path) -> None:
    model, spec = stalling_model(tmp_path / "stall.onnx"), vdsp(tmp_path, 16)
    plain = datalist(tmp_path, 30)
    hanging, white = with_white_line(plain, 7)
    common = ["-m", str(model), "--vdsp_params", str(spec), "--threads", "1", "-q"]
    # The reference: a local run of the same lines with an ordinary image where the white one is.
    ordinary = tmp_path / "ordinary.txt"
    ordinary.write_text(hanging.read_text().replace(white, plain.read_text().split()[0]))
    local = vampy("run", *common, "--datalist", str(ordinary), "--path_output", str(tmp_path / "local"))
    assert local.returncode == 0, local.stderr
    proc = vampy("run", *common, "--datalist", str(hanging), "--path_output", str(tmp_path / "ray"), "--json", str(tmp_path / "r.json"),
                 "--timeout", str(TIMEOUT_S), "--ray", cluster.address)
    assert proc.returncode == 5, proc.stderr  # a failed worker with partial results, as the local pool exits
    assert f"--timeout {TIMEOUT_S} s; raise it, or 0 turns the watchdog off" in proc.stderr and "Traceback" not in proc.stderr
    got, want = all_outputs(tmp_path / "ray"), all_outputs(tmp_path / "local")
    assert sorted(got) == [f"output_{i:06d}.npz" for i in range(31) if i != 7]
    for name, arrays in got.items():
        assert sorted(arrays) == ["output_0", "output_1"]
        for key in arrays:
            np.testing.assert_array_equal(arrays[key], want[name][key])
    # The hung line is a failure at once, with the reason; it is not re-run on the other node.
    failures = json.loads((tmp_path / "ray" / "failures.json").read_text())["failures"]
    assert [(f["index"], f["path"]) for f in failures] == [(7, white)]
    assert failures[0]["reason"].startswith("request still running after ")
    assert f"(--timeout {TIMEOUT_S} s; raise it, or 0 turns the watchdog off)" in failures[0]["reason"]
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["complete"] is False and report["datalist"]["written"] == 30 and report["samples"] == 30
    (failed,) = report["failed_workers"]
    assert failed["reason"].startswith("request on instance 0 still running after ") and f"--timeout {TIMEOUT_S} s" in failed["reason"]
    assert report["cluster"]["lost"] == []  # ended by the watchdog, not lost with its node
    assert not any("does not run on a cluster" in n for n in report["notes"])
    # CPU and memory, read on each node: vampy's workers there, never zero on a node that ran one.
    nodes = report["cluster"]["nodes"]
    assert {n["ip"] for n in nodes} == {"127.0.0.1", HEAD_IP}
    for node in nodes:
        assert node["cpu_percent"] > 0 and node["rss_peak_mb"] > 0 and node["rss_mean_mb"] > 0 and node["logical_cores"] >= 1, node
    resources = report["resources"]
    assert resources["cpu_percent_of_machine"] > 0 and resources["samples"] > 0
    assert resources["rss_peak_mb"] >= max(n["rss_peak_mb"] for n in nodes)
    assert resources["logical_cores"] == sum(n["logical_cores"] for n in nodes)
    assert "cluster: " in proc.stdout and "% of " in proc.stdout  # the node lines carry their CPU and memory
    wait_for_no_shard_worker(cluster)


@pytest.mark.slow
def test_the_watchdog_answers_through_ray_client_too(cluster: Cluster, tmp_path: Path) -> None:
    """A ray:// client's cluster-side server imports ShardWorker anew: the watch group must come with the class,
    or watch() would queue behind the hung shard and the run would never end."""
    model, spec = stalling_model(tmp_path / "stall.onnx"), vdsp(tmp_path, 16)
    # Not line 0: a datalist run warms up on its first sample (issue 21), and the watchdog starts after the warm-up.
    hanging, white = with_white_line(datalist(tmp_path, 4), 1)
    args = ["run", "-m", str(model), "--vdsp_params", str(spec), "--threads", "1", "-q", "--datalist", str(hanging),
            "--path_output", str(tmp_path / "ray"), "--timeout", str(TIMEOUT_S), "--ray", f"ray://{HEAD_IP}:{cluster.client_port}"]
    proc = vampy(*args)  # Ray Client's "Initialization failure from server" is retried by vampy itself (ray_executor.connect)
    assert proc.returncode == 5, proc.stderr
    assert sorted(p.name for p in (tmp_path / "ray").glob("output_*.npz")) == [f"output_{i:06d}.npz" for i in (0, 2, 3, 4)]
    failures = json.loads((tmp_path / "ray" / "failures.json").read_text())["failures"]
    assert [(f["index"], f["path"]) for f in failures] == [(1, white)]
    wait_for_no_shard_worker(cluster)


def test_the_bound_is_the_local_pools() -> None:
    assert timeout_bound_ns(2.5, 10**9) == 2_500_000_000
    assert timeout_bound_ns(0, 10**9) is None  # --timeout 0: off
    assert timeout_bound_ns(None, 10**6) == 60 * 10**9  # automatic: never under a minute
    assert timeout_bound_ns(None, 5 * 10**9) == 100 * 10**9  # 20 x the slowest warm-up request


def _reading(now_s: float, cpu_s: float, rss_mb: int, cores: int = 4) -> dict:
    return {"now_ns": int(now_s * 1e9), "cpu_s": cpu_s, "rss_bytes": rss_mb * 2**20, "cores": cores, "age_ns": 0, "instance": -1,
            "line": None}


def test_node_and_cluster_figures_from_readings() -> None:
    # Node a: workers 0 and 1 (its clock near 100 s); node b: worker 2 (its clock near 5000 s, never compared with a's).
    readings = {
        0: [(1, _reading(100, 1.0, 100)), (2, _reading(101, 2.0, 120)), (3, _reading(102, 3.0, 110))],
        1: [(1, _reading(100, 0.5, 50)), (2, _reading(101, 1.5, 60))],  # lost after tick 2
        2: [(1, _reading(5000, 10.0, 200, cores=2)), (3, _reading(5002, 11.0, 300, cores=2))],  # missed tick 2
    }
    a = node_figures(readings, [0, 1])
    # 2 + 1 CPU seconds over 2 s on 4 cores; RSS summed per tick: 150, 180, 110 MB
    assert a["cpu_percent"] == pytest.approx(37.5) and a["rss_peak_mb"] == pytest.approx(180) and a["rss_mean_mb"] == pytest.approx(440 / 3)
    assert a["logical_cores"] == 4
    b = node_figures(readings, [2])
    assert b["cpu_percent"] == pytest.approx(25.0) and b["rss_peak_mb"] == pytest.approx(300)
    assert node_figures(readings, [9])["cpu_percent"] == 0.0  # a worker that never answered
    total = cluster_summary(readings, {"a": [0, 1], "b": [2]}, fallback_cores=2).to_dict()
    assert total["logical_cores"] == 6 and total["samples"] == 3
    assert total["cpu_percent_of_machine"] == pytest.approx(100 * 4.0 / (2 * 4 + 2 * 2))  # CPU s over the nodes' core-seconds
    assert total["cpu_percent_peak"] == pytest.approx(100 * (1.0 + 1.0) / 6)  # tick 2: workers 0 and 1 at 1 CPU s/s each
    # worker 2 missed tick 2 (late): its tick-1 reading stands there; worker 1, lost after tick 2, adds nothing to tick 3
    assert total["rss_peak_mb"] == pytest.approx(410) and total["rss_mean_mb"] == pytest.approx((350 + 380 + 410) / 3)
    assert cluster_summary({}, {}, fallback_cores=3).to_dict()["logical_cores"] == 3  # nothing read: zeros

