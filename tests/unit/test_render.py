"""The text report's lines that vampy adds to vamp's layout: engine and cluster."""
from __future__ import annotations

from vampy.cli.render import _cluster_lines, _engine_line


def test_engine_line_says_what_ran_or_only_the_name() -> None:
    ran = {"engine": "openvino", "version": "2026.4", "device": "cpu", "precision": "bf16", "intra_threads": 2, "providers": ["CPU"]}
    assert _engine_line(ran) == "engine: openvino 2026.4, cpu (CPU), precision bf16"
    assert _engine_line({"engine": "onnxruntime"}) == "engine: onnxruntime"  # no worker got as far as reporting


def test_cluster_lines_name_every_node_and_every_loss() -> None:
    cluster = {"address": "127.0.0.2:6390", "executor": "ray",
               "nodes": [{"ip": "127.0.0.2", "name": "head", "workers": 1, "samples": 30, "throughput_qps": 14.5, "lost": False,
                          "cpu_percent": 48.25, "logical_cores": 2, "rss_peak_mb": 210.04},
                         {"ip": "127.0.0.1", "name": "n2", "workers": 1, "samples": 10, "throughput_qps": 7.25, "lost": True}],
               "lost": [{"node": "127.0.0.1", "host": "n2", "worker": 1, "reason": "node died"}]}
    assert _cluster_lines(cluster) == [
        "cluster: 127.0.0.2:6390, 2 node(s)",
        "  node 127.0.0.2 (head): 1 worker(s), 30 samples, 14.5000 qps, cpu 48.2% of 2 cores, peak rss 210.0 MB",
        "  node 127.0.0.1 (n2): 1 worker(s), 10 samples, 7.2500 qps, LOST during the run",  # a report without the readings
        "  lost node 127.0.0.1 (n2): node died; its unfinished shards ran elsewhere",
    ]


def test_a_run_without_a_resource_sample_reads_n_a_not_zero() -> None:
    from vampy.cli.render import _resource_lines

    assert _resource_lines({"samples": 0, "cpu_percent_of_machine": 0.0, "rss_peak_mb": 0.0}) == [
        "cpu utilize (%): n/a (the run ended before the first 0.25 s sample)", "memory used (MB): n/a"]
    assert _resource_lines({"samples": 3, "cpu_percent_of_machine": 41.5, "rss_peak_mb": 100.0}) == [
        "cpu utilize (%): 41.500", "memory used (MB): 100.00"]


def test_the_monitor_reads_the_workers_once_more_when_it_stops() -> None:
    import os

    from vampy.measure.monitor import ResourceMonitor

    monitor = ResourceMonitor([os.getpid()], interval_s=3600)  # its thread never samples: only stop()'s reading counts
    monitor.start()
    summary = monitor.stop()
    assert summary.samples == 1 and summary.rss_peak_bytes > 0
    gone = ResourceMonitor([os.getpid()], interval_s=3600)
    gone._procs = []  # every worker exited: no reading at all, rather than a zero
    gone.start()
    assert gone.stop().samples == 0
