"""Pure: the Pareto front of (throughput, latency) points, higher throughput and lower latency better."""
from __future__ import annotations

from collections.abc import Sequence


def dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """a = (throughput, latency) is at least as good as b on both and strictly better on one."""
    return a[0] >= b[0] and a[1] <= b[1] and (a[0] > b[0] or a[1] < b[1])


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point dominates, ordered by latency (then throughput).

    Equal points are all kept: neither dominates the other. O(n log n): after sorting by latency,
    a point is on the front when its throughput beats every point of strictly lower latency and
    ties the best among its equal-latency group.
    """
    order = sorted(range(len(points)), key=lambda k: (points[k][1], -points[k][0]))
    front: list[int] = []
    best_qps = float("-inf")  # best throughput among points of strictly lower latency
    i = 0
    while i < len(order):
        latency = points[order[i]][1]
        group = [k for k in order[i:] if points[k][1] == latency]
        top = points[group[0]][0]  # the group is sorted by throughput, highest first
        if top > best_qps:
            front += [k for k in group if points[k][0] == top]
            best_qps = top
        i += len(group)
    return front
