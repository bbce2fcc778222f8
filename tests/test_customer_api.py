"""The seed page's diner endpoints, to the letter: shapes, statuses, codes, Spanish messages."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from tests.conftest import SLUG, EdgeServer, approve, auth, join_session, open_session

SEED_BODY = """{
    "customerName": "Carlos Rodriguez",
    "customerPhone": "+51912345678"
  }"""
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def error_of(answer: httpx.Response) -> dict:
    body = answer.json()
    assert body["success"] is False, body
    assert set(body["error"]) >= {"code", "message"}, body
    return dict(body["error"])


def test_seed_session_example_answers_201_with_the_seed_shape(server: EdgeServer) -> None:
    table = server.table_code()
    answer = httpx.post(
        server.customer_url(table, "session"),
        headers={"Content-Type": "application/json"},
        content=SEED_BODY,
    )
    assert answer.status_code == 201
    body = answer.json()
    assert body["success"] is True
    data = body["data"]
    session = data["session"]
    assert set(session) >= {
        "id",
        "table_id",
        "customer_name",
        "customer_phone",
        "status",
        "started_at",
    }
    assert session["customer_name"] == "Carlos Rodriguez"
    assert session["customer_phone"] == "+51912345678"
    assert session["status"] == "pending"
    assert ISO.fullmatch(session["started_at"])
    assert data["sessionId"] == session["id"]
    uuid.UUID(session["id"], version=4)
    uuid.UUID(session["table_id"])
    assert data["token"].count(".") == 2
    assert "existing" not in data


def test_check_session_reports_no_session_then_pending_then_active(
    server: EdgeServer, manager_token: str
) -> None:
    table = server.table_code()
    answer = httpx.get(server.customer_url(table, "check-session"))
    assert answer.status_code == 200
    assert answer.json() == {"success": True, "data": {"hasSession": False}}

    created = open_session(server, table, "Maria Garcia")
    pending = httpx.get(server.customer_url(table, "check-session")).json()
    assert pending == {
        "success": True,
        "data": {
            "hasSession": True,
            "status": "pending",
            "sessionId": created["sessionId"],
            "customerName": "Maria Garcia",
        },
    }
    assert approve(server, manager_token, created["sessionId"]).status_code == 200
    active = httpx.get(server.customer_url(table, "check-session")).json()["data"]
    assert active["status"] == "active"
    assert active["sessionId"] == created["sessionId"]


def test_session_status_follows_approval(server: EdgeServer, manager_token: str) -> None:
    table = server.table_code()
    created = open_session(server, table, "Maria Garcia")
    url = server.customer_url(table, f"session-status/{created['sessionId']}")
    assert httpx.get(url).json() == {
        "success": True,
        "data": {"id": created["sessionId"], "status": "pending", "customer_name": "Maria Garcia"},
    }
    # UUIDs are case-insensitive: an id copied in capitals finds the same session.
    shouted = server.customer_url(table, f"session-status/{created['sessionId'].upper()}")
    assert httpx.get(shouted).json()["data"]["id"] == created["sessionId"]
    approve(server, manager_token, created["sessionId"])
    assert httpx.get(url).json()["data"]["status"] == "active"


def test_register_accepts_the_optional_profile_fields(server: EdgeServer) -> None:
    answer = httpx.post(
        server.customer_url(server.table_code(), "register"),
        json={
            "customerName": "Lucia Quispe",
            "customerPhone": "987 654 321",
            "email": "lucia@example.pe",
            "birthDate": "1990-05-17",
            "marketingOptIn": True,
        },
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["data"]["session"]["status"] == "pending"


def test_second_diner_on_pending_table_gets_409_session_pending(server: EdgeServer) -> None:
    table = server.table_code()
    open_session(server, table)
    for path in ("session", "register"):
        answer = httpx.post(server.customer_url(table, path), json={"customerName": "Otro"})
        assert answer.status_code == 409
        assert error_of(answer) == {
            "code": "SESSION_PENDING",
            "message": "Esta mesa esta en espera de aprobacion",
        }


def test_joining_an_active_table_gives_the_joiner_a_token_of_their_own(
    server: EdgeServer, manager_token: str
) -> None:
    table = server.table_code()
    first = open_session(server, table, "Juan Perez")
    approve(server, manager_token, first["sessionId"])
    # With the key from the table's QR code (join_policy "key", the default).
    joined = join_session(server, table, "Rosa")
    assert joined["existing"] is True
    assert joined["sessionId"] == first["sessionId"]
    assert joined["session"]["status"] == "active"
    assert joined["token"] != first["token"]
    assert joined["dinerId"] != first["dinerId"]
    # Both diners' tokens work, each on its own.
    for token in (first["token"], joined["token"]):
        refreshed = httpx.post(f"{server.url}/api/customer/session/refresh", headers=auth(token))
        assert refreshed.status_code == 200, refreshed.text


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (f"/api/customer/nowhere/{SLUG}-1/check-session", "Sucursal no encontrada"),
        (f"/api/customer/{SLUG}/{SLUG}-99999/check-session", "Mesa no encontrada"),
        (f"/api/customer/{SLUG}/otra-mesa-1/check-session", "Mesa no encontrada"),
        (
            f"/api/customer/{SLUG}/{SLUG}-1/session-status/00000000-0000-4000-8000-000000000000",
            "Sesion no encontrada",
        ),
    ],
)
def test_unknown_branch_table_or_session_is_404_with_its_message(
    server: EdgeServer, path: str, message: str
) -> None:
    answer = httpx.get(server.url + path)
    assert answer.status_code == 404
    assert error_of(answer) == {"code": "NOT_FOUND", "message": message}


def test_session_of_another_table_is_not_found(server: EdgeServer) -> None:
    created = open_session(server, server.table_code())
    other = server.table_code()
    answer = httpx.get(server.customer_url(other, f"session-status/{created['sessionId']}"))
    assert answer.status_code == 404
    assert error_of(answer)["message"] == "Sesion no encontrada"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "customerName"),
        ({"customerName": ""}, "customerName"),
        ({"customerName": "   "}, "customerName"),
        ({"customerName": 42}, "customerName"),
        ({"customerName": None}, "customerName"),
        ({"customerName": "x" * 256}, "customerName"),
        ({"customerName": "Ana\u0000"}, "customerName"),
        ({"customerName": "Ana", "customerPhone": "1" * 21}, "customerPhone"),
        ({"customerName": "Ana", "customerPhone": "call me"}, "customerPhone"),
        ({"customerName": "Ana", "customerPhone": 51912345678}, "customerPhone"),
        ({"customerName": "Ana", "email": "not-an-email"}, "email"),
        ({"customerName": "Ana", "birthDate": "17/05/1990"}, "birthDate"),
        ({"customerName": "Ana", "birthDate": "2999-01-01"}, "birthDate"),
        ({"customerName": "Ana", "marketingOptIn": "yes"}, "marketingOptIn"),
    ],
)
def test_invalid_bodies_get_400_validation_error_and_create_nothing(
    server: EdgeServer, body: dict, field: str
) -> None:
    table = server.table_code()
    answer = httpx.post(server.customer_url(table, "register"), json=body)
    assert answer.status_code == 400, answer.text
    error = error_of(answer)
    assert error["code"] == "VALIDATION_ERROR"
    assert error["message"] == "Datos invalidos"
    assert error["details"]["field"] == field
    assert httpx.get(server.customer_url(table, "check-session")).json()["data"] == {
        "hasSession": False
    }


@pytest.mark.parametrize("content", [b"", b"not json", b"{", b"[1, 2]", b'"text"'])
def test_non_json_or_non_object_bodies_are_rejected(server: EdgeServer, content: bytes) -> None:
    table = server.table_code()
    answer = httpx.post(server.customer_url(table, "session"), content=content)
    assert answer.status_code == 400
    assert error_of(answer)["code"] in {"BAD_REQUEST", "VALIDATION_ERROR"}
    assert not httpx.get(server.customer_url(table, "check-session")).json()["data"]["hasSession"]


def test_bodies_over_64_kib_are_refused_with_413(server: EdgeServer) -> None:
    table = server.table_code()
    body = b'{"customerName": "' + b"a" * (65 * 1024) + b'"}'
    answer = httpx.post(server.customer_url(table, "session"), content=body)
    assert answer.status_code == 413
    assert error_of(answer)["code"] == "PAYLOAD_TOO_LARGE"


def test_malformed_session_id_is_a_validation_error(server: EdgeServer) -> None:
    answer = httpx.get(server.customer_url(server.table_code(), "session-status/not-a-uuid"))
    assert answer.status_code == 400
    assert error_of(answer)["details"]["field"] == "sessionId"


def test_unknown_api_route_and_wrong_method(server: EdgeServer) -> None:
    missing = httpx.get(f"{server.url}/api/nothing/here")
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "NOT_FOUND"
    wrong = httpx.delete(server.customer_url(server.table_code(), "session"))
    assert wrong.status_code == 405
    assert error_of(wrong)["code"] == "METHOD_NOT_ALLOWED"


def test_unicode_names_round_trip(server: EdgeServer) -> None:
    table = server.table_code()
    created = open_session(server, table, "José Ñañez Peña")
    assert created["session"]["customer_name"] == "José Ñañez Peña"
    check = httpx.get(server.customer_url(table, "check-session")).json()["data"]
    assert check["customerName"] == "José Ñañez Peña"


def test_healthz(server: EdgeServer) -> None:
    answer = httpx.get(f"{server.url}/healthz")
    assert answer.status_code == 200
    data = answer.json()["data"]
    assert data["status"] == "ok"
    assert data["branch"] == SLUG


def test_healthz_reports_the_sync_queue(server: EdgeServer, manager_token: str) -> None:
    created = open_session(server, server.table_code())
    httpx.patch(
        f"{server.url}/api/tables/sessions/{created['sessionId']}/reject",
        headers=auth(manager_token),
    )
    sync = httpx.get(f"{server.url}/healthz").json()["data"]["sync"]
    assert sync["enabled"] is False
    assert sync["queue_depth"] >= 1
    assert set(sync) >= {"queue_depth", "oldest_waiting", "last_success"}
