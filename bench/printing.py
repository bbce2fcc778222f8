"""Ordering latency while the kitchen printer is fine, switched off, or stuck.

One device, one diner placing orders and a manager confirming each one (which queues its
ticket, in the same transaction), `SAMPLES` times per scenario:

- no printer: the reference;
- printer up: a pretend printer (`DevPrinter`) that prints everything;
- printer off: its port refuses connections, so every attempt fails and backs off;
- printer stuck: it accepts connections and never reads (out of paper), so every attempt runs
  into its deadline with the ticket half sent.

Latency is each HTTP request's, from send to answer, on a kept-alive connection.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from typing import Any

import httpx

from bench.device import MANAGER_PIN, SLUG, device_process, provisioned_device
from bench.latency import summary
from edge.catalog import apply_catalog, parse_menu_document
from edge.store import Store
from provisioning.printer_dev import DevPrinter
from provisioning.server_process import free_port

SAMPLES = 150
# Ten lines with long notes: about 4 KB, more than a stuck printer's receive window takes.
LINES = 10
GOAL_P99_MS = 20.0
DISH = str(uuid.uuid4())
MENU = {
    "currency": "PEN",
    "taxRate": 1800,
    "categories": [
        {"name": "Fondos", "items": [{"id": DISH, "name": "Ají de gallina", "price": 3600}]}
    ],  # fmt: skip
}


def _cli(data_dir: Any, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "provisioning", "--data-dir", str(data_dir), *args],
        check=True,
        capture_output=True,
    )


def _orders(client: httpx.Client, url: str, table: int, staff: str) -> dict[str, list[float]]:
    code = f"{SLUG}-{table}"
    joined = client.post(
        f"{url}/api/customer/{SLUG}/{code}/session", json={"customerName": "Carlos Rodríguez"}
    ).json()["data"]
    manager = {"Authorization": f"Bearer {staff}"}
    client.patch(f"{url}/api/tables/sessions/{joined['sessionId']}/approve", headers=manager)
    diner = {"Authorization": f"Bearer {joined['token']}"}
    lines = [{"menuItemId": DISH, "quantity": 1, "notes": "sin picante " * 30}] * LINES
    placed, confirmed = [], []
    for _ in range(SAMPLES):
        started = time.perf_counter()
        answer = client.post(f"{url}/api/customer/orders", json={"items": lines}, headers=diner)
        placed.append((time.perf_counter() - started) * 1000)
        order_id = answer.json()["data"]["id"]
        started = time.perf_counter()
        moved = client.patch(
            f"{url}/api/orders/{order_id}/status", json={"status": "confirmed"}, headers=manager
        )
        confirmed.append((time.perf_counter() - started) * 1000)
        assert moved.status_code == 200, moved.text
    return {"place": placed, "confirm": confirmed}


def run() -> dict[str, Any]:
    data_dir = provisioned_device(10)

    async def menu() -> None:
        async with Store(data_dir / "edge.db") as store:
            await apply_catalog(
                store, parse_menu_document(json.dumps(MENU).encode()), source="file"
            )

    asyncio.run(menu())
    server = device_process(
        data_dir, RESTAI_EDGE_PRINT_TIMEOUT="2", RESTAI_EDGE_PRINT_RETRY_CAP="2"
    ).start()
    results: dict[str, Any] = {}
    printer: DevPrinter | None = None
    try:
        with httpx.Client(timeout=30) as client:
            staff = client.post(f"{server.url}/api/auth/staff/login", json={"pin": MANAGER_PIN})
            token = staff.json()["data"]["token"]
            scenarios = [("no printer", None), ("printer up", True), ("printer off", None),
                         ("printer stuck", False)]  # fmt: skip
            for table, (name, reading) in enumerate(scenarios, start=1):
                if name != "no printer":
                    printer = DevPrinter(port=free_port())
                    if reading is not None:
                        printer.start(reading=reading)
                    _cli(data_dir, "printer", "add", "--name", f"p{table}", "--host",
                         "127.0.0.1", "--port", str(printer.port))  # fmt: skip
                    time.sleep(3)  # the device picks up printers every 2 s
                taken = _orders(client, server.url, table, token)
                entry: dict[str, Any] = {key: summary(v) for key, v in taken.items()}
                if printer is not None:
                    if reading:
                        deadline = time.monotonic() + 30
                        while len(printer.tickets()) < SAMPLES and time.monotonic() < deadline:
                            time.sleep(0.1)
                    entry["tickets_printed"] = len(printer.tickets())
                    printer.stop()
                    _cli(data_dir, "printer", "remove", f"p{table}")
                    printer = None
                entry["met"] = entry["confirm"]["p99_ms"] < GOAL_P99_MS
                results[name] = entry
    finally:
        if printer is not None:
            printer.stop()
        server.stop()
    return results


def rows(results: dict[str, Any]) -> list[str]:
    """Table rows for `python -m bench`: confirming an order with each printer state, against
    the same run without a printer (the "ceiling" column)."""
    reference = results.get("no printer")
    lines = []
    for name, entry in results.items():
        confirm = entry["confirm"]
        device = f"p50 {confirm['p50_ms']:.1f} ms, p99 {confirm['p99_ms']:.1f} ms"
        if reference is None or name == "no printer":
            ceiling, ratio = "-", "-"
        else:
            base = reference["confirm"]
            ceiling = f"p50 {base['p50_ms']:.1f} ms, p99 {base['p99_ms']:.1f} ms"
            ratio = f"p99 x{confirm['p99_ms'] / base['p99_ms']:.2f}"
        lines.append(
            f"| confirm an order, {name} | {device} | {ceiling} | {ratio} |"
            f" p99 < {GOAL_P99_MS:.0f} ms | {'yes' if entry['met'] else 'NO'} |"
        )
    return lines


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
