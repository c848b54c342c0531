"""`vampy sweep --ray ADDRESS`: each point of a sweep alone on one node of a Ray cluster.

A point is a Ray task pinned to one node (NodeAffinitySchedulingStrategy, soft=False) that asks for
all of that node's CPUs, so while it runs Ray schedules nothing else there (no other point, no other
vampy task): two points never share a machine, without custom resources on nodes the user started.
On the node the task runs what a local `vampy sweep` runs for a point (sweep_run.measure_on_node:
RunMeasurer, run.prepare/execute on the local pool, the node's own warm-up), with the model and
vdsp bytes shipped through the object store. Grid: points go to free nodes concurrently, one per
node at a time. Auto: the climb is sequential; it runs on the node kind with the most nodes.
Node kinds (CPU model, logical cores, memory) are read on each node; points on different kinds
are ranked per kind (SweepResult.winners_by_node_kind). A node lost mid-sweep: its point runs again
on another node of the same kind, or is recorded as failed with the reason.
"""
from __future__ import annotations

import collections
import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from vampy.errors import Terminated, UsageError
from vampy.workflows.sweep import DIMENSIONS, Measurement, NullObserver, Point, SweepConfig, SweepObserver, SweepResult, search

POLL_S = 0.2
SURVEY_TIMEOUT_S = 60.0  # a node that cannot run a zero-CPU task in this long is left out (and named)
NODE_CHECK_S = 15.0  # a point's worker failed: how long to wait for the cluster to say whether its node died
CANCEL_WAIT_S = 30.0  # after Ctrl-C: how long the nodes get to stop their local pools and return
NodeMeasure = Callable[..., tuple[Measurement, str]]  # sweep_run.measure_on_node


def node_kind() -> str:
    """This machine's kind: CPU model, logical cores, memory. Points measured on one kind compare."""
    import platform

    import psutil

    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.lower().startswith("model name")), "")
    except OSError:
        pass
    model = model or platform.processor() or platform.machine() or "unknown CPU"
    memory_gib = psutil.virtual_memory().total / 2**30
    return f"{model}, {psutil.cpu_count(logical=True) or 1} logical cores, {memory_gib:.0f} GiB"


def node_identity() -> dict[str, str]:
    """Run on each node by the survey: its host name and kind."""
    import socket

    return {"host": socket.gethostname(), "kind": node_kind()}


@dataclass
class Node:
    node_id: str
    ip: str
    cpus: int  # Ray's CPU resource there: what a point asks for, so it has the node to itself
    host: str = ""
    kind: str = ""
    alive: bool = True


class ClusterSweep:
    """The nodes of the cluster (this process already connected to it) and the sweep's points on them."""

    def __init__(self, cfg: SweepConfig, node_measure: NodeMeasure) -> None:
        import ray

        self.cfg = cfg
        self.node_measure = node_measure
        self.log: list[str] = []
        self.nodes = self._survey()
        if not self.nodes:
            raise UsageError(f"--ray {cfg.ray_address}: the cluster has no live node with a CPU; add one with `ray start --address=...`")
        self.files = ray.put(_files(cfg))  # once into the object store; each node fetches its copy
        # The StopFlag actor's handle. Typed Any: ray's stubs type the handle's methods as the plain
        # functions (a union without .remote), though on a handle each method is called through .remote().
        self.stop: Any = ray.remote(StopFlag).options(num_cpus=0, max_restarts=0).remote()

    def _survey(self) -> list[Node]:
        import ray

        nodes = [Node(n["NodeID"], n["NodeManagerAddress"], int(n["Resources"].get("CPU", 0)))
                 for n in ray.nodes() if n["Alive"] and int(n["Resources"].get("CPU", 0)) >= 1]
        probe = ray.remote(node_identity)
        refs = {probe.options(num_cpus=0, scheduling_strategy=_pinned(n.node_id)).remote(): n for n in nodes}
        ready, late = ray.wait(list(refs), num_returns=len(refs), timeout=SURVEY_TIMEOUT_S)
        for ref in ready:
            try:
                refs[ref].host, refs[ref].kind = (got := ray.get(ref))["host"], got["kind"]
            except ray.exceptions.RayError as exc:
                self.log.append(f"node {refs[ref].ip} left out: it could not report its kind ({_last_line(exc)})")
        for ref in late:
            ray.cancel(ref)
            self.log.append(f"node {refs[ref].ip} left out: it did not answer within {SURVEY_TIMEOUT_S:g} s")
        return sorted((n for n in nodes if n.kind), key=lambda n: (n.ip, n.node_id))

    def _auto_kind(self) -> str:
        counts = collections.Counter(n.kind for n in self.nodes)
        return min(counts, key=lambda k: (-counts[k], k))

    def cores(self, auto: bool) -> int:
        """What `auto` ladders are bounded by: Ray's CPUs on the smallest node the points may use."""
        kind = self._auto_kind() if auto else None
        return min(n.cpus for n in self.nodes if kind is None or n.kind == kind)

    def search(self, ladders: dict[str, tuple[int, ...]], auto: bool, engine: str, precision: str,
               observer: SweepObserver | None) -> SweepResult:
        observer = observer or NullObserver()
        if auto:
            return self._auto(ladders, engine, precision, observer)
        return _Grid(self, ladders, engine, precision, observer).run()

    # --- one point on one node ---

    def submit(self, node: Node, point: Point, repeat: bool) -> Any:
        import ray

        # Typed Any: for a Callable[..., T] (NodeMeasure) ray's overloads pick the no-argument RemoteFunction.
        remote_measure: Any = ray.remote(self.node_measure)
        task = remote_measure.options(num_cpus=node.cpus, max_retries=0, scheduling_strategy=_pinned(node.node_id))
        return task.remote(self.cfg.base, self.files, point, repeat, self.stop)

    def outcome(self, ref: Any, node: Node, point: Point) -> tuple[Measurement | None, str]:
        """The finished task -> (its Measurement, stamped with the node; log line), or (None, why) when its node was lost."""
        import ray

        try:
            m, line = ray.get(ref)
        except ray.exceptions.RayTaskError as exc:  # vampy's own code failed there: the point failed
            return Measurement(point, error=f"on node {node.ip}: {_last_line(exc)}",
                               node=node.ip, node_id=node.node_id, node_kind=node.kind), ""
        except ray.exceptions.RayError as exc:  # the worker or the node went away under the point
            lost = isinstance(exc, (ray.exceptions.NodeDiedError, ray.exceptions.TaskUnschedulableError)) or _died(node.node_id)
            if not lost:
                return Measurement(point, error=f"on node {node.ip}: {_last_line(exc)}",
                                   node=node.ip, node_id=node.node_id, node_kind=node.kind), ""
            node.alive = False
            return None, f"node {node.ip} ({node.host}, id {node.node_id[:12]}) lost during {point.label}: {_last_line(exc)}"
        return replace(m, node=node.ip, node_id=node.node_id, node_kind=node.kind), line

    def _auto(self, ladders: dict[str, tuple[int, ...]], engine: str, precision: str, observer: SweepObserver) -> SweepResult:
        kind = self._auto_kind()
        of_kind = [n for n in self.nodes if n.kind == kind]
        note = (f"auto on a cluster: the climb is sequential, so it runs on one kind of node, the one with the most nodes: "
                f"{kind} ({len(of_kind)} of {len(self.nodes)} node(s))")

        def measure(point: Point) -> Measurement:
            point = replace(point, engine=engine, infer_precision=precision)
            while True:
                node = next((n for n in of_kind if n.alive), None)
                if node is None:
                    return Measurement(point, error=f"every node of kind {kind} was lost", node_kind=kind)
                ref = self.submit(node, point, repeat=False)
                _wait_one(ref, self.stop)
                m, line = self.outcome(ref, node, point)
                if m is not None:
                    return m
                self.log.append(line + "; measured again on another node of its kind" * any(n.alive for n in of_kind))

        result = search(ladders, True, measure, self.cfg.max_p99_ms, observer)
        return replace(result, log=(note, *self.log, *result.log))


class _Grid:
    """Every combination, dispatched to free nodes (one point per node at a time) and collected as they end."""

    def __init__(self, cluster: ClusterSweep, ladders: dict[str, tuple[int, ...]], engine: str, precision: str,
                 observer: SweepObserver) -> None:
        self.cluster, self.ladders, self.observer = cluster, ladders, observer
        self.points = [Point.of(values, engine=engine, infer_precision=precision)
                       for values in itertools.product(*(ladders[d] for d in DIMENSIONS))]
        # (index in the grid, the kind it must run on: None until a lost node pins it to its kind)
        self.pending: collections.deque[tuple[int, str | None]] = collections.deque((k, None) for k in range(len(self.points)))
        self.inflight: dict[Any, tuple[int, Node]] = {}
        self.done: dict[int, Measurement] = {}
        self.log: list[str] = list(cluster.log)
        self.interrupted: str | None = None

    def result(self) -> SweepResult:
        # Rows in grid order, so a point's index is its place in the grid whichever node finished first.
        rows = tuple(self.done[k] for k in sorted(self.done))
        return SweepResult("grid", rows, dict(self.ladders), self.cluster.cfg.max_p99_ms, interrupted=self.interrupted, log=tuple(self.log))

    def run(self) -> SweepResult:
        import ray

        try:
            while self.pending or self.inflight:
                self._dispatch()
                if not self.inflight:
                    break
                ready, _ = ray.wait(list(self.inflight), num_returns=1, timeout=POLL_S)
                for ref in ready:
                    self._receive(ref)
        except KeyboardInterrupt as exc:
            self.interrupted = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted (Ctrl-C)"
            self._cancel()
            self.log.append(f"{self.interrupted}: stopped after {len(self.done)} finished point(s); the points in flight were cancelled")
        return self.result()

    def _dispatch(self) -> None:
        busy = {node.node_id for _, node in self.inflight.values()}
        for node in self.cluster.nodes:
            if not node.alive or node.node_id in busy:
                continue
            entry = next((e for e in self.pending if e[1] in (None, node.kind)), None)
            if entry is None:
                continue
            self.pending.remove(entry)
            k = entry[0]
            self.observer.point_started(self.points[k], k + 1, len(self.points))
            self.inflight[self.cluster.submit(node, self.points[k], repeat=True)] = (k, node)
            busy.add(node.node_id)
        for k, kind in list(self.pending):  # pinned to a kind whose nodes are all gone: it cannot run
            if kind is not None and not any(n.alive and n.kind == kind for n in self.cluster.nodes):
                self.pending.remove((k, kind))
                self._finish(k, Measurement(self.points[k], error=f"its node was lost and no other node of its kind ({kind}) is left",
                                            node_kind=kind))
        if not self.inflight and self.pending and not any(n.alive for n in self.cluster.nodes):
            for k, _ in list(self.pending):
                self._finish(k, Measurement(self.points[k], error="every node of the cluster was lost"))
            self.pending.clear()

    def _receive(self, ref: Any) -> None:
        k, node = self.inflight.pop(ref)
        m, line = self.cluster.outcome(ref, node, self.points[k])
        if m is None:  # the node went away: the point runs again on another node of its kind
            self.log.append(line)
            self.pending.appendleft((k, node.kind))
            return
        if line:
            self.log.append(f"{line} (on node {node.ip})")
        self._finish(k, m)

    def _finish(self, k: int, m: Measurement) -> None:
        self.done[k] = m
        self.observer.point_done(m, self.result())

    def _cancel(self) -> None:
        """Ctrl-C: set the stop flag the points in flight poll (each then gets a KeyboardInterrupt on its
        node, which stops its local pool as Ctrl-C stops a local run), wait a bounded time, then end what is left."""
        import ray

        refs = list(self.inflight)
        ray.get(self.cluster.stop.set.remote(), timeout=CANCEL_WAIT_S)
        _, left = ray.wait(refs, num_returns=len(refs), timeout=CANCEL_WAIT_S) if refs else ([], [])
        for ref in left:
            ray.cancel(ref, force=True)  # did not stop in time: end its worker
        self.inflight.clear()
        self.pending.clear()


def _wait_one(ref: Any, stop: Any) -> None:
    """Wait for one task in short steps (so Ctrl-C lands here), cancelling it when interrupted."""
    import ray

    try:
        while not ray.wait([ref], timeout=POLL_S)[0]:
            pass
    except KeyboardInterrupt:
        ray.get(stop.set.remote(), timeout=CANCEL_WAIT_S)
        if not ray.wait([ref], timeout=CANCEL_WAIT_S)[0]:
            ray.cancel(ref, force=True)
        raise


class StopFlag:
    """A Ray actor the points poll (sweep_run._watch_stop): set on Ctrl-C, it interrupts them on their nodes."""

    def __init__(self) -> None:
        self.flag = False

    def set(self) -> None:
        self.flag = True

    def is_set(self) -> bool:
        return self.flag


def _files(cfg: SweepConfig) -> dict[str, Any]:
    """The model (with its external data and sidecar) and the vdsp file, as bytes by plain name."""
    from vampy.execution.ray_executor import model_files
    from vampy.models.resolve import MAX_SIDECAR_BYTES, resolve_model

    path = resolve_model(cfg.base.model)
    model = model_files(str(path))
    sidecar = path.with_suffix(".json")
    if sidecar.is_file() and sidecar.name not in model and sidecar.stat().st_size <= MAX_SIDECAR_BYTES:
        model[sidecar.name] = sidecar.read_bytes()
    vdsp_params = cfg.base.inputs.vdsp_params
    vdsp = {Path(vdsp_params).name: Path(vdsp_params).read_bytes()} if vdsp_params else {}
    return {"model": model, "model_name": path.name, "vdsp": vdsp}


def _pinned(node_id: str) -> Any:
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return NodeAffinitySchedulingStrategy(node_id, soft=False)


def _died(node_id: str, wait_s: float = NODE_CHECK_S) -> bool:
    """Whether the cluster reports the node dead within wait_s (it notices a lost node a few seconds
    after the tasks there fail): a lost node, rather than a crash of the point's own worker."""
    import time

    import ray

    deadline = time.monotonic() + wait_s
    while True:
        if not any(n["NodeID"] == node_id and n["Alive"] for n in ray.nodes()):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_S)


def _last_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(exc).__name__
