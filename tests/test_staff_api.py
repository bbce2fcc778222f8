"""Staff side: PIN login and lockout, roles, the tables board, approve / reject / end."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.conftest import (
    CASHIER_PIN,
    KITCHEN_PIN,
    MANAGER_PIN,
    WAITER_PIN,
    EdgeServer,
    approve,
    auth,
    open_session,
)


def patch(server: EdgeServer, token: str, session_id: str, action: str) -> httpx.Response:
    return httpx.patch(
        f"{server.url}/api/tables/sessions/{session_id}/{action}", headers=auth(token)
    )


def test_login_returns_token_staff_and_branch(server: EdgeServer) -> None:
    answer = httpx.post(f"{server.url}/api/auth/staff/login", json={"pin": WAITER_PIN})
    assert answer.status_code == 200
    data = answer.json()["data"]
    assert data["staff"]["name"] == "Walter Waiter"
    assert data["staff"]["role"] == "waiter"
    assert data["branch"]["slug"] == "downtown-lima"
    assert set(data["branch"]) >= {"id", "slug", "name"}
    assert data["token"].count(".") == 2


@pytest.mark.parametrize("body", [{}, {"pin": 482913}, {"pin": "12"}, {"pin": "12ab"}, {"pin": ""}])
def test_malformed_login_is_400_and_does_not_count_towards_lockout(
    server: EdgeServer, body: dict
) -> None:
    answer = httpx.post(f"{server.url}/api/auth/staff/login", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "VALIDATION_ERROR"


def test_five_wrong_pins_lock_the_address_out(make_server) -> None:  # type: ignore[no-untyped-def]
    edge = make_server()
    login = f"{edge.url}/api/auth/staff/login"
    for _ in range(5):
        wrong = httpx.post(login, json={"pin": "000000"})
        assert wrong.status_code == 401
        assert wrong.json()["error"]["code"] == "INVALID_CREDENTIALS"
    locked = httpx.post(login, json={"pin": MANAGER_PIN})
    assert locked.status_code == 429
    assert locked.json()["error"] == {
        "code": "RATE_LIMITED",
        "message": "Demasiadas solicitudes, intenta mas tarde",
    }
    assert 200 <= int(locked.headers["Retry-After"]) <= 300


def test_staff_routes_need_a_staff_token(server: EdgeServer) -> None:
    diner = open_session(server, server.table_code())
    for headers, status, code, message in (
        ({}, 401, "UNAUTHORIZED", "Token requerido"),
        (auth("not.a.jwt"), 401, "UNAUTHORIZED", "Token invalido"),
        ({"Authorization": "Basic abc"}, 401, "UNAUTHORIZED", "Token invalido"),
        (auth(diner["token"]), 403, "FORBIDDEN", None),
    ):
        answer = httpx.get(f"{server.url}/api/tables", headers=headers)
        assert answer.status_code == status, answer.text
        error = answer.json()["error"]
        assert error["code"] == code
        if message:
            assert error["message"] == message


def test_tables_board_lists_every_table_with_its_live_session(
    server: EdgeServer, manager_token: str
) -> None:
    table = server.table_code()
    created = open_session(server, table, "Juan Perez")
    answer = httpx.get(f"{server.url}/api/tables", headers=auth(manager_token))
    assert answer.status_code == 200
    tables = answer.json()["data"]
    assert len(tables) == 120
    assert set(tables[0]) >= {"id", "number", "code", "short_code", "status", "session"}
    row = next(t for t in tables if t["code"] == table)
    assert row["status"] == "pending"
    assert row["session"]["id"] == created["sessionId"]
    assert len(row["short_code"]) == 5


def test_pending_list_has_the_contract_fields(server: EdgeServer, manager_token: str) -> None:
    table = server.table_code()
    created = open_session(server, table, "Maria Garcia")
    answer = httpx.get(f"{server.url}/api/tables/sessions/pending", headers=auth(manager_token))
    mine = [p for p in answer.json()["data"] if p["id"] == created["sessionId"]]
    assert len(mine) == 1
    assert set(mine[0]) >= {
        "id",
        "customer_name",
        "customer_phone",
        "started_at",
        "table_id",
        "table_number",
    }
    assert mine[0]["table_number"] == int(table.rsplit("-", 1)[1])


def test_approve_reject_end_and_their_conflicts(server: EdgeServer, manager_token: str) -> None:
    created = open_session(server, server.table_code())
    session_id = created["sessionId"]
    approved = approve(server, manager_token, session_id)
    assert approved.status_code == 200
    assert approved.json()["data"]["status"] == "active"
    again = approve(server, manager_token, session_id)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "TABLE_ALREADY_ACTIVE"
    assert patch(server, manager_token, session_id, "reject").status_code == 409
    ended = patch(server, manager_token, session_id, "end")
    assert ended.status_code == 200
    assert ended.json()["data"]["status"] == "completed"
    assert patch(server, manager_token, session_id, "end").status_code == 409

    other = open_session(server, server.table_code())
    rejected = patch(server, manager_token, other["sessionId"], "reject")
    assert rejected.status_code == 200
    assert rejected.json()["data"]["status"] == "rejected"
    assert rejected.json()["data"]["reason"] == "rejected"


def test_ending_frees_the_table_for_the_next_diner(server: EdgeServer, manager_token: str) -> None:
    table = server.table_code()
    first = open_session(server, table)
    approve(server, manager_token, first["sessionId"])
    patch(server, manager_token, first["sessionId"], "end")
    second = open_session(server, table, "Next Diner")
    assert second["sessionId"] != first["sessionId"]


@pytest.mark.parametrize(
    ("pin", "allowed"), [(WAITER_PIN, True), (KITCHEN_PIN, False), (CASHIER_PIN, False)]
)
def test_only_managers_and_waiters_approve(server: EdgeServer, pin: str, allowed: bool) -> None:
    created = open_session(server, server.table_code())
    answer = approve(server, server.staff_token(pin), created["sessionId"])
    assert answer.status_code == (200 if allowed else 403)
    if not allowed:
        assert answer.json()["error"]["code"] == "FORBIDDEN"


def test_unknown_or_malformed_session_ids(server: EdgeServer, manager_token: str) -> None:
    missing = approve(server, manager_token, str(uuid.uuid4()))
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "Sesion no encontrada"
    malformed = approve(server, manager_token, "123; DROP TABLE sessions")
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "VALIDATION_ERROR"


def test_removed_staff_token_stops_working(make_server) -> None:  # type: ignore[no-untyped-def]
    edge = make_server()
    token = edge.staff_token(WAITER_PIN)
    assert httpx.get(f"{edge.url}/api/tables", headers=auth(token)).status_code == 200
    edge.cli("staff", "remove", "Walter Waiter")
    answer = httpx.get(f"{edge.url}/api/tables", headers=auth(token))
    assert answer.status_code == 401
