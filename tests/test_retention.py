"""Retention (#14 point 5): finished sessions past `RESTAI_EDGE_RETENTION_DAYS` leave the store
with every row that belongs to them, once the central has them (or at once when no central is
configured), the space goes back to the file system, and `status` says what it will remove.

The sessions are real table visits over HTTP (orders with modifiers, a call to the waiter,
realtime events, the outbox row); only their end is moved into the past, in the store.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

import httpx

from edge.catalog import apply_catalog, parse_menu_document
from edge.store import Store
from sync.central.harness import CentralDev
from tests.conftest import MANAGER_PIN, SLUG, EdgeServer, auth, provision_device

TOKEN = "retention-device-token-0123456789"
FAST = {"RESTAI_EDGE_MAINTENANCE_INTERVAL": "1", "RESTAI_EDGE_SYNC_INTERVAL": "1"}
DAY = 86400


def _with_demo_menu(data_dir: Path) -> None:
    async def apply() -> None:
        menu = resources.files("provisioning").joinpath("demo_menu.json").read_bytes()
        async with Store(data_dir / "edge.db") as store:
            await apply_catalog(store, parse_menu_document(menu), source="file")

    asyncio.run(apply())


def _ok(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code in (200, 201), f"{answer.request.url}: {answer.text}"
    return dict(answer.json()["data"])


def table_visit(server: EdgeServer, table: int, *, end: bool = True) -> str:
    """A diner sits down, staff approve, two orders with modifiers go through the kitchen, the
    waiter is called and comes, staff end the table (unless `end` is False)."""
    staff = auth(server.staff_token(MANAGER_PIN))
    code = f"{SLUG}-{table}"
    opened = _ok(
        httpx.post(
            server.customer_url(code, "session"),
            json={"customerName": "Carlos Rodriguez", "customerPhone": "+51912345678"},
        )
    )
    session_id, diner = opened["sessionId"], auth(opened["token"])
    _ok(httpx.patch(f"{server.url}/api/tables/sessions/{session_id}/approve", headers=staff))
    menu = _ok(httpx.get(server.customer_url(code, "menu")))
    lines = []
    for item in menu["items"][:3]:
        chosen = [
            modifier["id"]
            for group in item.get("modifier_groups", [])
            for modifier in group["modifiers"][: max(group["min_selections"], 1)]
        ]
        lines.append({"menuItemId": item["id"], "quantity": 1, "modifiers": chosen})
    for _ in range(2):
        order = _ok(
            httpx.post(f"{server.url}/api/customer/orders", json={"items": lines}, headers=diner)
        )
        for status in ("confirmed", "preparing", "ready", "served"):
            _ok(
                httpx.patch(
                    f"{server.url}/api/orders/{order['id']}/status",
                    json={"status": status},
                    headers=staff,
                )
            )
    call = _ok(
        httpx.post(
            f"{server.url}/api/customer/table-action",
            json={"action": "call_waiter", "tableSessionId": session_id},
            headers=diner,
        )
    )
    _ok(httpx.patch(f"{server.url}/api/tables/requests/{call['requestId']}/done", headers=staff))
    if end:
        _ok(httpx.patch(f"{server.url}/api/tables/sessions/{session_id}/end", headers=staff))
    return session_id


def _db(data_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(data_dir / "edge.db", timeout=10)


def age(data_dir: Path, session_ids: list[str], days: int) -> None:
    """Move the end of these sessions `days` into the past."""
    ended = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - days * DAY))
    with _db(data_dir) as db:
        db.executemany(
            "UPDATE sessions SET ended_at = ? WHERE id = ?", [(ended, i) for i in session_ids]
        )


def owned_ids(data_dir: Path, session_ids: list[str]) -> set[str]:
    """Every id a row of these sessions carries: the sessions, their diners, orders, order
    lines, table requests."""
    marks = ", ".join("?" * len(session_ids))
    with _db(data_dir) as db:
        found = set(session_ids)
        for sql in (
            f"SELECT id FROM diners WHERE session_id IN ({marks})",
            f"SELECT id FROM orders WHERE session_id IN ({marks})",
            f"SELECT id FROM table_requests WHERE session_id IN ({marks})",
            "SELECT id FROM order_items WHERE order_id IN"
            f" (SELECT id FROM orders WHERE session_id IN ({marks}))",
        ):
            found |= {row[0] for row in db.execute(sql, session_ids)}
    return found


def rows_naming(data_dir: Path, ids: set[str]) -> list[tuple[str, str]]:
    """(table, column) of every value anywhere in the store that is one of `ids`."""
    hits = []
    with _db(data_dir) as db:
        tables = [
            row[0]
            for row in db.execute(
                "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        for table in tables:
            cursor = db.execute(f"SELECT * FROM {table}")
            columns = [c[0] for c in cursor.description]
            for row in cursor:
                for column, value in zip(columns, row, strict=True):
                    if isinstance(value, str) and value in ids:
                        hits.append((table, column))
    return hits


def status(data_dir: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "provisioning", "--data-dir", str(data_dir), "status", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def wait_gone(data_dir: Path, session_ids: list[str], timeout: float = 20) -> None:
    marks = ", ".join("?" * len(session_ids))
    deadline = time.monotonic() + timeout
    while True:
        with _db(data_dir) as db:
            left = db.execute(
                f"SELECT count(*) FROM sessions WHERE id IN ({marks})", session_ids
            ).fetchone()[0]
        if not left:
            return
        assert time.monotonic() < deadline, f"{left} session(s) still kept after {timeout} s"
        time.sleep(0.2)


def test_old_sessions_leave_with_every_row_and_their_space(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    provision_device(data_dir, tables=10)
    _with_demo_menu(data_dir)
    server = EdgeServer(data_dir, FAST).start()
    old = [table_visit(server, n) for n in (1, 2, 3)]
    recent = table_visit(server, 4)
    active = table_visit(server, 5, end=False)
    server.stop()
    server.assert_clean_log()

    age(data_dir, old, 91)
    age(data_dir, [recent], 89)
    doomed = owned_ids(data_dir, old)
    kept = owned_ids(data_dir, [recent, active])
    before = status(data_dir)["store"]
    assert before["retention"] == {"days": 90, "due": 3, "held_for_sync": 0}
    assert before["finished_sessions"] == 4

    server = EdgeServer(data_dir, FAST).start()
    try:
        wait_gone(data_dir, old)
        time.sleep(1)  # the pass hands back the freed pages right after removing
    finally:
        server.stop()
    server.assert_clean_log()
    assert "Retention removed 3 finished session(s)" in server.log()

    assert rows_naming(data_dir, doomed) == []
    # What belongs to the recent and the active sessions is all still there.
    assert len(rows_naming(data_dir, kept)) >= len(kept)
    with _db(data_dir) as db:
        sessions = {row[0] for row in db.execute("SELECT id FROM sessions")}
        assert db.execute("PRAGMA freelist_count").fetchone()[0] == 0
    assert sessions == {recent, active}
    after = status(data_dir)["store"]
    assert after["retention"]["due"] == 0
    assert after["finished_sessions"] == 1
    assert after["free_bytes"] == 0


def test_sessions_the_central_has_not_taken_are_kept_past_the_retention(
    tmp_path: Path,
) -> None:
    central = CentralDev(tmp_path / "central", TOKEN).start()
    data_dir = tmp_path / "data"
    try:
        provision_device(data_dir, tables=10, central_url=central.url, device_token=TOKEN)
        _with_demo_menu(data_dir)
        server = EdgeServer(data_dir, FAST).start()
        synced = [table_visit(server, n) for n in (1, 2)]
        deadline = time.monotonic() + 20
        while status(data_dir)["sync"]["queue_depth"]:
            assert time.monotonic() < deadline, "the central never acknowledged"
            time.sleep(0.3)
    finally:
        central.stop()
    unsent = table_visit(server, 3)
    server.stop()

    age(data_dir, [*synced, unsent], 120)
    assert status(data_dir)["store"]["retention"] == {"days": 90, "due": 2, "held_for_sync": 1}

    server = EdgeServer(data_dir, FAST).start()
    try:
        wait_gone(data_dir, synced)
    finally:
        server.stop()
    with _db(data_dir) as db:
        left = [row[0] for row in db.execute("SELECT id FROM sessions")]
        waiting = db.execute(
            "SELECT count(*) FROM outbox WHERE session_id = ? AND acknowledged_at IS NULL",
            (unsent,),
        ).fetchone()[0]
    assert left == [unsent]
    assert waiting == 1
