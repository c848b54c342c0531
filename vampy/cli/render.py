"""Text renderings of reports: vamp's report layout (section 7 of VAMP-FORMATS.md) plus vampy's lines."""
from __future__ import annotations

from typing import Any

import numpy as np

_DTYPE_CODES = {"uint8": "u1", "int8": "i1", "uint16": "u2", "int16": "i2", "uint32": "u4", "int32": "i4",
                "uint64": "u8", "int64": "i8", "float16": "f2", "float32": "f4", "float64": "f8", "bool": "b1"}


def dtype_code(name: str) -> str:
    return _DTYPE_CODES.get(str(np.dtype(name)), name)


def _shape(dims: list[Any]) -> str:
    return "[" + ",".join(str(d) if d != "dynamic" else "-1" for d in dims) + "]"


def _resource_lines(resources: dict[str, Any]) -> list[str]:
    """vamp's two lines; "n/a" when no sample fell in the run (shorter than one sampling interval): 0 would read as idle."""
    if not resources.get("samples"):
        return ["cpu utilize (%): n/a (the run ended before the first 0.25 s sample)", "memory used (MB): n/a"]
    return [f"cpu utilize (%): {resources['cpu_percent_of_machine']:.3f}", f"memory used (MB): {resources['rss_peak_mb']:.2f}"]


def run_report_text(report: dict[str, Any]) -> str:
    """vamp's layout, field for field where vampy has the figure; card fields become CPU fields."""
    incomplete = [] if report["complete"] else [f"INCOMPLETE: {report['incomplete_reason']}"]
    lines = incomplete + _header(report) + [
        f"- number of instances in each device: {report['instances']}",
        f"devices: [{report['config']['device_id']}]",
        f"batch size: {report['batch_size']}",
        *_resource_lines(report["resources"]),
        f"samples: {report['samples']}",
        f"forward time (s): {report['forward_time_s']:.5f}",
        f"throughput (qps): {report['throughput_qps']:.4f}",
    ]
    lines += _latency_block("e2e latency (us):", report["e2e"])
    lines += _latency_block("model latency (us):", report["model_latency"])
    return "\n".join(lines + _breakdown_lines(report) + _vampy_lines(report)) + "\n"


def _breakdown_lines(report: dict[str, Any]) -> list[str]:
    """vampy's addition: where the e2e time goes, phase by phase (they add up per request)."""
    if not report.get("breakdown"):
        return []
    lines = ["latency breakdown (us): avg / p50 / p99"]
    for phase, summary in report["breakdown"].items():
        p = summary["percentiles_us"]
        lines.append(f"    {phase + ':':<12}{round(summary['avg_us'])} / {round(p['p50'])} / {round(p['p99'])}")
    if report.get("model_split"):
        lines.append("model split on the device (us), as trtexec splits it: avg / p50 / p99")
        for phase, summary in report["model_split"].items():
            p = summary["percentiles_us"]
            lines.append(f"    {phase.replace('_', '-') + ':':<16}{round(summary['avg_us'])} / {round(p['p50'])} / {round(p['p99'])}")
    if report.get("open_loop"):
        o = report["open_loop"]
        verdict = "sustained" if o["sustained"] else "NOT sustained"
        growing = ", queue wait growing" if o["queue_wait_growing"] else ""
        lines.append(
            f"open loop ({o['arrival']}): target {o['target_qps']:.4f} qps, achieved {o['achieved_qps']:.4f} qps, "
            f"peak backlog {o['peak_backlog']} requests{growing}: {verdict}"
        )
    if report.get("profile"):
        engine = (report.get("engine") or {}).get("engine", "onnxruntime")
        lines.append(f"top operators ({engine} profiler, all workers): share / total ms / calls")
        for op in report["profile"]["top_ops"][:10]:
            lines.append(f"    {op['op_type']:<24}{op['share'] * 100:5.1f}% {op['total_us'] / 1e3:10.1f} {op['calls']:6d}")
        lines.append(f"profiles: {', '.join(report['profile']['files'])}")
    return lines


def _header(report: dict[str, Any]) -> list[str]:
    lines = []
    for k, slot in enumerate(report["inputs"]["inputs"]):
        raw_dtype = slot["raw_dtype"]
        lines.append(f"input[{k}]: {_shape(slot['raw_shape'])}, dtype:{dtype_code(raw_dtype)}")
    for k, out in enumerate(report["model"]["outputs"]):
        lines.append(f"output[{k}]: {_shape(out['shape'])}, dtype:{dtype_code(out['dtype'])}")
    per_process = report["per_process"][0]["samples"] if report["per_process"] else 0
    lines.append(f"number of samples in each process: {per_process}")
    lines.append(f"number of process:{report['processes']}")
    return lines


def _latency_block(title: str, summary: dict[str, Any]) -> list[str]:
    lines = [
        title,
        f"    avg latency: {round(summary['avg_us'])}",
        f"    min latency: {round(summary['min_us'])}",
        f"    max latency: {round(summary['max_us'])}",
    ]
    for key, value in summary["percentiles_us"].items():
        lines.append(f"    {key} latency: {round(value)}")
    return lines


def _vampy_lines(report: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    warm = report["warmup"]
    if warm["requests"]:
        lines.append(f"warm-up: {warm['requests']} requests excluded ({warm['per_instance']} per instance, "
                     f"avg e2e {round(warm['e2e']['avg_us'])} us)")
    threads_total = report["processes"] * report["instances"] * report["intra_threads"]
    lines.append(
        f"threads: {report['intra_threads']} intra-op per instance "
        f"({report['processes']} process x {report['instances']} instance x {report['intra_threads']} = {threads_total} "
        f"on {report['resources']['logical_cores']} logical cores)"
    )
    lines.append(_stability_line(report["stability"]))
    if report.get("engine"):
        lines.append(_engine_line(report["engine"]))
    if report.get("cluster"):
        lines += _cluster_lines(report["cluster"])
    if report.get("datalist"):
        d = report["datalist"]
        lines.append(f"outputs written: {d['written']} of {d['lines']} datalist lines "
                     f"({d['skipped']} skipped by --resume, {len(d['failures'])} failed)")
        lines += [f"  failed line {f['index']}: {f['path']}: {f['reason']}" for f in d["failures"]]
    lines += [f"note: {n}" for n in report["notes"]]
    return lines


def _cluster_lines(cluster: dict[str, Any]) -> list[str]:
    """Where a --ray run ran: per node its samples, throughput, vampy's CPU and memory there, and every node lost on the way."""
    nodes = cluster.get("nodes") or []
    lines = [f"cluster: {cluster.get('address')}, {len(nodes)} node(s)"]
    for node in nodes:
        lost = ", LOST during the run" if node.get("lost") else ""
        used = (f", cpu {node['cpu_percent']:.1f}% of {node.get('logical_cores')} cores, peak rss {node.get('rss_peak_mb', 0.0):.1f} MB"
                if "cpu_percent" in node else "")  # reports before the cluster read them have no such fields
        lines.append(f"  node {node.get('ip')} ({node.get('name')}): {node.get('workers')} worker(s), {node.get('samples')} samples, "
                     f"{node.get('throughput_qps', 0.0):.4f} qps{used}{lost}")
    for lost in cluster.get("lost") or []:
        lines.append(f"  lost node {lost.get('node')} ({lost.get('host')}): {lost.get('reason')}; its unfinished shards ran elsewhere")
    return lines


def _engine_line(engine: dict[str, Any]) -> str:
    """What ran, as the engine reported it (only the name when no worker reported)."""
    if "version" not in engine:
        return f"engine: {engine['engine']}"
    providers = f" ({', '.join(engine['providers'])})" if engine.get("providers") else ""
    line = f"engine: {engine['engine']} {engine['version']}, {engine['device']}{providers}, precision {engine['precision']}"
    if engine.get("build_s"):
        cache_notes = {"built": ", TensorRT engine built and cached", "reused": ", TensorRT engine reused from the cache"}
        cache = cache_notes.get(engine.get("engine_cache") or "", "")
        line += f"; session built in {engine['build_s']:.3f} s{cache} (outside the measurement)"
    return line


def _stability_line(stab: dict[str, Any]) -> str:
    if stab["stable"] is None:
        return "stability: too few samples to judge (run longer with --iterations or -t)"
    windows = len(stab["window_qps"])
    spread = f"{stab['max_deviation'] * 100:.1f}%"
    if stab["stable"]:
        return f"stability: stable ({windows} windows, throughput within {spread} of the median; limit 5%)"
    return f"stability: UNSTABLE ({windows} windows, throughput up to {spread} away from the median; limit 5%)"
