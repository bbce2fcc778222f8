"""HTTP throughput of the device against the bare-Sanic ceiling, with wrk on loopback.

read:  GET check-session and GET session-status, vs a handler returning the same JSON.
write: POST .../session (201s per second), vs a handler doing one INSERT + commit + JWT sign.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.device import (
    SLUG,
    WrkResult,
    baseline_process,
    device_process,
    provisioned_device,
    wrk,
)
from provisioning.server_process import ServerProcess

SCRIPT = Path(__file__).with_name("create_sessions.lua")
ROUNDS = 3
# Every 201 takes a table: more tables than a write run can fill.
TABLES = 10_000
CONNECTIONS = 32


def _best_of(
    run: Callable[[str], WrkResult], ceiling_url: str, device_url: str, by: str | None = None
) -> tuple[WrkResult, WrkResult]:
    """Alternate ceiling and device runs and keep each one's best: a burst of load from
    elsewhere on a shared machine then costs a run, not the figure."""
    ceilings, devices = [], []
    for _ in range(ROUNDS):
        ceilings.append(run(ceiling_url))
        devices.append(run(device_url))

    def score(result: WrkResult) -> float:
        return result.counted[by] if by else result.requests_per_second

    return max(ceilings, key=score), max(devices, key=score)


def _ratio(device: WrkResult, ceiling: WrkResult) -> float:
    return round(device.requests_per_second / ceiling.requests_per_second, 3)


def _figures(result: WrkResult) -> dict[str, float]:
    return {
        "req_per_s": round(result.requests_per_second, 1),
        "p99_ms": round(result.latency_p99_ms, 2),
    }


def _read_figures(device: ServerProcess, baseline: ServerProcess, seconds: int) -> dict[str, Any]:
    prefix = f"/api/customer/{SLUG}/{SLUG}-"
    created = httpx.post(
        f"{device.url}{prefix}1/session", json={"customerName": "Maria Garcia"}
    ).json()["data"]
    reads = {
        "check-session": f"{prefix}1/check-session",
        "session-status": f"{prefix}1/session-status/{created['sessionId']}",
    }
    results: dict[str, Any] = {}
    for name, path in reads.items():

        def get(url: str, path: str = path) -> WrkResult:
            return wrk(url + path, seconds, CONNECTIONS)

        ceiling, measured = _best_of(get, baseline.url, device.url)
        results[f"read {name}"] = {
            "device": _figures(measured),
            "baseline": _figures(ceiling),
            "ratio": _ratio(measured, ceiling),
            "goal": 0.8,
        }
    return results


def _write_figures(baseline: ServerProcess, seconds: int) -> dict[str, Any]:
    prefix = f"/api/customer/{SLUG}/{SLUG}-"
    args = (str(TABLES), "0", prefix)

    def create(url: str) -> WrkResult:
        if url == baseline.url:
            return wrk(url + prefix, seconds, CONNECTIONS, SCRIPT, *args)
        # Every 201 takes a table for good: each device run gets a fresh branch.
        device = device_process(provisioned_device(TABLES)).start()
        try:
            return wrk(device.url + prefix, seconds, CONNECTIONS, SCRIPT, *args)
        finally:
            device.stop()

    ceiling, measured = _best_of(create, baseline.url, "device", by="created")
    device_rate = measured.counted["created"] / seconds
    ceiling_rate = ceiling.counted["created"] / seconds
    return {
        "device": {
            "created_per_s": round(device_rate, 1),
            "other": measured.counted["other"],
            "p99_ms": round(measured.latency_p99_ms, 2),
        },
        "baseline": {
            "created_per_s": round(ceiling_rate, 1),
            "p99_ms": round(ceiling.latency_p99_ms, 2),
        },
        "ratio": round(device_rate / ceiling_rate, 3),
        "goal": 0.7,
    }


def run(seconds: int = 4) -> dict[str, Any]:
    device = device_process(provisioned_device(TABLES)).start()
    baseline = baseline_process(Path(tempfile.mkdtemp()) / "baseline.db").start()
    try:
        results = _read_figures(device, baseline, seconds)
        device.stop()
        results["write session"] = _write_figures(baseline, seconds)
        return results
    finally:
        device.stop()
        baseline.stop()


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
