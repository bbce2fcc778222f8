"""Bad input from anyone on the Wi-Fi, no login needed: a 4xx with the usual envelope, and at
most one line in the device's log; never a 500 or a traceback."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.conftest import EdgeServer

LOGIN = "/api/auth/staff/login"


@pytest.fixture(scope="module")
def edge(server: EdgeServer) -> EdgeServer:
    return server


def raw_request(edge: EdgeServer, request: bytes) -> bytes:
    """Send bytes no HTTP client library would send, and read the whole answer."""
    with socket.create_connection(("127.0.0.1", edge.port), timeout=5) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


def envelope_error(answer: httpx.Response) -> dict:
    body = answer.json()
    assert body["success"] is False, body
    return dict(body["error"])


def new_log_lines(edge: EdgeServer, before: int) -> list[str]:
    return edge.log()[before:].splitlines()


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize(
    ("path", "body"),
    [
        # Nested inside a field the device ignores, and inside one it reads.
        (
            "/api/customer/{slug}/{table}/session",
            b'{"customerName": "A", "x": ' + nested(5000) + b"}",
        ),
        (LOGIN, b'{"pin": "482913", "extra": ' + nested(20000) + b"}"),
        ("/api/customer/orders", b'{"items": ' + nested(20000) + b"}"),
        # Not UTF-8: JSON is.
        ("/api/customer/{slug}/{table}/session", b'{"customerName": "\xff\xfe"}'),
        ("/api/customer/{slug}/{table}/register", b'{"customerName": "A", "email": "\xc3\x28"}'),
        (LOGIN, b'{"pin": "\xc3\x28"}'),
        (LOGIN, b"\xff\xfe{\x00}"),
    ],
    ids=["nested-ignored", "nested-login", "nested-order", "latin1", "bad-utf8", "pin", "bom"],
)
def test_malformed_bodies_are_400_with_the_envelope(edge: EdgeServer, path: str, body: bytes):
    table = edge.table_code()
    url = edge.url + path.format(slug="downtown-lima", table=table)
    before = len(edge.log())
    answer = httpx.post(url, content=body, headers={"Authorization": "Bearer x"})
    assert answer.status_code in (400, 401), answer.text
    error = envelope_error(answer)
    assert error["code"] in ("BAD_REQUEST", "VALIDATION_ERROR", "UNAUTHORIZED")
    assert len(new_log_lines(edge, before)) <= 1
    assert "Traceback" not in edge.log()[before:]
    if "session" in path or "register" in path:
        check = httpx.get(edge.customer_url(table, "check-session")).json()["data"]
        assert check == {"hasSession": False}, "a malformed body opened a session"


@pytest.mark.parametrize(
    "target",
    [
        b"/api/customer/downtown-lima/a\x00b/check-session",
        b"/\x00",
        b"/downtown-lima/\x00",
        b"/staff\x00",
    ],
)
def test_a_nul_byte_in_the_path_is_a_400_not_a_dropped_connection(edge: EdgeServer, target):
    before = len(edge.log())
    answer = raw_request(
        edge, b"GET " + target + b" HTTP/1.1\r\nHost: device\r\nConnection: close\r\n\r\n"
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), answer[:300]
    assert body.startswith(b'{"success":false,"error":{"code":"BAD_REQUEST"'), body
    assert len(new_log_lines(edge, before)) <= 1, edge.log()[before:]
    assert "Traceback" not in edge.log()[before:]
    # The device goes on answering.
    assert httpx.get(f"{edge.url}/healthz").status_code == 200


def test_an_encoded_nul_byte_in_the_path_is_a_4xx(edge: EdgeServer) -> None:
    before = len(edge.log())
    for path in ("/api/customer/downtown-lima/%00/check-session", "/api/%00", "/%00"):
        answer = httpx.get(edge.url + path)
        assert answer.status_code == 404, (path, answer.text)
        assert envelope_error(answer)["code"] == "NOT_FOUND"
    assert "Traceback" not in edge.log()[before:]
