"""Latency figures as every benchmark reports them: nearest-rank percentiles of samples in
milliseconds (`n`, `p50_ms`, `p99_ms`, `max_ms`)."""

from __future__ import annotations

import statistics


def percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summary(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(percentile(ordered, 0.99), 2),
        "max_ms": round(ordered[-1], 2),
    }
