"""HTTP throughput of the device against the bare-Sanic ceiling, with wrk on loopback.

read:  GET check-session and GET session-status, vs a handler returning the same JSON.
write: POST .../session (201s per second), vs a handler doing one INSERT + commit + JWT sign.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import httpx

from bench.device import SLUG, WrkResult, baseline_process, device_process, provisioned_device, wrk

SCRIPT = Path(__file__).with_name("create_sessions.lua")
# Every 201 takes a table; enough tables that a write run never runs out.
TABLES = 10_000
CONNECTIONS = 32


def _ratio(device: WrkResult, ceiling: WrkResult) -> float:
    return round(device.requests_per_second / ceiling.requests_per_second, 3)


def _figures(result: WrkResult) -> dict[str, float]:
    return {
        "req_per_s": round(result.requests_per_second, 1),
        "p99_ms": round(result.latency_p99_ms, 2),
    }


def run(seconds: int = 4) -> dict[str, Any]:
    data_dir = provisioned_device(TABLES)
    device = device_process(data_dir).start("/healthz")
    baseline = baseline_process(Path(tempfile.mkdtemp()) / "baseline.db").start("/healthz")
    try:
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
            ceiling = wrk(baseline.url + path, seconds, CONNECTIONS)
            measured = wrk(device.url + path, seconds, CONNECTIONS)
            results[f"read {name}"] = {
                "device": _figures(measured),
                "baseline": _figures(ceiling),
                "ratio": _ratio(measured, ceiling),
                "goal": 0.8,
            }
        args = (str(TABLES - 1), "1", prefix)
        ceiling = wrk(f"{baseline.url}{prefix}", seconds, CONNECTIONS, SCRIPT, *args)
        measured = wrk(f"{device.url}{prefix}", seconds, CONNECTIONS, SCRIPT, *args)
        device_rate = measured.counted["created"] / seconds
        ceiling_rate = ceiling.counted["created"] / seconds
        results["write session"] = {
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
        return results
    finally:
        device.stop()
        baseline.stop()


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
