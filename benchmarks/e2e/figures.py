"""Latency samples and their summary (count, p50, p99, max), the same for every contender."""

from __future__ import annotations


class Samples:
    """Latencies in milliseconds, all of them (a 60 s run holds a few thousand)."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def add(self, ms: float) -> None:
        self.values.append(ms)

    def summary(self) -> dict:
        return summarize(self.values)


def summarize(values: list[float]) -> dict:
    ordered = sorted(values)
    if not ordered:
        return {"count": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    pick = lambda q: round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 4)  # noqa: E731
    return {"count": len(ordered), "p50_ms": pick(0.50), "p99_ms": pick(0.99), "max_ms": round(ordered[-1], 4)}
