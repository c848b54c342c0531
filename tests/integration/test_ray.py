"""`vampy run --datalist --ray`: a real two-node Ray cluster on loopback (issue 16).

The cluster is tests/support/ray_cluster.py's (head on 127.0.0.2, a second node registering as
127.0.0.1, one CPU each, every process it starts ended by its pid at teardown, also when a test fails).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray", reason="Ray is not installed (pip install 'vampy[ray]')")

from tests.models import conv_model, slow_model  # noqa: E402
from tests.support import ray_cluster  # noqa: E402
from tests.support.processes import interruptible  # noqa: E402
from tests.support.ray_cluster import ENV, HEAD_IP, START_WAIT_S, Cluster, assert_loopback_only, cmdline, datalist, free_port, vampy, vdsp  # noqa: E402, E501
from vampy.config import RunConfig  # noqa: E402
from vampy.errors import UsageError  # noqa: E402

# the two-node loopback cluster; a module-scoped fixture, so this module starts its own
cluster = ray_cluster.cluster


def outputs(folder: Path) -> dict[str, np.ndarray]:
    return {p.name: np.load(p, allow_pickle=False)["output_0"] for p in sorted(folder.glob("output_*.npz"))}


@pytest.mark.slow
def test_outputs_equal_a_local_run_and_both_nodes_work(cluster: Cluster, tmp_path: Path) -> None:
    model, spec, lines = conv_model(tmp_path / "m.onnx", in_ch=1, dynamic=True), vdsp(tmp_path, 16), datalist(tmp_path, 12, bad=True)
    common = ["-m", str(model), "--vdsp_params", str(spec), "--threads", "1", "--datalist", str(lines), "-q"]
    local = vampy("run", *common, "--path_output", str(tmp_path / "local"))
    remote = vampy("run", *common, "--path_output", str(tmp_path / "ray"), "--json", str(tmp_path / "r.json"), "--ray", cluster.address)
    assert local.returncode == remote.returncode == 6, remote.stderr  # the bad line, as locally: every good output written
    got, want = outputs(tmp_path / "ray"), outputs(tmp_path / "local")
    assert sorted(got) == sorted(want) == [f"output_{i:06d}.npz" for i in range(13) if i != 3]
    for name in want:
        np.testing.assert_array_equal(got[name], want[name])
    assert json.loads((tmp_path / "ray" / "failures.json").read_text()) == json.loads((tmp_path / "local" / "failures.json").read_text())
    report = json.loads((tmp_path / "r.json").read_text())
    nodes = {n["ip"]: n for n in report["cluster"]["nodes"]}
    assert report["cluster"]["address"] == cluster.address and set(nodes) == {"127.0.0.1", HEAD_IP}
    assert all(n["samples"] > 0 and n["throughput_qps"] > 0 for n in nodes.values())
    assert sum(n["samples"] for n in nodes.values()) == report["samples"] == 12 and report["cluster"]["lost"] == []
    assert not list((tmp_path / "ray").glob(".*.tmp"))
    assert_loopback_only(cluster.pids())
    # --resume: only the missing outputs are run again, on the cluster (through Ray Client this
    # time, the ray://HOST:PORT form), named as before and equal to the local ones.
    for name in ("output_000001.npz", "output_000007.npz"):
        (tmp_path / "ray" / name).unlink()
    again = vampy("run", *common, "--path_output", str(tmp_path / "ray"), "--json", str(tmp_path / "r2.json"),
                  "--ray", f"ray://{HEAD_IP}:{cluster.client_port}", "--resume")
    assert again.returncode == 6, again.stderr
    summary = json.loads((tmp_path / "r2.json").read_text())["datalist"]
    assert summary["skipped"] == 10 and summary["written"] == 2  # 12 good lines, 2 outputs removed
    got = outputs(tmp_path / "ray")
    assert sorted(got) == sorted(want)
    for name in ("output_000001.npz", "output_000007.npz"):
        np.testing.assert_array_equal(got[name], want[name])


def slow_run(cluster: Cluster, tmp_path: Path, n: int) -> tuple[subprocess.Popen[str], Path, Path]:
    model = slow_model(tmp_path / "slow.onnx", ms=40, size=384)
    out, report = tmp_path / "out", tmp_path / "r.json"
    proc = subprocess.Popen([sys.executable, "-m", "vampy", "run", "-m", str(model), "--vdsp_params", str(vdsp(tmp_path, 384)),
                             "--threads", "1", "--datalist", str(datalist(tmp_path, n)), "--path_output", str(out),
                             "--json", str(report), "-q", "--ray", cluster.address],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, preexec_fn=interruptible)
    return proc, out, report


def wait_for_outputs(proc: subprocess.Popen[str], out: Path, count: int) -> None:
    deadline = time.monotonic() + START_WAIT_S
    while len(list(out.glob("output_*.npz"))) < count:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no outputs appeared"
        time.sleep(0.05)


@pytest.mark.slow
def test_a_node_lost_mid_run_loses_nothing(cluster: Cluster, tmp_path: Path) -> None:
    with cluster.extra_node() as third:  # the one that dies
        proc, out, report_path = slow_run(cluster, tmp_path, 60)
        wait_for_outputs(proc, out, 3)
        cluster.kill(third)
        _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    names = sorted(p.name for p in out.glob("output_*.npz"))
    assert names == [f"output_{i:06d}.npz" for i in range(60)]
    assert all(np.load(out / n, allow_pickle=False)["output_0"].shape == (1, 1, 384, 384) for n in names)
    report = json.loads(report_path.read_text())
    assert report["complete"] and report["datalist"]["written"] == 60 and report["samples"] == 60
    lost = report["cluster"]["lost"]
    assert len(lost) == 1 and lost[0]["node"] not in ("",), lost
    # Every node but the head registers as 127.0.0.1 here, so nodes are told apart by their id.
    assert [n["node_id"] for n in report["cluster"]["nodes"] if n["lost"]] == [lost[0]["node_id"]]
    assert sum(n["samples"] for n in report["cluster"]["nodes"]) == 60
    assert any("lost node" in note for note in report["notes"])


@pytest.mark.slow
def test_ctrl_c_cancels_the_cluster_work_and_keeps_the_outputs(cluster: Cluster, tmp_path: Path) -> None:
    proc, out, _ = slow_run(cluster, tmp_path, 200)
    try:
        wait_for_outputs(proc, out, 2)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    written = sorted(out.glob("output_*.npz"))
    assert 2 <= len(written) < 200 and not list(out.glob(".*.tmp"))
    assert all(np.load(p, allow_pickle=False)["output_0"].shape == (1, 1, 384, 384) for p in written)
    # The actors were ended (ray.kill), not left computing: their processes go within a bounded wait.
    deadline = time.monotonic() + START_WAIT_S
    while any("ShardWorker" in cmdline(pid) for pid in cluster.pids()):
        assert time.monotonic() < deadline, "a ShardWorker outlived the interrupted run"
        time.sleep(0.2)


def test_an_unreachable_cluster_is_one_line_before_any_work(tmp_path: Path) -> None:
    model = conv_model(tmp_path / "m.onnx", in_ch=1, dynamic=True)
    address = f"{HEAD_IP}:{free_port(HEAD_IP)}"  # nothing listens there
    proc = vampy("run", "-m", str(model), "--vdsp_params", str(vdsp(tmp_path, 16)), "--datalist", str(datalist(tmp_path, 2)),
                 "--path_output", str(tmp_path / "out"), "--ray", address)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and address in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()  # nothing was prepared, let alone run


def test_something_listening_that_is_no_ray_cluster_is_refused_within_the_bound() -> None:
    """The TCP check passes there; ray.init must then be given up on, or fail, in one line."""
    with socket.socket() as listener:  # accepts and never answers: what a wrong port often is
        listener.bind((HEAD_IP, 0))
        listener.listen()
        address = f"{HEAD_IP}:{listener.getsockname()[1]}"
        code = ("import sys\nfrom vampy.errors import UsageError\nfrom vampy.execution.ray_executor import connect\n"
                "try:\n    connect(sys.argv[1], timeout_s=3.0)\nexcept UsageError as exc:\n    print(exc)\n    sys.exit(2)\n")
        proc = subprocess.run([sys.executable, "-c", code, address], capture_output=True, text=True, timeout=120, env=ENV)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout.startswith(f"--ray {address}: ") and proc.stdout.count("\n") == 1


def test_ray_flag_needs_a_datalist_and_a_plain_address(tmp_path: Path) -> None:
    assert RunConfig.flat("m.onnx", datalist="l.txt", ray_address="auto").ray_address == "auto"
    assert RunConfig.flat("m.onnx", datalist="l.txt", ray_address="ray://10.0.0.5:10001").ray_address
    with pytest.raises(UsageError, match="--ray runs a data set"):
        RunConfig.flat("m.onnx", ray_address="auto")
    with pytest.raises(UsageError, match="HOST:PORT"):
        RunConfig.flat("m.onnx", datalist="l.txt", ray_address="head node")
    with pytest.raises(UsageError, match="--profile with --ray"):
        RunConfig.flat("m.onnx", datalist="l.txt", ray_address="auto", profile_dir=str(tmp_path))
    proc = vampy("run", "-m", "m.onnx", "--ray", "auto")
    assert proc.returncode == 2 and "--datalist" in proc.stderr


def test_the_model_travels_with_its_external_data_and_nothing_else(tmp_path: Path) -> None:
    import onnx

    from vampy.execution.ray_executor import model_files

    path = conv_model(tmp_path / "m.onnx", in_ch=1, dynamic=True)
    assert model_files(str(path)) == {"m.onnx": path.read_bytes()}
    proto = onnx.load(str(path))
    onnx.save_model(proto, str(tmp_path / "ext.onnx"), save_as_external_data=True, location="ext.data", size_threshold=0)
    assert sorted(model_files(str(tmp_path / "ext.onnx"))) == ["ext.data", "ext.onnx"]
    # A location is data from an untrusted file: one that leaves the model's folder is never read.
    proto = onnx.load(str(path))
    for tensor in proto.graph.initializer:
        tensor.ClearField("raw_data")
        tensor.data_location = onnx.TensorProto.EXTERNAL
        entry = tensor.external_data.add()
        entry.key, entry.value = "location", "../secret.data"
    (tmp_path / "forged").mkdir()
    onnx.save_model(proto, str(tmp_path / "forged" / "f.onnx"))
    (tmp_path / "secret.data").write_bytes(b"secret")
    assert sorted(model_files(str(tmp_path / "forged" / "f.onnx"))) == ["f.onnx"]


def _run_in_process(cluster: Cluster, tmp_path: Path, n: int, worker: type) -> tuple[dict, dict[str, np.ndarray], list[str]]:
    """A datalist run from this process on the cluster, its actors of class `worker`: (report, outputs, datalist lines)."""
    import ray

    from vampy.execution import ray_executor
    from vampy.progress import NullProgress
    from vampy.workflows.run import execute, prepare

    model, lines = conv_model(tmp_path / "m.onnx", in_ch=1, dynamic=True), datalist(tmp_path, n)
    cfg = RunConfig.flat(str(model), vdsp_params=str(vdsp(tmp_path, 16)), threads=1, datalist=str(lines),
                    path_output=str(tmp_path / "out"), ray_address=cluster.address)
    original = ray_executor.ShardWorker
    ray_executor.ShardWorker = worker  # _start_actors makes its actors from the module's name
    try:
        report = execute(prepare(cfg), NullProgress()).to_dict()
    finally:
        ray_executor.ShardWorker = original
        ray.shutdown()
    return report, outputs(tmp_path / "out"), lines.read_text().split()


@pytest.mark.slow
def test_a_shard_that_kills_its_worker_every_time_becomes_failures(cluster: Cluster, tmp_path: Path) -> None:
    """An input whose worker dies each time it runs (as the OOM killer's SIGKILL ends it) is re-run twice,
    alone, then its line is a failure and the run goes on. No tiny model crashes ONNX Runtime on cue, so
    the death is injected: the real ShardWorker, whose process SIGKILLs itself on that one input."""
    from vampy.execution.ray_executor import ShardWorker

    culprit = str(tmp_path / "in" / "img05.npz")

    class DiesOnOneInput(ShardWorker):  # defined here: Ray ships it by value to the nodes
        def run_shard(self, items: tuple[tuple[int, str], ...], inputs: dict) -> dict:
            if any(path == culprit for _, path in items):
                os.kill(os.getpid(), signal.SIGKILL)
            return ShardWorker.run_shard(self, items, inputs)

    extra: list[subprocess.Popen[bytes]] = []  # 4 one-CPU nodes: 3 may die, 1 is left
    try:
        for _ in range(2):  # one at a time: two `ray start` at once on one machine can collide
            extra.append(cluster.start_node())
            cluster.wait_nodes(len(extra) + 2)
        report, got, lines = _run_in_process(cluster, tmp_path, 20, DiesOnOneInput)
    finally:
        for starter in extra:
            if starter.poll() is None:
                cluster.kill(starter)
    assert lines[5] == culprit
    assert sorted(got) == [f"output_{i:06d}.npz" for i in range(20) if i != 5]
    failures = json.loads((tmp_path / "out" / "failures.json").read_text())["failures"]
    assert [(f["index"], f["path"]) for f in failures] == [(5, culprit)]
    assert failures[0]["reason"].startswith("its worker died 3 times on this shard: ")
    assert report["datalist"]["written"] == 19 and report["samples"] == 19
    assert len(report["cluster"]["lost"]) == 3  # the three workers it killed, and no more
    assert any("1 shard(s), 1 line(s), not run: their worker died 3 times" in n for n in report["notes"])


@pytest.mark.slow
def test_a_worker_error_names_every_line_it_leaves_unrun(cluster: Cluster, tmp_path: Path) -> None:
    """A plain RayError (vampy's own code raising on a node) stops handing out shards; each line that then
    never runs is a failure with the reason, so outputs + failures cover the whole datalist."""
    from vampy.execution.ray_executor import ShardWorker

    culprit = str(tmp_path / "in" / "img03.npz")

    class FailsOnOneInput(ShardWorker):
        def run_shard(self, items: tuple[tuple[int, str], ...], inputs: dict) -> dict:
            if any(path == culprit for _, path in items):
                raise RuntimeError("a bug on the node")
            return ShardWorker.run_shard(self, items, inputs)

    report, got, lines = _run_in_process(cluster, tmp_path, 16, FailsOnOneInput)
    failures = json.loads((tmp_path / "out" / "failures.json").read_text())["failures"]
    written = {int(name[7:13]) for name in got}
    failed = {f["index"] for f in failures}
    assert written | failed == set(range(16)) and not written & failed and 3 in failed
    # How many shards were still queued when the error came back depends on the other node's pace;
    # that each of them is named, never dropped, does not.
    reasons = {f["index"]: f["reason"] for f in failures}
    assert reasons[3].startswith("not run: its worker failed on this shard on node ") and "a bug on the node" in reasons[3]
    assert all(r.startswith("not run: the run stopped handing out shards after worker ") for i, r in reasons.items() if i != 3)
    (message,) = [w["reason"] for w in report["failed_workers"]]
    assert f"{len(failed)} line(s) not run" in message
