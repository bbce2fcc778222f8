"""Session rules that need their own device: tokens, races, crashes, limits, expiry, settings."""

from __future__ import annotations

import concurrent.futures
import subprocess
import sys
import threading
import time

import httpx
import jwt

from edge.secret_files import JWT_SECRET, read_secret
from tests.conftest import EdgeServer, approve, auth, open_session


def refresh(server: EdgeServer, token: str) -> httpx.Response:
    return httpx.post(f"{server.url}/api/customer/session/refresh", headers=auth(token))


def wait_for(predicate, timeout: float, interval: float = 0.2):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def test_token_scope_and_death_with_its_session(server: EdgeServer, manager_token: str) -> None:
    created = open_session(server, server.table_code())
    token = created["token"]
    pending = refresh(server, token)
    assert pending.status_code == 403
    assert pending.json()["error"] == {
        "code": "SESSION_NOT_ACTIVE",
        "message": "Tu sesion aun no ha sido aprobada",
    }
    approve(server, manager_token, created["sessionId"])
    fresh = refresh(server, token)
    assert fresh.status_code == 200
    new_token = fresh.json()["data"]["token"]
    claims = jwt.decode(new_token, options={"verify_signature": False})
    assert claims["role"] == "customer"
    assert claims["sub"] == created["sessionId"]
    assert claims["table"] == created["session"]["table_id"]
    assert {"branch", "diner", "jti", "iat", "exp"} <= set(claims)
    assert claims["exp"] - claims["iat"] == 4 * 3600

    ended = httpx.patch(
        f"{server.url}/api/tables/sessions/{created['sessionId']}/end", headers=auth(manager_token)
    )
    assert ended.status_code == 200
    for dead in (token, new_token):
        answer = refresh(server, dead)
        assert answer.status_code == 403
        assert answer.json()["error"] == {
            "code": "SESSION_ENDED",
            "message": "Tu sesion ha finalizado",
        }


def test_rejected_diner_token_is_dead(server: EdgeServer, manager_token: str) -> None:
    created = open_session(server, server.table_code())
    httpx.patch(
        f"{server.url}/api/tables/sessions/{created['sessionId']}/reject",
        headers=auth(manager_token),
    )
    assert refresh(server, created["token"]).json()["error"]["code"] == "SESSION_ENDED"


def test_forged_tokens_are_refused(server: EdgeServer) -> None:
    created = open_session(server, server.table_code())
    claims = jwt.decode(created["token"], options={"verify_signature": False})
    secret = read_secret(server.data_dir, JWT_SECRET)
    forgeries = [
        jwt.encode(claims, "not-the-device-secret-" + "y" * 32, "HS256"),
        jwt.encode(claims, None, "none"),
        jwt.encode({**claims, "role": "manager"}, "x" * 32, "HS256"),
        # A genuine signature over a session that is not the token's table's.
        jwt.encode({**claims, "table": "00000000-0000-4000-8000-000000000000"}, secret, "HS256"),
        created["token"][:-4] + "AAAA",
    ]
    for forged in forgeries:
        answer = refresh(server, forged)
        assert answer.status_code == 401, forged
        assert answer.json()["error"] == {"code": "UNAUTHORIZED", "message": "Token invalido"}


def test_signed_tokens_with_bad_claims_are_refused(server: EdgeServer, manager_token: str) -> None:
    """The claims are checked after the signature: a token signed with the device's own secret
    (a leaked one, say) but missing a claim, with one of the wrong type, or issued in the
    future is refused all the same."""
    created = open_session(server, server.table_code())
    approve(server, manager_token, created["sessionId"])
    claims = jwt.decode(created["token"], options={"verify_signature": False})
    secret = read_secret(server.data_dir, JWT_SECRET)
    assert refresh(server, jwt.encode(claims, secret, "HS256")).status_code == 200
    bad_claims = [
        {key: value for key, value in claims.items() if key != "iat"},
        {key: value for key, value in claims.items() if key != "diner"},
        {**claims, "exp": str(claims["exp"])},
        {**claims, "sub": 42},
        {**claims, "iat": claims["iat"] + 3600},
        {**claims, "role": "owner"},
    ]
    for bad in bad_claims:
        answer = refresh(server, jwt.encode(bad, secret, "HS256"))
        assert answer.status_code == 401, bad
        assert answer.json()["error"] == {"code": "UNAUTHORIZED", "message": "Token invalido"}


def test_expired_tokens_are_refused(make_server) -> None:  # type: ignore[no-untyped-def]
    edge = make_server(RESTAI_EDGE_CUSTOMER_TOKEN_TTL="1", RESTAI_EDGE_STAFF_TOKEN_TTL="1")
    staff_token = edge.staff_token()
    created = open_session(edge, edge.table_code())
    approve(edge, staff_token, created["sessionId"])
    time.sleep(2.1)
    answer = refresh(edge, created["token"])
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "UNAUTHORIZED"
    assert httpx.get(f"{edge.url}/api/tables", headers=auth(staff_token)).status_code == 401


def test_thirty_simultaneous_scans_open_exactly_one_session(server: EdgeServer) -> None:
    table = server.table_code()
    barrier = threading.Barrier(30)

    def scan(i: int) -> int:
        with httpx.Client() as client:
            barrier.wait()
            return client.post(
                server.customer_url(table, "session"), json={"customerName": f"Diner {i}"}
            ).status_code

    with concurrent.futures.ThreadPoolExecutor(30) as pool:
        statuses = list(pool.map(scan, range(30)))
    assert statuses.count(201) == 1, statuses
    assert statuses.count(409) == 29, statuses


def test_kill_9_mid_load_loses_no_answered_session(make_server) -> None:  # type: ignore[no-untyped-def]
    edge = make_server()
    answered: list[tuple[str, str]] = []
    stop = threading.Event()

    def load(worker: int) -> None:
        with httpx.Client(timeout=5) as client:
            for number in range(1 + worker, 121, 4):
                if stop.is_set():
                    return
                code = f"downtown-lima-{number}"
                try:
                    answer = client.post(
                        edge.customer_url(code, "session"), json={"customerName": f"D{number}"}
                    )
                except httpx.TransportError:
                    return
                if answer.status_code == 201:
                    answered.append((code, answer.json()["data"]["sessionId"]))

    threads = [threading.Thread(target=load, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(answered) >= 20, timeout=20, interval=0.005)
    edge.kill()
    stop.set()
    for thread in threads:
        thread.join()
    assert answered

    edge.start()  # same data dir and port, a fresh process
    for code, session_id in answered:
        status = httpx.get(edge.customer_url(code, f"session-status/{session_id}"))
        assert status.status_code == 200, (code, session_id)
        assert status.json()["data"]["status"] == "pending"


def test_session_creation_is_rate_limited_per_address(make_server) -> None:  # type: ignore[no-untyped-def]
    edge = make_server(RESTAI_EDGE_SESSION_RATE_LIMIT="3/600")
    statuses = []
    for _ in range(2):
        statuses.append(
            httpx.post(
                edge.customer_url(edge.table_code(), "session"), json={"customerName": "A"}
            ).status_code
        )
    statuses.append(
        httpx.post(
            edge.customer_url(edge.table_code(), "register"), json={"customerName": "A"}
        ).status_code
    )
    assert statuses == [201, 201, 201]
    table = edge.table_code()
    limited = httpx.post(edge.customer_url(table, "session"), json={"customerName": "A"})
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "RATE_LIMITED"
    assert limited.json()["error"]["message"] == "Demasiadas solicitudes, intenta mas tarde"
    assert 1 <= int(limited.headers["Retry-After"]) <= 600
    assert not httpx.get(edge.customer_url(table, "check-session")).json()["data"]["hasSession"]


def test_forwarded_headers_do_not_dodge_the_rate_limit(make_server) -> None:  # type: ignore[no-untyped-def]
    edge = make_server(RESTAI_EDGE_SESSION_RATE_LIMIT="1/600")
    first = httpx.post(edge.customer_url(edge.table_code(), "session"), json={"customerName": "A"})
    assert first.status_code == 201
    forged = httpx.post(
        edge.customer_url(edge.table_code(), "session"),
        json={"customerName": "A"},
        headers={
            "X-Forwarded-For": "10.9.8.7",
            "X-Real-IP": "10.9.8.7",
            "Forwarded": "for=1.2.3.4",
        },
    )
    assert forged.status_code == 429


def test_pending_requests_expire_and_settings_apply_while_serving(make_server) -> None:  # type: ignore[no-untyped-def]
    edge = make_server()
    edge.cli("settings", "pending_ttl", "5")
    time.sleep(2.5)
    table = edge.table_code()
    created = open_session(edge, table)
    url = edge.customer_url(table, f"session-status/{created['sessionId']}")
    started = time.monotonic()
    data = wait_for(
        lambda: (d := httpx.get(url).json()["data"])["status"] == "rejected" and d, timeout=25
    )
    assert data["reason"] == "expired"
    assert time.monotonic() - started <= 5 + 15
    # A waiter approving too late hears that it expired, and the table is free again.
    late = approve(edge, edge.staff_token(), created["sessionId"])
    assert late.status_code == 410
    assert late.json()["error"]["code"] == "SESSION_EXPIRED"
    assert open_session(edge, table)["session"]["status"] == "pending"


def test_requests_waiting_across_a_restart_are_listed_then_expire(make_server) -> None:  # type: ignore[no-untyped-def]
    """Pending requests are found in the live view, which a restart loads from the store."""
    edge = make_server()
    edge.cli("settings", "pending_ttl", "12")
    tables = [edge.table_code(), edge.table_code()]
    older, newer = (open_session(edge, table) for table in tables)
    edge.stop()
    edge.start()
    token = edge.staff_token()

    def pending() -> list[str]:
        answer = httpx.get(f"{edge.url}/api/tables/sessions/pending", headers=auth(token))
        return [row["id"] for row in answer.json()["data"]]

    assert pending() == [older["sessionId"], newer["sessionId"]]
    assert approve(edge, token, newer["sessionId"]).status_code == 200
    assert pending() == [older["sessionId"]]
    wait_for(lambda: not pending(), timeout=12 + 15)
    status = edge.customer_url(tables[0], f"session-status/{older['sessionId']}")
    data = httpx.get(status).json()["data"]
    assert (data["status"], data.get("reason")) == ("rejected", "expired")


def test_auto_approve_and_closed_join_policy(make_server) -> None:  # type: ignore[no-untyped-def]
    edge = make_server()
    edge.cli("settings", "auto_approve", "true")
    edge.cli("settings", "join_policy", "closed")
    table = edge.table_code()
    wait_for(
        lambda: (
            httpx.post(
                edge.customer_url(edge.table_code(), "session"), json={"customerName": "Probe"}
            ).json()["data"]["session"]["status"]
            == "active"
        ),
        timeout=6,
    )
    first = open_session(edge, table)
    assert first["session"]["status"] == "active"
    # Both settings reach the device within 5 s, not necessarily at the same refresh.
    joiner = wait_for(
        lambda: (
            (
                answer := httpx.post(
                    edge.customer_url(table, "session"), json={"customerName": "Late"}
                )
            ).status_code
            == 200
            and "token" not in answer.json()["data"]
            and answer
        ),
        timeout=6,
    )
    assert joiner.json() == {"success": True, "data": {"status": "active"}}


def test_bad_settings_values_are_refused_by_the_cli(make_server) -> None:  # type: ignore[no-untyped-def]
    edge = make_server()
    for args in (
        ("pending_ttl", "soon"),
        ("pending_ttl", "1e3"),
        ("join_policy", "maybe"),
        ("colour", "red"),
    ):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "provisioning",
                "--data-dir",
                str(edge.data_dir),
                "settings",
                *args,
            ],
            capture_output=True,
            text=True,
        )
        assert result.returncode != 0
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith("Error:")
        assert "invalid literal" not in result.stderr, "a raw Python message reached the user"
        if args[0] == "pending_ttl":
            assert "whole number of seconds between 5 and 86400" in result.stderr
