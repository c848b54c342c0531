"""The cluster Executor: a RunJob's datalist shards on a Ray cluster (`vampy run --datalist --ray ADDRESS`).

Each node runs vampy's own worker code (worker.open_instances, warm_up_all, _Driver.run_task: the timed request) in
Ray actors, -p per node (at most the CPUs Ray sees there), I instances each. No shared file system
is assumed: this process reads every input npz (with the same checks as a local run) and ships
the arrays with the shard through Ray's object store; the outputs come back the same way and are
written here, into --path_output, by line index, atomically and once each. Shards are handed out
on demand; a shard whose actor dies (its node lost) goes back to the queue for another node, and
runs there alone, so that a death on it is its own: after MAX_SHARD_RERUNS re-runs that also killed
their worker (an input that exhausts a node's memory every time), its lines become failures
(failures.json) and the run goes on with the workers left. About once a second each actor is asked, in
a concurrency group of its own, for the age of its oldest request (on its own clock) and its CPU time
and RSS (ray_watch.py): one over --timeout ends its worker (ray.kill), named in failed_workers as the
local pool names it; that shard's lines are failures at once, its other shards go back to the queue.
Timestamps are wall-clock ns (time.time_ns), so the common window spans machines whose clocks are
NTP-synchronised; every latency is a difference on one node and needs no synchronisation.
"""
from __future__ import annotations

import collections
import functools
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from vampy.data.inputs import InputPlan
from vampy.errors import Terminated, UsageError, WorkerError
from vampy.execution.datalist_task import CollectSink, DatalistInputs, NpzWriter, header_rule
from vampy.execution.job import DatalistTask, RunJob
from vampy.execution.pool import timeout_bound_ns
from vampy.execution.ray_watch import Watch, actor_options, cluster_summary, in_watch_group, node_figures, read_on_node
from vampy.execution.request import NO_OUTPUTS, Ledger
from vampy.execution.worker import SharedCounters, WorkerSpec, open_instances, warm_up_all
from vampy.formats.npz import NpzError, load_input_npz
from vampy.measure.monitor import ResourceSummary
from vampy.measure.records import COLUMNS, RawRun, Recorder, WorkerResult
from vampy.measure.stats import measured_window, throughput_qps
from vampy.progress import NullProgress, Progress

# ray.init, after the TCP check found something listening. A ray:// client connection starts a
# driver process for this client on the head first: 20 s was too short for that on a busy
# 2-core machine (once in about six test runs), so the bound is a minute.
CONNECT_TIMEOUT_S = 60.0
POLL_S = 0.2
MAX_SHARD_RERUNS = 2  # re-runs of a shard whose worker died; one more death and its lines are failures


# Ray Client's per-client server dies now and then while it is forked on the head (ray-project/ray
# issue 63202, open: about 7% of connections in its report; seen twice in this project's tests): the client gets this message.
# Such a connection is tried again; any other failure is final.
_CLIENT_SERVER_DIED = "Initialization failure from server"
CLIENT_CONNECT_TRIES = 3


def connect(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Attach this process to the cluster at `address` (HOST:PORT, ray://HOST:PORT or auto), bounded in time."""
    import ray

    if ray.is_initialized():
        return
    _probe(address, timeout_s)
    # ray.init runs on a thread so that it can be given up on; there it cannot set its SIGTERM
    # handler, which vampy does not want anyway (the CLI owns signals), so that warning goes.
    logging.getLogger("ray._private.worker").addFilter(lambda record: "SIGTERM handler" not in record.getMessage())
    deadline = time.monotonic() + timeout_s
    for attempt in range(CLIENT_CONNECT_TRIES):
        failure = _init_bounded(ray, address, max(1.0, deadline - time.monotonic()), timeout_s)
        if failure is None:
            return
        why = str(failure).strip().splitlines()[0] if str(failure).strip() else type(failure).__name__
        if _CLIENT_SERVER_DIED not in why or attempt == CLIENT_CONNECT_TRIES - 1 or time.monotonic() >= deadline:
            raise UsageError(
                f"--ray {address}: cannot connect to a Ray cluster ({why}); start one with `ray start --head` or fix the address"
            )
        ray.shutdown()  # what the failed client left behind, before the next try


def _init_bounded(ray: Any, address: str, wait_s: float, timeout_s: float) -> BaseException | None:
    """One ray.init, given up on after wait_s (UsageError); its exception, or None once connected."""
    failure: list[BaseException] = []

    def init() -> None:
        try:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller as one line
            failure.append(exc)

    thread = threading.Thread(target=init, name="vampy-ray-connect", daemon=True)
    thread.start()
    thread.join(wait_s)
    if thread.is_alive():
        raise UsageError(
            f"--ray {address}: no Ray cluster answered within {timeout_s:g} s; check the address (ray status on the head shows it)"
        )
    return failure[0] if failure else None


def _probe(address: str, timeout_s: float) -> None:
    """A TCP connect to HOST:PORT first: an unreachable cluster fails in seconds, not minutes."""
    if address == "auto":
        return
    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise UsageError(f"--ray {address}: give the cluster's address as HOST:PORT, ray://HOST:PORT or auto")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=min(timeout_s, 5.0)):
            pass
    except OSError as exc:
        why = f"cannot reach a Ray cluster there ({exc.strerror or exc})"
        raise UsageError(f"--ray {address}: {why}; start one with `ray start --head` or fix the address") from None


class ShardWorker:
    """One vampy worker on a node: the job's I instances, opened and warmed up once, then shards.

    A Ray actor with max_concurrency=I: each call takes a free instance, so I shards run at once;
    watch() has a thread of its own (ray_watch.WATCH_GROUP), so it answers while they are busy.
    """

    def __init__(self, job: RunJob, worker_index: int, model: dict[str, bytes]) -> None:
        # The model travels as bytes too; the sessions hold it in memory once open, so the copy goes.
        folder = Path(tempfile.mkdtemp(prefix="vampy-model-"))
        try:
            for name, data in model.items():
                (folder / name).write_bytes(data)
            self.spec = WorkerSpec(replace(job, model_path=str(folder / Path(job.model_path).name)), worker_index)
            slots = (worker_index + 1) * job.instances
            self.shared = SharedCounters(np.zeros(slots, np.int64), np.zeros(slots, np.int64), threading.Event())
            self.sessions, self.drivers = open_instances(self.spec, time.time_ns, self.shared)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        self.free: collections.deque[Any] = collections.deque(self.drivers)
        self.lock = threading.Lock()
        self.running: dict[int, int] = {}  # instance -> first datalist line of the shard it runs

    @in_watch_group
    def watch(self) -> dict[str, Any]:
        """The oldest request in flight (age on this node's clock) and this process's CPU time and RSS."""
        return read_on_node({d.index: int(self.shared.inflight[d.slot]) for d in self.drivers}, dict(self.running))

    def warm_up(self) -> dict[str, Any]:
        slowest_ns = warm_up_all(self.drivers)
        return {
            "host": socket.gethostname(), "pid": os.getpid(), "slowest_warmup_ns": slowest_ns,
            "warmup_e2e_ns": np.array([v for d in self.drivers for v in d.warm_e2e_ns], np.int64),
            "warmup_model_ns": np.array([v for d in self.drivers for v in d.warm_model_ns], np.int64),
            "engine": self.sessions[0].info.to_dict() if self.sessions else None,
        }

    def run_shard(self, items: tuple[tuple[int, str], ...], inputs: dict[str, Any]) -> dict[str, Any]:
        """One shard on a free instance -> its outputs by line index, failures and timestamp rows."""
        with self.lock:
            driver = self.free.popleft()
        try:
            job = self.spec.job
            # The inputs are the arrays the starting machine read and shipped; the outputs go back to be written there.
            lines = DatalistInputs(job.plan.datalist_keys, self.spec.max_npz_bytes, functools.partial(_shipped, inputs))
            sink = CollectSink(job.output_dtype)
            ledger = Ledger(Recorder(len(items)))
            self.running[driver.index] = items[0][0]
            driver.run_task(DatalistTask(items), lines, sink if job.output_dir is not None else NO_OUTPUTS, ledger)
            return {"outputs": sink.outputs, "failures": ledger.failures, "rows": ledger.record.arrays(), "instance": driver.index}
        finally:
            self.running.pop(driver.index, None)
            with self.lock:
                self.free.append(driver)


def model_files(model_path: str) -> dict[str, bytes]:
    """The model file and the files it needs beside it (ONNX external data, OpenVINO's .bin), by name."""
    path = Path(model_path)
    names = {path.name}
    if path.suffix == ".xml":
        names.add(path.with_suffix(".bin").name)
    elif path.suffix == ".onnx":
        import onnx

        for tensor in onnx.load(str(path), load_external_data=False).graph.initializer:
            if tensor.data_location == onnx.TensorProto.EXTERNAL:
                # Only plain names in the model's folder: a location is data from the file, never a path to follow.
                names |= {e.value for e in tensor.external_data if e.key == "location" and Path(e.value).name == e.value}
    return {n: (path.parent / n).read_bytes() for n in sorted(names) if (path.parent / n).is_file()}


def _shipped(inputs: dict[str, Any], path: Path, max_bytes: int = 0) -> dict[str, np.ndarray]:
    """DatalistInputs' npz reader on a node: the arrays the starting machine read and checked."""
    got = inputs[str(path)]
    if isinstance(got, str):
        raise NpzError(path, got)
    return got


def read_shard_inputs(items: tuple[tuple[int, str], ...], max_bytes: int, plan: InputPlan) -> dict[str, Any]:
    """Each input npz of a shard, read here with the local run's checks (the members' headers against
    the plan before anything is allocated: datalist_task.header_rule); its reason when unusable."""
    inputs: dict[str, Any] = {}
    keys = plan.datalist_keys
    check = header_rule(keys, plan)
    for _, path in items:
        try:
            inputs[path] = load_input_npz(Path(path), max_bytes=max_bytes, keys=keys, check=check)
        except NpzError as exc:
            inputs[path] = exc.reason
    return inputs


@dataclass
class _Actor:
    """The parent's view of one ShardWorker: where it runs and what came back from it."""

    index: int
    handle: Any
    node_id: str
    ip: str
    threads: int
    host: str = ""
    pid: int = 0
    alive: bool = True
    warm: dict[str, Any] = field(default_factory=dict)
    rows: list[dict[str, np.ndarray]] = field(default_factory=list)
    instance: list[np.ndarray] = field(default_factory=list)
    failures: list[tuple[int, str, str]] = field(default_factory=list)
    written: int = 0


@dataclass(frozen=True)
class RayExecutor:
    """The cluster Executor: the job's datalist shards on the Ray cluster at `address`."""

    address: str
    name: str = "ray"

    def execute(self, job: RunJob, progress: Progress | None = None) -> RawRun:
        connect(self.address)
        if not job.shards:  # --resume found every line done (RunConfig refuses --ray without --datalist)
            return RawRun([], [], ResourceSummary(0.0, 0.0, 0, 0.0, 0, 0), job.intra_threads, None, 0, 0.0,
                          cluster={"address": self.address, "executor": "ray", "nodes": [], "lost": []})
        return _ClusterRun(job, self.address, progress or NullProgress()).run()


class _ClusterRun:
    def __init__(self, job: RunJob, address: str, progress: Progress) -> None:
        self.job = job
        self.address = address
        self.progress = progress
        self.actors: list[_Actor] = []
        self.inflight: dict[Any, tuple[_Actor, int]] = {}
        self.pending: collections.deque[int] = collections.deque(range(len(job.shards)))
        self.deaths: collections.Counter[int] = collections.Counter()  # shard -> times its worker died with it in flight
        self.given_up: list[int] = []  # shards whose lines became failures after MAX_SHARD_RERUNS + 1 deaths
        self.failed: list[tuple[int, str]] = []
        self.lost: list[dict[str, Any]] = []
        self.fatal_output_error: str | None = None
        self.writer = NpzWriter(job.output_dir) if job.output_dir is not None else None  # every output is written here
        self.cpus = 0  # Ray's CPUs on the nodes the run uses
        self.start_failures: list[str] = []
        self.watch = Watch(None)  # its bound is set after the warm-up (pool.timeout_bound_ns)
        self.timed_out: list[int] = []  # workers ended by the --timeout watchdog
        self.last_dead: int | None = None  # the worker lost or ended last

    def run(self) -> RawRun:
        t0 = time.monotonic()
        interrupted: str | None = None
        try:
            self._start_actors()
            setup_s = time.monotonic() - t0
            if not any(a.alive for a in self.actors):
                raise WorkerError("no vampy worker started on the cluster: " + ("; ".join(self.start_failures) or "no node has a CPU"))
            slowest_warmup_ns = max(int(a.warm["slowest_warmup_ns"]) for a in self.actors if a.warm)
            self.watch.timeout_ns = timeout_bound_ns(self.job.stop.request_timeout_s, slowest_warmup_ns)
            self.progress.start(f"inference on {len({a.node_id for a in self.actors if a.alive})} node(s)", self.job.expected_samples)
            self._dispatch()
            self.watch.final(self._live())
        except KeyboardInterrupt as exc:
            interrupted = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted (Ctrl-C)"
            setup_s = time.monotonic() - t0
        finally:
            self.progress.finish()
            self._stop()
        return self._raw(interrupted, setup_s)

    def _start_actors(self) -> None:
        """-p ShardWorkers per alive node with CPUs (at most one per CPU), each pinned to its node."""
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        remote = ray.remote(**actor_options())(ShardWorker)
        job = self.job
        model = ray.put(model_files(job.model_path))  # once in the object store, read by every node
        for node in sorted((n for n in ray.nodes() if n["Alive"]), key=lambda n: n["NodeManagerAddress"]):
            cpus = int(node["Resources"].get("CPU", 0))
            per_node = min(job.processes, cpus)
            threads = max(1, cpus // (per_node * job.instances)) if job.auto_threads and per_node else job.intra_threads
            for _ in range(per_node):
                k = len(self.actors)
                handle = remote.options(
                    num_cpus=1, max_concurrency=job.instances, max_restarts=0, name=None,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False),
                ).remote(replace(job, intra_threads=threads, shards=()), k, model)
                self.actors.append(_Actor(k, handle, node["NodeID"], node["NodeManagerAddress"], threads))
            self.cpus += cpus if per_node else 0
        self.progress.start(f"loading models and warming up on {len({a.node_id for a in self.actors})} node(s)", None)
        calls = {a.handle.warm_up.remote(): a for a in self.actors}
        while calls:
            ready, _ = ray.wait(list(calls), num_returns=1, timeout=POLL_S)
            for ref in ready:
                actor = calls.pop(ref)
                try:
                    actor.warm = ray.get(ref)
                    actor.host, actor.pid = actor.warm["host"], actor.warm["pid"]
                except ray.exceptions.RayError as exc:
                    actor.alive = False  # the others carry on; the run fails only when none started
                    self.start_failures.append(f"worker {actor.index} on node {actor.ip} did not start: {_last_line(exc)}")
        self.progress.finish()

    def _dispatch(self) -> None:
        import ray

        while self.pending or self.inflight:
            if self.fatal_output_error:
                return
            for worker, reading in self.watch.poll(self._live()):  # about once a second, not every POLL_S
                self._time_out(self.actors[worker], reading)
            self._submit()
            if not self.inflight:
                return  # shards left and no live worker to take them: named in failed_workers
            ready, _ = ray.wait(list(self.inflight), num_returns=1, timeout=POLL_S)
            for ref in ready:
                self._receive(ref)

    def _submit(self) -> None:
        """Keep each live actor one shard ahead of its I instances, so none waits for the parent. A shard
        whose worker died goes to an idle actor and alone: a further death is then its own doing."""
        busy = collections.Counter(a.index for a, _ in self.inflight.values())
        alone = {a.index for a, s in self.inflight.values() if self.deaths[s]}
        for actor in self.actors:
            while actor.alive and self.pending and actor.index not in alone and busy[actor.index] < self.job.instances + 1:
                shard = self._next_shard(idle=busy[actor.index] == 0)
                if shard is None:
                    break  # only shards that must run alone are left, and this actor is busy
                items = self.job.shards[shard].items
                inputs = read_shard_inputs(items, WorkerSpec(self.job, 0).max_npz_bytes, self.job.plan)
                self.inflight[actor.handle.run_shard.remote(items, inputs)] = (actor, shard)
                busy[actor.index] += 1
                if self.deaths[shard]:
                    alone.add(actor.index)
        if self.pending and not any(a.alive for a in self.actors) and not self.inflight and self.last_dead is not None:
            lines = sum(len(self.job.shards[s].items) for s in self.pending)
            last = self.last_dead
            how = "ended by the --timeout watchdog" if last in self.timed_out else "lost"
            if last not in self.timed_out:  # a timed-out worker is named in failed_workers already
                self.failed.append((last, f"was the last worker left and was lost: {lines} line(s) not run (--resume finishes them)"))
            why = f"not run: worker {last}, the last one left on the cluster, was {how} (--resume runs it)"
            self._fail_lines(self.actors[last], list(self.pending), why)
            self.pending.clear()

    def _next_shard(self, idle: bool) -> int | None:
        """The next shard for an actor: the first in the queue when it is idle, else the first that need not run alone."""
        for position, shard in enumerate(self.pending):
            if idle or not self.deaths[shard]:
                del self.pending[position]
                return shard
        return None

    def _receive(self, ref: Any) -> None:
        import ray

        actor, shard = self.inflight.pop(ref)
        try:
            result = ray.get(ref)
        except (ray.exceptions.RayActorError, ray.exceptions.ObjectLostError) as exc:
            # The actor died, or its node did after the shard ran and before its outputs came here.
            self._lose(actor, shard, exc)
            return
        except ray.exceptions.RayError as exc:
            # vampy's own code failed on the node (a bug, not a lost machine): no more shards go out,
            # and every line that will not run is named, as a failure with the reason.
            actor.alive = False
            why = f"on node {actor.ip}: {_last_line(exc)}"
            never = list(self.pending)
            self.pending.clear()
            lines = sum(len(self.job.shards[s].items) for s in [shard, *never])
            self.failed.append((actor.index, f"{why}; {lines} line(s) not run (failures.json names them; --resume runs them)"))
            self._fail_lines(actor, [shard], f"not run: its worker failed on this shard {why}")
            self._fail_lines(actor, never, f"not run: the run stopped handing out shards after worker {actor.index} failed {why}")
            return
        actor.rows.append(result["rows"])
        actor.instance.append(np.full(result["rows"]["end_ns"].size, result["instance"], np.int64))
        actor.failures += result["failures"]
        self._write(actor, shard, result["outputs"])
        self.progress.advance(len(self.job.shards[shard].items))

    def _lose(self, actor: _Actor, shard: int, exc: BaseException) -> None:
        """The actor died (its node lost, or its process killed) with the shard in flight: the shard goes back
        to the queue, unless its worker has now died MAX_SHARD_RERUNS + 1 times on it: then its lines fail."""
        self.deaths[shard] += 1
        why = _last_line(exc)
        if self.deaths[shard] > MAX_SHARD_RERUNS:
            self.given_up.append(shard)
            self._fail_lines(actor, [shard], f"its worker died {self.deaths[shard]} times on this shard: {why}")
        else:
            self.pending.appendleft(shard)
        if not actor.alive:
            return
        actor.alive = False
        self.last_dead = actor.index
        self.lost.append({"node": actor.ip, "node_id": actor.node_id, "host": actor.host, "worker": actor.index, "reason": why})

    def _time_out(self, actor: _Actor, reading: dict[str, Any]) -> None:
        """A request of this worker has been running longer than --timeout: the worker is ended (ray.kill) and
        named in failed_workers, as the local pool names it. Its hung shard's lines become failures at once,
        with the reason: re-running a request that hangs would only hang another worker (a lost node's shard
        is re-run because the node, not the input, may be at fault). Its other shards go back to the queue."""
        import ray

        if not actor.alive:
            return
        mine = [ref for ref, (a, _) in self.inflight.items() if a is actor]
        done, _ = ray.wait(mine, num_returns=len(mine), timeout=0) if mine else ([], [])
        hung = next((s for s, shard in enumerate(self.job.shards) if shard.items[0][0] == reading["line"]), None)
        if hung is None or hung not in {self.inflight[ref][1] for ref in mine} or any(self.inflight[ref][1] == hung for ref in done):
            return  # it finished since the reading: its result was collected already, or is on the way
        for ref in done:
            self._receive(ref)
        if not actor.alive:
            return  # lost meanwhile: handled as a loss
        actor.alive = False
        self.timed_out.append(actor.index)
        self.last_dead = actor.index
        self.watch.forget(actor.index)
        bound = f"(--timeout {(self.watch.timeout_ns or 0) / 1e9:g} s; raise it, or 0 turns the watchdog off)"
        after = f"still running after {reading['age_ns'] / 1e9:.1f} s"
        self.failed.append((actor.index, f"request on instance {reading['instance']} {after} on node {actor.ip} {bound}"))
        try:
            ray.kill(actor.handle, no_restart=True)
        except Exception:  # noqa: BLE001 - an actor that is already gone is ended too
            pass
        for ref in [ref for ref, (a, _) in self.inflight.items() if a is actor]:
            _, shard = self.inflight.pop(ref)
            if shard == hung:
                self._fail_lines(actor, [shard], f"request {after} {bound}; its worker on node {actor.ip} was ended")
            else:
                self.pending.appendleft(shard)  # not its fault: no death counted against it

    def _live(self) -> dict[int, Any]:
        return {a.index: a.handle for a in self.actors if a.alive}

    def _fail_lines(self, actor: _Actor | None, shards: list[int], reason: str) -> None:
        """Each line of these shards as a failure (failures.json) of the worker it was with, and counted as done."""
        if actor is None or not shards:
            return
        items = [item for s in shards for item in self.job.shards[s].items]
        actor.failures += [(index, path, reason) for index, path in items]
        self.progress.advance(len(items))

    def _write(self, actor: _Actor, shard: int, outputs: dict[int, dict[str, np.ndarray]]) -> None:
        """A shard's outputs into --path_output, once each (NpzWriter: a shard redone after a loss keeps its first)."""
        if self.writer is None:
            return
        paths = dict(self.job.shards[shard].items)
        for index in sorted(outputs):
            before = self.writer.written
            if not self.writer.write(index, paths[index], outputs[index], actor.failures):
                self.fatal_output_error = self.writer.fatal  # the dispatch loop stops handing out shards
                return
            actor.written += self.writer.written - before

    def _stop(self) -> None:
        """End the actors: their running and queued calls end with them, so nothing lingers.

        No ray.cancel of the calls in flight first: ray.kill already ends them, and ray.cancel of a
        running task made Ray 2.60's driver abort in the sweep's cluster path (workflows/sweep_run.py).
        """
        import ray

        for actor in self.actors:
            try:
                ray.kill(actor.handle, no_restart=True)
            except Exception:  # noqa: BLE001 - as above
                pass

    def _raw(self, interrupted: str | None, setup_s: float) -> RawRun:
        results = [self._result(a) for a in self.actors if a.warm]
        resources = cluster_summary(self.watch.readings, self._workers_by_node(), self.cpus)
        nodes = len(self._workers_by_node())
        notes = [f"cpu utilize and memory used: vampy's {len(results)} worker(s) on {nodes} node(s), read there about once a second "
                 f"(CPU % of the nodes' {resources.logical_cores} logical cores, RSS summed); per node under cluster (docs/cluster.md)"
                 if resources.samples else "CPU and memory: no worker on the cluster answered a reading (resources show zeros)"]
        notes += self.start_failures
        notes += [f"lost node {x['node']} ({x['host']}, id {x['node_id'][:12]}): its unfinished shards ran on other nodes ({x['reason']})"
                  for x in self.lost]
        if self.given_up:
            lines = sum(len(self.job.shards[s].items) for s in self.given_up)
            notes.append(f"{len(self.given_up)} shard(s), {lines} line(s), not run: their worker died {MAX_SHARD_RERUNS + 1} times on each "
                         "(an input that exhausts a node's memory?); failures.json names the lines")
        threads = collections.Counter(a.threads for a in self.actors).most_common(1)
        return RawRun(
            results, sorted(self.failed), resources, threads[0][0] if threads else self.job.intra_threads,
            interrupted, self.job.expected_samples, setup_s, notes, cluster=self._cluster(results),
        )

    def _result(self, actor: _Actor) -> WorkerResult:
        columns = {name: np.concatenate([r[name] for r in actor.rows]) if actor.rows else np.zeros(0, np.int64) for name in COLUMNS}
        return WorkerResult(
            worker_index=actor.index, pid=actor.pid, columns=columns,
            instance=np.concatenate(actor.instance) if actor.instance else np.zeros(0, np.int64),
            warmup_e2e_ns=actor.warm["warmup_e2e_ns"], warmup_model_ns=actor.warm["warmup_model_ns"],
            failures=actor.failures, outputs_written=actor.written, fatal_output_error=self.fatal_output_error, engine=actor.warm["engine"],
        )

    def _workers_by_node(self) -> dict[str, list[int]]:
        by_node: dict[str, list[int]] = collections.defaultdict(list)
        for actor in self.actors:
            if actor.warm:
                by_node[actor.node_id].append(actor.index)
        return by_node

    def _cluster(self, results: list[WorkerResult]) -> dict[str, Any]:
        nodes: dict[str, dict[str, Any]] = {}
        for actor, result in zip([a for a in self.actors if a.warm], results):
            node = nodes.setdefault(actor.node_id, {"ip": actor.ip, "name": actor.host, "node_id": actor.node_id, "workers": 0,
                                                    "threads": actor.threads,
                                               "lost": False, "_start": [], "_end": [], "_samples": 0})
            node["workers"] += 1
            node["lost"] = node["lost"] or not actor.alive and any(x["worker"] == actor.index for x in self.lost)
            node["_start"].append(result.columns["arrival_ns"])
            node["_end"].append(result.columns["end_ns"])
            node["_samples"] += int(result.columns["samples"].sum())
        for node in nodes.values():
            window = measured_window(np.concatenate(node.pop("_start")), np.concatenate(node.pop("_end")))
            node["samples"] = node.pop("_samples")
            node["throughput_qps"] = throughput_qps(node["samples"], window)
        for node_id, workers in self._workers_by_node().items():
            figures = node_figures(self.watch.readings, workers)
            nodes[node_id].update({k: figures[k] for k in ("cpu_percent", "rss_peak_mb", "rss_mean_mb", "logical_cores")})
        return {"address": self.address, "executor": "ray", "nodes": list(nodes.values()), "lost": self.lost}


def _last_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(exc).__name__
