"""Joining a table proves presence at it: the key printed in its QR code (`?k=`).

Someone elsewhere on the Wi-Fi who guesses a table code may still ask for a free table (staff
approve it by sight) but may not join one that is open, read its orders or add to its bill."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.conftest import (
    SLUG,
    EdgeServer,
    approve,
    auth,
    join_session,
    open_session,
    provision_device,
)
from tests.test_provision_cli import invoke, rows
from tests.test_qr import _decode
from tests.test_realtime import listening

KEY = re.compile(r"[23456789ABCDEFGHJKMNPQRSTVWXYZ]{10}")
REQUIRED = {
    "code": "TABLE_KEY_REQUIRED",
    "message": "Escanea el codigo QR de tu mesa para unirte",
}


def open_table(server: EdgeServer, token: str, name: str = "Juan Perez") -> tuple[str, dict]:
    """A table with an approved first diner, who gave a phone number."""
    table = server.table_code()
    first = httpx.post(
        server.customer_url(table, "session"),
        json={"customerName": name, "customerPhone": "+51912345678"},
    ).json()["data"]
    assert approve(server, token, first["sessionId"]).status_code == 200
    return table, first


def ask(server: EdgeServer, table: str, **body: object) -> httpx.Response:
    return httpx.post(server.customer_url(table, "session"), json={"customerName": "Eve", **body})


@pytest.mark.parametrize("path", ["session", "register"])
def test_joining_an_open_table_without_its_key_is_refused(
    server: EdgeServer, manager_token: str, path: str
) -> None:
    table, first = open_table(server, manager_token)
    other = server.table_code()
    for body in (
        {},
        {"tableKey": ""},
        {"tableKey": "2345678923"},
        {"tableKey": server.table_key(other)},
    ):
        answer = httpx.post(server.customer_url(table, path), json={"customerName": "Eve", **body})
        assert answer.status_code == 403, (body, answer.text)
        assert answer.json() == {"success": False, "error": REQUIRED}
        assert "token" not in answer.text and "+51912345678" not in answer.text
    # Nobody was added to the table, and its orders stay its own.
    staff_view = httpx.get(f"{server.url}/api/tables", headers=auth(manager_token)).json()
    (row,) = [t for t in staff_view["data"] if t["code"] == table]
    assert [d["name"] for d in row["session"]["diners"]] == ["Juan Perez"]


def test_the_right_key_joins_without_seeing_the_first_diners_phone(
    server: EdgeServer, manager_token: str
) -> None:
    table, first = open_table(server, manager_token)
    joined = join_session(server, table, "Rosa Quispe")
    assert joined["existing"] is True and joined["sessionId"] == first["sessionId"]
    assert joined["token"] != first["token"]
    assert joined["session"]["customer_phone"] is None
    assert "+51912345678" not in str(joined)
    # The key is not case-folded or trimmed into matching: it is the printed one or nothing.
    assert ask(server, table, tableKey=server.table_key(table).lower()).status_code == 403


def test_starting_a_session_on_a_free_table_never_needs_the_key(server: EdgeServer) -> None:
    created = open_session(server, server.table_code())
    assert created["session"]["status"] == "pending"
    # A key that is wrong does not matter either: staff approve a new table by sight.
    wrong = ask(server, server.table_code(), tableKey="WRONGWRONG")
    assert wrong.status_code == 201, wrong.text


def test_a_pending_table_is_still_409_whatever_the_key(server: EdgeServer) -> None:
    table = server.table_code()
    open_session(server, table)
    for body in ({}, {"tableKey": server.table_key(table)}):
        answer = ask(server, table, **body)
        assert answer.status_code == 409
        assert answer.json()["error"]["code"] == "SESSION_PENDING"


@pytest.mark.asyncio
async def test_staff_see_who_joined_which_table(server: EdgeServer, manager_token: str) -> None:
    table, first = await asyncio.to_thread(open_table, server, manager_token, "Juan Perez")
    async with listening(server, manager_token) as staff:
        await asyncio.to_thread(join_session, server, table, "Rosa Quispe")
        event = await staff.wait_for("session:joined", sessionId=first["sessionId"])
    assert event["customerName"] == "Rosa Quispe"
    assert event["tableNumber"] == int(table.rsplit("-", 1)[1])
    async with httpx.AsyncClient() as http:
        board = await http.get(f"{server.url}/api/tables", headers=auth(manager_token))
    (row,) = [t for t in board.json()["data"] if t["code"] == table]
    diners = row["session"]["diners"]
    assert [d["name"] for d in diners] == ["Juan Perez", "Rosa Quispe"]
    assert all(set(d) >= {"id", "name", "joined_at"} for d in diners)


def test_join_policies(make_server) -> None:  # type: ignore[no-untyped-def]
    edge = make_server()
    shown = edge.cli("settings", "join_policy").stdout
    assert shown.startswith('join_policy = "key"'), "key is not the default join policy"
    token = edge.staff_token()

    edge.cli("settings", "join_policy", "open")
    table, _ = open_table(edge, token)
    # The seed page's rule: anyone may join (the device applies a change within 5 s).
    answer = _eventually(lambda: ask(edge, table), 200)
    assert answer.json()["data"]["existing"] is True
    assert answer.json()["data"]["session"]["customer_phone"] is None

    edge.cli("settings", "join_policy", "closed")
    closed = _eventually(lambda: ask(edge, table, tableKey=edge.table_key(table)), 200, "token")
    assert closed.json() == {"success": True, "data": {"status": "active"}}

    edge.cli("settings", "join_policy", "key")
    assert _eventually(lambda: ask(edge, table), 403).json()["error"] == REQUIRED


def _eventually(request, status: int, absent: str = "", timeout: float = 6.0) -> httpx.Response:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        answer = request()
        if answer.status_code == status and (not absent or absent not in answer.text):
            return answer
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.2)


def test_rotating_a_key_ends_the_old_qr_at_once(make_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    edge = make_server(tables=4)
    token = edge.staff_token()
    table, _ = open_table(edge, token)
    number = int(table.rsplit("-", 1)[1])
    before = {code: edge.table_key(code) for code in (f"{SLUG}-{n}" for n in range(1, 5))}

    rotated = edge.cli("qr", "--rotate-keys", str(number))
    assert f"New keys for 1 table(s) ({number})" in rotated.stdout
    after = {code: edge.table_key(code) for code in before}
    assert after[table] != before[table] and KEY.fullmatch(after[table])
    assert {c: k for c, k in after.items() if c != table} == {
        c: k for c, k in before.items() if c != table
    }
    # The serving device reads the key from the store: the old QR stops working at once.
    assert ask(edge, table, tableKey=before[table]).status_code == 403
    assert ask(edge, table, tableKey=after[table]).status_code == 200


def test_rotating_keys_then_printing_them(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    provision_device(data_dir, tables=5)
    old = dict(rows(data_dir / "edge.db", "SELECT number, table_key FROM tables"))
    out = tmp_path / "cards"
    done = invoke(data_dir, "qr", "--rotate-keys", "2,4", "--out", str(out))
    assert done.exit_code == 0, done.output
    new = dict(rows(data_dir / "edge.db", "SELECT number, table_key FROM tables"))
    assert [n for n in new if new[n] != old[n]] == [2, 4]
    assert sorted(p.name for p in out.iterdir()) == [
        "mesa-002.png",
        "mesa-002.svg",
        "mesa-004.png",
        "mesa-004.svg",
    ]
    with Image.open(out / "mesa-004.png") as png:
        assert _decode(png) == [f"http://127.0.0.1:8000/{SLUG}/{SLUG}-4?k={new[4]}"]
    bad = invoke(data_dir, "qr", "--rotate-keys", "9")
    assert bad.exit_code == 1 and "--rotate-keys: Table 9" in bad.stderr
    assert dict(rows(data_dir / "edge.db", "SELECT number, table_key FROM tables")) == new
    missing = invoke(data_dir, "qr")
    assert missing.exit_code == 2 and "Missing option '--out'" in missing.stderr


def test_provisioning_keys_new_tables_and_keeps_existing_keys(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    provision_device(data_dir, tables=3)
    first = dict(rows(data_dir / "edge.db", "SELECT number, table_key FROM tables"))
    assert all(KEY.fullmatch(str(key)) for key in first.values())
    again = invoke(data_dir, "provision", "--branch-slug", SLUG, "--tables", "5")
    assert again.exit_code == 0, again.output
    after = dict(rows(data_dir / "edge.db", "SELECT number, table_key FROM tables"))
    assert {n: after[n] for n in first} == first, "provisioning again changed printed keys"
    assert all(KEY.fullmatch(str(after[n])) for n in (4, 5))
    assert len(set(after.values())) == 5


def test_a_device_upgraded_in_place_keys_its_tables(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    provision_device(data_dir, tables=30)
    # The store as it was before table keys (migration 0008) existed.
    with sqlite3.connect(data_dir / "edge.db") as db:
        db.executescript(
            "ALTER TABLE tables DROP COLUMN table_key;"
            " ALTER TABLE staff DROP COLUMN auth_version;"
            " DROP TABLE revoked_tokens;"
            " DELETE FROM schema_migrations WHERE version = 8;"
        )
    db.close()
    edge = EdgeServer(data_dir, {}).start()
    try:
        keys = [str(k) for (k,) in rows(data_dir / "edge.db", "SELECT table_key FROM tables")]
        assert len(keys) == 30 and all(KEY.fullmatch(k) for k in keys)
        assert len(set(keys)) == 30
        token = edge.staff_token()
        table, _ = open_table(edge, token)
        assert ask(edge, table).status_code == 403
        assert ask(edge, table, tableKey=edge.table_key(table)).status_code == 200
    finally:
        edge.stop()
    edge.assert_clean_log()
