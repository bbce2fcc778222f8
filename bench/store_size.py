"""How big the store grows: bytes per finished session, and a year of a busy branch.

1. A real device serves `SESSIONS` whole table visits over HTTP, as a busy branch has them: a
   diner opens the table, staff approve, two orders of three lines (with the modifiers the menu
   asks for), a call to the waiter that staff handle, every order through the kitchen, the bill,
   the end. Bytes per session are the store's growth (pages in use, per table and index from
   SQLite's `dbstat`) divided by the sessions; events are reported apart, as they are kept only
   `RESTAI_EDGE_EVENT_RETENTION` (15 minutes) for catch-up.
2. A year: those sessions' rows are copied, with fresh ids and dates, 300 a day for 365 days
   into a copy of the store, and the retention pass the device runs (`edge.retention`, default
   90 days, no central configured) runs once a day with the clock of that day. The store's file
   size at the end, and its largest over the year, must stay under 500 MB.

`python -m bench.store_size [--sessions N] [--days D]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sqlite3
import tempfile
import time
import uuid
from importlib import resources
from pathlib import Path
from typing import Any

import httpx

from bench.device import MANAGER_PIN, SLUG, device_process, provisioned_device
from edge import retention
from edge.catalog import apply_catalog, parse_menu_document
from edge.clock import iso
from edge.store import Store

SESSIONS = 100
PER_DAY = 300
DAYS = 365
RETENTION_DAYS = 90
GOAL_MB = 500
# Tables the workload writes per session, copied by the year simulation (parents first).
SESSION_TABLES = (
    "sessions",
    "diners",
    "orders",
    "order_items",
    "order_item_modifiers",
    "table_requests",
    "outbox",
)
ORDER_FLOW = ("confirmed", "preparing", "ready", "served")


def _used_bytes(db: Path) -> dict[str, int]:
    """Bytes in use per table (its indexes counted with it), from SQLite's dbstat."""
    conn = sqlite3.connect(db)
    try:
        owner = {
            name: table for name, table in conn.execute("SELECT name, tbl_name FROM sqlite_schema")
        }
        sizes: dict[str, int] = {}
        for name, used in conn.execute(
            "SELECT name, sum(pgsize - unused) FROM dbstat GROUP BY name"
        ):
            table = owner.get(name, name)
            sizes[table] = sizes.get(table, 0) + used
        return sizes
    finally:
        conn.close()


def _menu_lines(client: httpx.Client, base: str, table: str) -> list[dict[str, Any]]:
    """Three lines a diner would order, each with the modifiers its groups require."""
    menu = client.get(f"{base}/api/customer/{SLUG}/{table}/menu").json()["data"]
    lines = []
    for item in [i for i in menu["items"] if i["is_available"]][:3]:
        chosen = []
        for group in item.get("modifier_groups", []):
            wanted = max(group["min_selections"], 1 if group["max_selections"] else 0)
            chosen += [m["id"] for m in group["modifiers"] if m["is_available"]][:wanted]
        lines.append({"menuItemId": item["id"], "quantity": 2, "modifiers": chosen})
    return lines


def _visit(client: httpx.Client, base: str, staff: dict[str, str], table: str, n: int) -> None:
    def ok(answer: httpx.Response) -> dict[str, Any]:
        assert answer.status_code in (200, 201), f"{answer.request.url}: {answer.text}"
        return dict(answer.json()["data"])

    opened = ok(
        client.post(
            f"{base}/api/customer/{SLUG}/{table}/session",
            json={"customerName": f"Comensal Numero {n}", "customerPhone": "+51912345678"},
        )
    )
    session_id = opened["sessionId"]
    diner = {"Authorization": f"Bearer {opened['token']}"}
    ok(client.patch(f"{base}/api/tables/sessions/{session_id}/approve", headers=staff))
    lines = _menu_lines(client, base, table)
    orders = [
        ok(
            client.post(
                f"{base}/api/customer/orders",
                json={"items": lines, "notes": "Sin aji, por favor"},
                headers={**diner, "Idempotency-Key": str(uuid.uuid4())},
            )
        )
        for _ in range(2)
    ]
    call = ok(
        client.post(
            f"{base}/api/customer/table-action",
            json={"action": "call_waiter", "tableSessionId": session_id},
            headers=diner,
        )
    )
    ok(client.patch(f"{base}/api/tables/requests/{call['requestId']}/done", headers=staff))
    for order in orders:
        for status in ORDER_FLOW:
            ok(
                client.patch(
                    f"{base}/api/orders/{order['id']}/status",
                    json={"status": status},
                    headers=staff,
                )
            )
    ok(client.patch(f"{base}/api/tables/sessions/{session_id}/end", headers=staff))


def _serve_sessions(data_dir: Path, sessions: int) -> float:
    server = device_process(data_dir).start()
    started = time.monotonic()
    try:
        with httpx.Client(timeout=30) as client:
            login = client.post(f"{server.url}/api/auth/staff/login", json={"pin": MANAGER_PIN})
            staff = {"Authorization": f"Bearer {login.json()['data']['token']}"}
            for n in range(sessions):
                _visit(client, server.url, staff, f"{SLUG}-{n % 50 + 1}", n)
    finally:
        server.stop()
    return time.monotonic() - started


async def _demo_menu(data_dir: Path) -> None:
    menu = resources.files("provisioning").joinpath("demo_menu.json").read_bytes()
    async with Store(data_dir / "edge.db") as store:
        await apply_catalog(store, parse_menu_document(menu), source="file")


def measure_sessions(sessions: int) -> tuple[Path, dict[str, Any]]:
    data_dir = provisioned_device(tables=50)
    asyncio.run(_demo_menu(data_dir))
    db = data_dir / "edge.db"
    before = _used_bytes(db)
    seconds = _serve_sessions(data_dir, sessions)
    after = _used_bytes(db)
    growth = {
        table: after.get(table, 0) - before.get(table, 0)
        for table in after
        if after.get(table, 0) != before.get(table, 0)
    }
    kept = {table: size for table, size in growth.items() if table != "events"}
    per_table = {
        table: round(size / sessions) for table, size in sorted(kept.items(), key=lambda i: -i[1])
    }
    return data_dir, {
        "sessions": sessions,
        "served_in_s": round(seconds, 1),
        "bytes_per_session": round(sum(kept.values()) / sessions),
        "bytes_per_session_by_table": per_table,
        "event_bytes_per_session_transient": round(growth.get("events", 0) / sessions),
    }


# --------------------------------------------------------------------------- a year


Bundle = dict[str, list[dict[str, Any]]]  # table -> the rows of one session


def _bundles(conn: sqlite3.Connection) -> list[Bundle]:
    """Every finished session with all its rows, per table, to copy."""
    conn.row_factory = sqlite3.Row

    def rows(sql: str, *params: Any) -> list[dict[str, Any]]:
        return [dict(row) for row in conn.execute(sql, params)]

    bundles = []
    for session in rows("SELECT * FROM sessions WHERE status = 'completed'"):
        sid = session["id"]
        items = rows(
            "SELECT * FROM order_items WHERE order_id IN"
            " (SELECT id FROM orders WHERE session_id = ?)",
            sid,
        )
        bundles.append(
            {
                "sessions": [session],
                "diners": rows("SELECT * FROM diners WHERE session_id = ?", sid),
                "orders": rows("SELECT * FROM orders WHERE session_id = ?", sid),
                "order_items": items,
                "order_item_modifiers": [
                    row
                    for item in items
                    for row in rows(
                        "SELECT * FROM order_item_modifiers WHERE order_item_id = ?", item["id"]
                    )
                ],
                "table_requests": rows("SELECT * FROM table_requests WHERE session_id = ?", sid),
                "outbox": rows("SELECT * FROM outbox WHERE session_id = ?", sid),
            }
        )
    conn.row_factory = None
    return bundles


def _copy_day(
    conn: sqlite3.Connection, bundles: list[Bundle], day_start: float, numbers: list[int]
) -> None:
    """PER_DAY sessions ended on the day starting at `day_start`: copies of the served ones,
    every id fresh, spread over the day. `numbers` holds the last order number given."""
    rows: dict[str, list[dict[str, Any]]] = {table: [] for table in SESSION_TABLES}
    for n in range(PER_DAY):
        bundle = bundles[n % len(bundles)]
        fresh = {
            row["id"]: str(uuid.uuid4())
            for table in SESSION_TABLES
            for row in bundle[table]
            if isinstance(row.get("id"), str)
        }
        for table in SESSION_TABLES:
            for row in bundle[table]:
                copy = {k: fresh.get(v, v) if isinstance(v, str) else v for k, v in row.items()}
                if table == "sessions":
                    copy["ended_at"] = iso(day_start + n * (86400 / PER_DAY))
                elif table == "orders":
                    numbers[0] += 1
                    copy["order_number"] = numbers[0]
                elif table == "outbox":
                    del copy["id"]
                rows[table].append(copy)
    conn.execute("BEGIN IMMEDIATE")
    for table in SESSION_TABLES:
        if rows[table]:
            columns = list(rows[table][0])
            conn.executemany(
                f"INSERT INTO {table} ({', '.join(columns)})"
                f" VALUES ({', '.join('?' * len(columns))})",
                [[row[c] for c in columns] for row in rows[table]],
            )
    conn.execute("COMMIT")


def simulate_year(data_dir: Path, days: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="restai-bench-year-"))
    db = work / "edge.db"
    shutil.copyfile(data_dir / "edge.db", db)
    db.chmod(0o600)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    # The copying is the bench's own doing, not the device's: no fsync per simulated day.
    conn.execute("PRAGMA synchronous = OFF")
    bundles = _bundles(conn)
    for table in reversed(SESSION_TABLES):
        conn.execute(f"DELETE FROM {table}")
    conn.execute("DELETE FROM events")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    year_start = time.time() - days * 86400
    largest = 0
    started = time.monotonic()
    timings = {"copy": 0.0, "retention": 0.0}
    numbers = [conn.execute("SELECT coalesce(max(order_number), 0) FROM orders").fetchone()[0]]
    for day in range(days):
        started_day = time.monotonic()
        _copy_day(conn, bundles, year_start + day * 86400, numbers)
        timings["copy"] += time.monotonic() - started_day
        if day % 7 == 6 or day == days - 1:
            started_pass = time.monotonic()
            asyncio.run(_retention_pass(db, year_start + (day + 1) * 86400))
            timings["retention"] += time.monotonic() - started_pass
        largest = max(largest, db.stat().st_size)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    kept = conn.execute("SELECT count(*) FROM sessions").fetchone()[0]
    conn.close()
    size = db.stat().st_size
    shutil.rmtree(work)
    return {
        "days": days,
        "sessions_per_day": PER_DAY,
        "retention_days": RETENTION_DAYS,
        "sessions_kept_at_end": kept,
        "store_mb_at_end": round(size / 2**20, 1),
        "store_mb_largest": round(largest / 2**20, 1),
        "goal_mb": GOAL_MB,
        "met": largest < GOAL_MB * 2**20,
        "simulated_in_s": round(time.monotonic() - started, 1),
        "retention_passes_s": round(timings["retention"], 1),
    }


async def _retention_pass(db: Path, now: float) -> None:
    async with Store(db) as store:
        await retention.prune(store, RETENTION_DAYS, now=now)
        await retention.reclaim(store)


def run(sessions: int = SESSIONS, days: int = DAYS) -> dict[str, Any]:
    data_dir, per_session = measure_sessions(sessions)
    try:
        year = simulate_year(data_dir, days)
    finally:
        shutil.rmtree(data_dir.parent)
    without_retention = per_session["bytes_per_session"] * PER_DAY * 365 / 2**20
    return {
        **per_session,
        "year_without_retention_mb": round(without_retention),
        "year": year,
    }


def rows(figures: dict[str, Any]) -> list[str]:
    """The lines of `python -m bench`'s table (none for a run without this benchmark)."""
    if not figures:
        return []
    year = figures["year"]
    without = figures["year_without_retention_mb"]
    return [
        f"| store bytes per finished session | {figures['bytes_per_session']:,} B"
        f" (+ {figures['event_bytes_per_session_transient']:,} B of events for 15 min) | - | -"
        f" | - | - |",
        f"| store after {year['days']} days at {year['sessions_per_day']} sessions/day,"
        f" {year['retention_days']}-day retention | {year['store_mb_at_end']} MB (largest"
        f" {year['store_mb_largest']} MB) | without retention {without} MB | - |"
        f" < {year['goal_mb']} MB | {'yes' if year['met'] else 'NO'} |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.store_size", description=__doc__)
    parser.add_argument("--sessions", type=int, default=SESSIONS)
    parser.add_argument("--days", type=int, default=DAYS)
    args = parser.parse_args()
    print(json.dumps(run(args.sessions, args.days), indent=2))


if __name__ == "__main__":
    main()
