"""Benchmark: drain a backlog of finished sessions to the reference central while diners are served.

A provisioned device is served by a real `restai-edge serve` process and the reference central
runs as another. Diners' `check-session` latency is measured first on a quiet device; then a
backlog of finished sessions with their outbox rows is written straight into the store (as a
day offline would leave it) and the serving device drains it on its own while the same
`check-session` calls go on. Goal: 10,000 sessions in under 30 s, diners barely slowed.

    python -m bench.sync_drain [--sessions 10000] [--goal 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.device import device_process
from bench.latency import percentile, summary
from edge.clock import iso
from provisioning.provision import ProvisionRequest, provision
from sync.central.harness import CentralDev

TOKEN = "bench-device-token-9d2c71e0"
SLUG = "bench-branch"
TABLES = 200
BASELINE_SECONDS = 3.0


def _payload(session_id: str, table: dict[str, Any], ended: float) -> dict[str, Any]:
    """A finished session shaped like `sync.outbox.session_record`: two diners, three orders."""
    started = iso(ended - 3600)
    orders = []
    for number in range(3):
        items = [
            {
                "id": str(uuid.uuid4()),
                "menu_item_id": str(uuid.uuid4()),
                "name": f"Plato {number}-{line}",
                "quantity": 2,
                "unit_price": 3500,
                "subtotal": 7000,
                "notes": None,
                "status": "completed",
            }
            for line in range(2)
        ]
        orders.append(
            {
                "id": str(uuid.uuid4()),
                "order_number": number + 1,
                "status": "completed",
                "items": items,
                "subtotal": 14000,
                "tax": 2520,
                "total": 16520,
                "created_at": started,
            }
        )
    diners = [
        {
            "id": str(uuid.uuid4()),
            "name": name,
            "phone": None,
            "email": None,
            "birth_date": None,
            "marketing_opt_in": False,
            "joined_at": started,
        }
        for name in ("Carlos Rodriguez", "Lucia Fernandez")
    ]
    return {
        "id": session_id,
        "status": "completed",
        "reason": None,
        "customer_name": "Carlos Rodriguez",
        "customer_phone": None,
        "started_at": started,
        "approved_at": started,
        "ended_at": iso(ended),
        "subtotal": 42000,
        "tax": 7560,
        "total": 49560,
        "table_id": table["id"],
        "table_number": table["number"],
        "table_code": table["code"],
        "diners": diners,
        "orders": orders,
    }


def insert_backlog(db_path: Path, count: int) -> tuple[int, float]:
    """Write `count` finished sessions and their outbox rows in one transaction; returns the
    average payload size in bytes and the time of the commit."""
    db = sqlite3.connect(db_path, timeout=30, isolation_level=None)
    try:
        db.row_factory = sqlite3.Row
        tables = db.execute("SELECT id, branch_id, number, code FROM tables").fetchall()
        now = time.time()
        sessions, rows = [], []
        for index in range(count):
            table = tables[index % len(tables)]
            session_id = str(uuid.uuid4())
            ended = now - count + index
            payload = json.dumps(_payload(session_id, dict(table), ended))
            started = iso(ended - 3600)
            sessions.append(
                (session_id, table["branch_id"], table["id"], started, started, iso(ended))
            )
            rows.append((session_id, payload, ended))
        db.execute("BEGIN IMMEDIATE")
        db.executemany(
            "INSERT INTO sessions (id, branch_id, table_id, customer_name, status, started_at,"
            " approved_at, ended_at, subtotal, tax, total)"
            " VALUES (?, ?, ?, 'Carlos Rodriguez', 'completed', ?, ?, ?, 42000, 7560, 49560)",
            sessions,
        )
        db.executemany(
            "INSERT INTO outbox (topic, session_id, payload, enqueued_at)"
            " VALUES ('sessions', ?, ?, ?)",
            rows,
        )
        db.execute("COMMIT")
        committed = time.time()
        return sum(len(row[1]) for row in rows) // max(count, 1), committed
    finally:
        db.close()


def _waiting(db_path: Path) -> int:
    with sqlite3.connect(db_path, timeout=30) as db:
        return int(
            db.execute("SELECT count(*) FROM outbox WHERE acknowledged_at IS NULL").fetchone()[0]
        )


def _last_ack(db_path: Path) -> float:
    with sqlite3.connect(db_path, timeout=30) as db:
        return float(db.execute("SELECT max(acknowledged_at) FROM outbox").fetchone()[0])


@contextmanager
def serving(data_dir: Path, log_path: Path) -> Iterator[str]:
    device = device_process(data_dir, log_path, RESTAI_EDGE_SYNC_INTERVAL="1").start(30)
    try:
        yield device.url
    finally:
        device.stop(15)


def _summary(latencies: list[float]) -> str:
    ordered = sorted(latency * 1000 for latency in latencies)
    figures = summary(ordered)
    return (
        f"n={figures['n']} p50={figures['p50_ms']:.1f} ms p95={percentile(ordered, 0.95):.1f} ms"
        f" p99={figures['p99_ms']:.1f} ms max={figures['max_ms']:.1f} ms"
    )


def run(sessions: int = 10_000, goal: float = 30.0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="restai-bench-") as tmp:
        workdir = Path(tmp)
        central = CentralDev(workdir / "central", TOKEN).start()
        try:
            data_dir = workdir / "device"
            request = ProvisionRequest(
                branch_slug=SLUG,
                branch_name="Bench Branch",
                tables=TABLES,
                central_url=central.url,
                device_token=TOKEN,
            )
            asyncio.run(provision(data_dir, request))
            db_path = data_dir / "edge.db"
            with serving(data_dir, workdir / "device.log") as url, httpx.Client() as diner:
                check = f"{url}/api/customer/{SLUG}/{SLUG}-1/check-session"
                opened = diner.post(
                    f"{url}/api/customer/{SLUG}/{SLUG}-1/session", json={"customerName": "Ana"}
                )
                opened.raise_for_status()

                def timed() -> float:
                    started = time.perf_counter()
                    answer = diner.get(check)
                    elapsed = time.perf_counter() - started
                    answer.raise_for_status()
                    return elapsed

                baseline: list[float] = []
                quiet_until = time.monotonic() + BASELINE_SECONDS
                while time.monotonic() < quiet_until:
                    baseline.append(timed())

                began = time.perf_counter()
                size, committed = insert_backlog(db_path, sessions)
                inserted = time.perf_counter() - began

                during: list[float] = []
                next_poll = 0.0
                while True:
                    during.append(timed())
                    if time.monotonic() >= next_poll:
                        if _waiting(db_path) == 0:
                            break
                        next_poll = time.monotonic() + 0.1
                    if time.time() - committed > 10 * goal:
                        raise RuntimeError("the backlog did not drain")
                last_ack = _last_ack(db_path)

            stats = central.stats()
        finally:
            central.stop()

    log = stats["request_log"]
    first_request = min(entry["at"] for entry in log)
    drain = last_ack - first_request
    total = last_ack - committed
    sizes = stats["batch_sizes"]
    return {
        "sessions": sessions,
        "bytes_per_session": size,
        "backlog_written_s": round(inserted, 2),
        "central_stored": stats["sessions"],
        "duplicates": stats["duplicates"],
        "requests": stats["requests"],
        "batch_sizes": [min(sizes), max(sizes)],
        "drain_s": round(drain, 2),
        "sessions_per_s": round(sessions / drain),
        "written_to_last_ack_s": round(total, 2),
        "check_session_before": _summary(baseline),
        "check_session_during": _summary(during),
        "goal_s": goal,
        "met": stats["sessions"] == sessions and total < goal,
    }


def report(figures: dict[str, Any]) -> None:
    print(
        f"backlog:              {figures['sessions']} sessions,"
        f" ~{figures['bytes_per_session']} bytes each"
    )
    print(
        f"backlog written in:   {figures['backlog_written_s']:.2f} s"
        " (one transaction, beside the serving device)"
    )
    print(
        f"central stored:       {figures['central_stored']} sessions,"
        f" {figures['duplicates']} duplicates"
    )
    low, high = figures["batch_sizes"]
    print(f"requests:             {figures['requests']} (batch sizes {low}..{high})")
    print(
        f"drain, first request to last ack:  {figures['drain_s']:.2f} s"
        f"  -> {figures['sessions_per_s']:,} sessions/s"
    )
    print(
        f"drain, backlog written to last ack: {figures['written_to_last_ack_s']:.2f} s"
        " (includes waiting for the timer)"
    )
    print(f"check-session before: {figures['check_session_before']}")
    print(f"check-session during: {figures['check_session_during']}")
    verdict = "met" if figures["met"] else "MISSED"
    print(f"goal (all {figures['sessions']} in under {figures['goal_s']:g} s): {verdict}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sync_drain", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--sessions", type=int, default=10_000, help="backlog size")
    parser.add_argument("--goal", type=float, default=30.0, help="seconds the drain may take")
    args = parser.parse_args(argv)
    figures = run(args.sessions, args.goal)
    report(figures)
    if not figures["met"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
