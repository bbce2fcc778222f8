"""HTTP throughput of the device against bare-Sanic ceilings, with wrk on loopback.

read:   GET check-session and GET session-status, vs a handler returning the same JSON.
write:  POST .../session (201s per second), vs a handler doing one INSERT + commit + JWT sign,
        with `synchronous=FULL` (an fsync per request) and `NORMAL` (no fsync in the way).
orders: POST /api/customer/orders with three lines, vs a handler checking a JWT and inserting
        the order and its lines in one transaction (`NORMAL`).

The write figures are taken twice: on both cores, and with the server pinned to core 0 and wrk
to core 1 (`taskset`), the stand-in for a Raspberry-Pi-class box.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt

from bench import baseline
from bench.device import (
    SLUG,
    WrkResult,
    baseline_process,
    device_process,
    provisioned_device,
    settled,
    wrk,
)
from provisioning.server_process import ServerProcess

SESSIONS_SCRIPT = Path(__file__).with_name("create_sessions.lua")
ORDERS_SCRIPT = Path(__file__).with_name("place_orders.lua")
DEMO_MENU = Path(__file__).parent.parent / "provisioning" / "demo_menu.json"
ROUNDS = 3
# Every 201 takes a table: more tables than a write run can fill (a quiet run creates about
# 6,000 sessions a second); a run that fills them all is refused rather than reported capped.
TABLES = 60_000
CONNECTIONS = 32
# Diners placing orders: one session each, spread over the connections.
ORDER_DINERS = 32
ORDER_LINES = 3
WRITE_GOAL = 0.7
P99_GOAL = 2.0
# (server CPUs, load generator CPUs)
LAYOUTS = {"two cores": (None, None), "one core": ("0", "1")}

Run = Callable[[str], WrkResult]


def _best_of(runs: dict[str, Run], by: str | None = None) -> dict[str, WrkResult]:
    """Alternate the sides' runs and keep each one's best: a burst of load from elsewhere on a
    shared machine then costs a run, not the figure."""
    results: dict[str, list[WrkResult]] = {name: [] for name in runs}
    for _ in range(ROUNDS):
        for name, run in runs.items():
            results[name].append(run(name))

    def score(result: WrkResult) -> float:
        return result.counted[by] if by else result.requests_per_second

    return {name: max(found, key=score) for name, found in results.items()}


def _ratio(device: WrkResult, ceiling: WrkResult) -> float:
    return round(device.requests_per_second / ceiling.requests_per_second, 3)


def _figures(result: WrkResult) -> dict[str, float]:
    return {
        "req_per_s": round(result.requests_per_second, 1),
        "p99_ms": round(result.latency_p99_ms, 2),
    }


def _read_figures(device: ServerProcess, ceiling: ServerProcess, seconds: int) -> dict[str, Any]:
    prefix = f"/api/customer/{SLUG}/{SLUG}-"
    created = httpx.post(
        f"{device.url}{prefix}1/session", json={"customerName": "Maria Garcia"}
    ).json()["data"]
    reads = {
        "check-session": f"{prefix}1/check-session",
        "session-status": f"{prefix}1/session-status/{created['sessionId']}",
    }
    urls = {"ceiling": ceiling.url, "device": device.url}
    results: dict[str, Any] = {}
    for name, path in reads.items():

        def get(side: str, path: str = path) -> WrkResult:
            return wrk(urls[side] + path, seconds, CONNECTIONS)

        best = _best_of({"ceiling": get, "device": get})
        results[f"read {name}"] = {
            "device": _figures(best["device"]),
            "baseline": _figures(best["ceiling"]),
            "ratio": _ratio(best["device"], best["ceiling"]),
            "goal": 0.8,
        }
    return results


def _created(result: WrkResult, seconds: int) -> dict[str, float]:
    return {
        "created_per_s": round(result.counted["created"] / seconds, 1),
        "other": result.counted["other"],
        "p99_ms": round(result.latency_p99_ms, 2),
    }


def _compared(device: WrkResult, ceiling: WrkResult, seconds: int) -> dict[str, Any]:
    return {
        "device": _created(device, seconds),
        "baseline": _created(ceiling, seconds),
        "ratio": round(device.counted["created"] / ceiling.counted["created"], 3),
        "p99_ratio": round(device.latency_p99_ms / ceiling.latency_p99_ms, 2),
        "goal": WRITE_GOAL,
        "p99_goal": P99_GOAL,
    }


def _ceilings(cpus: str | None, *modes: str) -> dict[str, ServerProcess]:
    folder = Path(tempfile.mkdtemp(prefix="restai-bench-ceiling-"))
    return {mode: baseline_process(folder / f"{mode}.db", mode, cpus).start() for mode in modes}


def _session_figures(seconds: int, layout: str) -> dict[str, Any]:
    server_cpus, load_cpus = LAYOUTS[layout]
    prefix = f"/api/customer/{SLUG}/{SLUG}-"
    args = (str(TABLES), "0", prefix)
    modes = ("FULL", "NORMAL") if layout == "two cores" else ("NORMAL",)
    ceilings = _ceilings(server_cpus, *modes)

    def on_ceiling(mode: str) -> WrkResult:
        url = ceilings[mode].url + prefix
        return wrk(url, seconds, CONNECTIONS, SESSIONS_SCRIPT, *args, cpus=load_cpus)

    def on_device(_: str) -> WrkResult:
        # Every 201 takes a table for good: each device run gets a fresh branch.
        device = settled(device_process(provisioned_device(TABLES), cpus=server_cpus).start())
        try:
            url = device.url + prefix
            result = wrk(url, seconds, CONNECTIONS, SESSIONS_SCRIPT, *args, cpus=load_cpus)
        finally:
            device.stop()
        if result.counted["created"] >= TABLES - TABLES // CONNECTIONS:
            raise RuntimeError(f"the device took nearly all {TABLES:,} tables: raise TABLES")
        return result

    try:
        best = _best_of({**dict.fromkeys(modes, on_ceiling), "device": on_device}, by="created")
    finally:
        for ceiling in ceilings.values():
            ceiling.stop()
    return {f"vs {mode}": _compared(best["device"], best[mode], seconds) for mode in modes}


def _chosen_modifiers(item: dict[str, Any]) -> list[str]:
    """What a diner picks: every group's minimum, and one extra where a group allows more."""
    chosen = []
    for group in item["modifier_groups"]:
        offered = [modifier["id"] for modifier in group["modifiers"] if modifier["is_available"]]
        chosen += offered[: max(group["min_selections"], 1)][: group["max_selections"]]
    return chosen


def _order_body(device: ServerProcess) -> dict[str, Any]:
    """Three lines of the demo menu, those with modifier groups first, each with its choices."""
    menu = httpx.get(f"{device.url}/api/customer/{SLUG}/{SLUG}-1/menu").json()["data"]
    available = [item for item in menu["items"] if item["is_available"]]
    items = sorted(available, key=lambda item: not item["modifier_groups"])[:ORDER_LINES]
    assert len(items) == ORDER_LINES, "the demo menu has too few items"
    return {
        "items": [
            {
                "menuItemId": item["id"],
                "quantity": quantity,
                "notes": "sin picante",
                "modifiers": _chosen_modifiers(item),
            }
            for quantity, item in enumerate(items, start=1)
        ]
    }


def _order_device(cpus: str | None) -> tuple[ServerProcess, list[str]]:
    """A device with the demo menu whose diners' tables are open (auto-approved)."""
    data_dir = provisioned_device(ORDER_DINERS + 1)
    cli = [sys.executable, "-m", "provisioning", "--data-dir", str(data_dir)]
    subprocess.run([*cli, "menu", "import", str(DEMO_MENU)], check=True, capture_output=True)
    subprocess.run([*cli, "settings", "auto_approve", "true"], check=True, capture_output=True)
    device = settled(device_process(data_dir, cpus=cpus).start())
    tokens = []
    for number in range(1, ORDER_DINERS + 1):
        answer = httpx.post(
            f"{device.url}/api/customer/{SLUG}/{SLUG}-{number}/session",
            json={"customerName": f"Comensal {number}"},
        )
        tokens.append(answer.json()["data"]["token"])
    return device, tokens


def _ceiling_tokens() -> list[str]:
    now = int(time.time())
    return [
        jwt.encode({"sub": str(uuid.uuid4()), "iat": now, "exp": now + 3600}, baseline.SECRET)
        for _ in range(ORDER_DINERS)
    ]


def _order_figures(seconds: int, layout: str) -> dict[str, Any]:
    server_cpus, load_cpus = LAYOUTS[layout]
    folder = Path(tempfile.mkdtemp(prefix="restai-bench-orders-"))
    device, device_tokens = _order_device(server_cpus)
    ceiling = _ceilings(server_cpus, "NORMAL")["NORMAL"]
    try:
        body = folder / "body.json"
        body.write_text(json.dumps(_order_body(device)))
        tokens = {"device": device_tokens, "ceiling": _ceiling_tokens()}
        urls = {"device": device.url, "ceiling": ceiling.url}
        for side, found in tokens.items():
            (folder / f"{side}.tokens").write_text("\n".join(found) + "\n")

        def place(side: str) -> WrkResult:
            files = (str(folder / f"{side}.tokens"), str(body))
            return wrk(urls[side], seconds, CONNECTIONS, ORDERS_SCRIPT, *files, cpus=load_cpus)

        best = _best_of({"ceiling": place, "device": place}, by="created")
    finally:
        device.stop()
        ceiling.stop()
    return {"vs NORMAL": _compared(best["device"], best["ceiling"], seconds)}


def run(seconds: int = 4) -> dict[str, Any]:
    device = settled(device_process(provisioned_device(TABLES)).start())
    ceiling = baseline_process(Path(tempfile.mkdtemp()) / "baseline.db").start()
    try:
        results = _read_figures(device, ceiling, seconds)
    finally:
        device.stop()
        ceiling.stop()
    for layout in LAYOUTS:
        results[f"write session, {layout}"] = _session_figures(seconds, layout)
        results[f"write order, {layout}"] = _order_figures(seconds, layout)
    return results


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
