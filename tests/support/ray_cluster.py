"""A real two-node Ray cluster on loopback, for the tests of `--ray` (issue 16).

The head listens on 127.0.0.2 (Ray resolves 127.0.0.1 to the machine's network address), the
second node joins it and registers as 127.0.0.1; both have one CPU, a small object store and
their session files under the test's temp dir. Every process the cluster starts is a descendant
of the two `ray start --block` processes, and teardown ends each by its pid, also when a test fails.

`cluster` is a module-scoped fixture: a test module that assigns it to a name of its own
(`cluster = ray_cluster.cluster`) gets its own cluster, started once for that module.
"""
from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from tests.support.files import make_inputs
from tests.support.processes import HANG_GUARD_S

RAY = Path(sys.executable).with_name("ray")
HEAD_IP = "127.0.0.2"
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
START_WAIT_S = HANG_GUARD_S  # a bound on waiting for the cluster and its processes: a hang guard, never a timing assertion


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    address: str
    temp_dir: Path
    starters: list[subprocess.Popen[bytes]] = field(default_factory=list)
    client_port: int = 0  # the head's Ray Client server: ray://HOST:PORT addresses

    def start_node(self, head: bool = False) -> subprocess.Popen[bytes]:
        common = ["--num-cpus=1", "--object-store-memory=100000000", "--disable-usage-stats", "--block"]
        if head:
            port = self.address.rsplit(":", 1)[1]
            self.client_port = free_port(HEAD_IP)
            args = ["--head", f"--node-ip-address={HEAD_IP}", f"--port={port}", "--include-dashboard=false",
                    f"--ray-client-server-port={self.client_port}", f"--temp-dir={self.temp_dir}"]
        else:
            args = [f"--address={self.address}"]
        proc = subprocess.Popen([str(RAY), "start", *args, *common], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        self.starters.append(proc)
        return proc

    def wait_nodes(self, n: int) -> None:
        probe = ("import ray, sys; ray.init(address=sys.argv[1], logging_level=40, log_to_driver=False); "
                 "sys.exit(0 if sum(x['Alive'] for x in ray.nodes()) >= int(sys.argv[2]) else 1)")
        deadline = time.monotonic() + START_WAIT_S
        while time.monotonic() < deadline:
            try:  # ray.init can hang on a head still starting: a bounded try, then another
                probing = subprocess.run([sys.executable, "-c", probe, self.address, str(n)], env=ENV, capture_output=True, timeout=20)
                if probing.returncode == 0:
                    return
            except subprocess.TimeoutExpired:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the Ray cluster at {self.address} did not reach {n} nodes")

    @contextlib.contextmanager
    def extra_node(self) -> Iterator[subprocess.Popen[bytes]]:
        """A third node for a test to kill (the module's two stay for the other tests); killed by its
        pids at the end if the test did not."""
        third = self.start_node()
        try:
            self.wait_nodes(3)
            yield third
        finally:
            if third.poll() is None:
                self.kill(third)

    def pids(self, starter: subprocess.Popen[bytes] | None = None) -> list[int]:
        found: list[int] = []
        for proc in [starter] if starter else self.starters:
            try:
                found += [proc.pid] + [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
            except psutil.NoSuchProcess:
                pass
        return found

    def kill(self, starter: subprocess.Popen[bytes]) -> None:
        """SIGKILL one node's processes, each by its pid: the node is gone, as a machine that dies."""
        for pid in reversed(self.pids(starter)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        starter.wait(timeout=30)

    def stop(self) -> None:
        pids = self.pids()
        for proc in self.starters:
            if proc.poll() is None:
                proc.terminate()  # `ray start --block` stops what it started
        for proc in self.starters:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        for pid in pids:  # whatever outlived its starter
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    # A short folder: Ray's Unix sockets live under it, and a socket path has at most 107 bytes.
    c = Cluster(f"{HEAD_IP}:{free_port(HEAD_IP)}", tmp_path_factory.mktemp("ray"))
    try:
        c.start_node(head=True)
        c.wait_nodes(1)
        c.start_node()
        c.wait_nodes(2)
        yield c
    finally:
        c.stop()


def vampy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vampy", *args], capture_output=True, text=True, timeout=300, env=ENV)


def vdsp(tmp: Path, hw: int) -> Path:
    path = tmp / f"vdsp{hw}.json"
    path.write_text(json.dumps({"OpType": "FUSION_OP_RGB_RESIZE_CVTCOLOR_NORM_TENSOR", "OpConfig": {
        "IimageFormat": "RGB_PLANAR", "NormaType": "DIV255", "ColorCvtCode": "NO_CHANGE", "ResizeType": "BILINEAR_CV",
        "OimageWidth": hw, "OimageHeight": hw}}))
    return path


def datalist(tmp: Path, n: int, bad: bool = False) -> Path:
    lines = [str(p) for p in make_inputs(tmp / "in", n)]
    if bad:
        (tmp / "in" / "text.npz").write_text("not an npz")
        lines.insert(3, str(tmp / "in" / "text.npz"))
    path = tmp / "list.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def assert_loopback_only(pids: list[int]) -> None:
    """`ss -tnp` (psutil where ss is missing): every TCP connection of the cluster's processes is on loopback."""
    seen = 0  # connections checked: the nodes hold some (raylets to the GCS), so none seen is a broken check
    if shutil.which("ss") is None:
        for pid in pids:
            try:
                conns = psutil.Process(pid).net_connections(kind="tcp")
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            for conn in conns:
                for addr in (conn.laddr, conn.raddr):
                    assert not addr or addr.ip in ("0.0.0.0", "::") or ipaddress.ip_address(addr.ip).is_loopback, conn
                seen += 1
        assert seen > 0
        return
    out = subprocess.run(["ss", "-tnpH"], capture_output=True, text=True, timeout=30).stdout
    wanted = {f"pid={p}," for p in pids}
    for line in out.splitlines():
        if any(w in line for w in wanted):
            local, peer = line.split()[3:5]
            for addr in (local, peer):
                host = addr.rsplit(":", 1)[0].strip("[]").removeprefix("::ffff:")
                assert host == "*" or ipaddress.ip_address(host).is_loopback, line
            seen += 1
    assert seen > 0


def cmdline(pid: int) -> str:
    """The command line of a live process; "" for one that is gone or a zombie (it may exit between the calls)."""
    try:
        return " ".join(psutil.Process(pid).cmdline())
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return ""
