"""Bad input from anyone on the Wi-Fi, no login needed: a 4xx with the usual envelope, and at
most one line in the device's log; never a 500 or a traceback."""

from __future__ import annotations

import json
import re
import socket

import aiohttp
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
        b"/_assets/js/\x00",
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


@pytest.mark.parametrize(
    "path", ["/_assets/", "/_assets/js/", "/_assets/css/", "/_assets/%00", "/_assets/js/%00x.js"]
)
def test_asset_folders_and_odd_asset_names_are_404s(edge: EdgeServer, path: str) -> None:
    before = len(edge.log())
    answer = httpx.get(edge.url + path)
    assert answer.status_code == 404, answer.text
    assert envelope_error(answer)["code"] == "NOT_FOUND"
    assert len(new_log_lines(edge, before)) <= 1
    assert "Traceback" not in edge.log()[before:]


DEEP = "[" * 5000 + "]" * 5000


def open_polling(edge: EdgeServer) -> str:
    opened = httpx.get(f"{edge.url}/socket.io/?EIO=4&transport=polling")
    assert opened.status_code == 200 and opened.text.startswith("0")
    return str(json.loads(opened.text[1:])["sid"])


@pytest.mark.parametrize(
    "packet",
    [
        '40{"token": ' + DEEP + "}",  # CONNECT whose auth nests past the parser's depth
        "40" + DEEP,
        '42["subscribe", ' + DEEP + "]",  # an event, before any CONNECT
        "44{}",  # CONNECT_ERROR, which only a server sends
        "49",  # no such packet type
    ],
    ids=["deep-auth", "deep-connect", "deep-event", "connect-error", "unknown-type"],
)
def test_malformed_socket_packets_are_dropped_with_one_line(edge: EdgeServer, packet: str):
    sid = open_polling(edge)
    before = len(edge.log())
    url = f"{edge.url}/socket.io/?EIO=4&transport=polling&sid={sid}"
    sent = httpx.post(url, content=packet.encode())
    assert sent.status_code == 200
    # The connection still answers: a CONNECT without a token is refused as usual.
    assert httpx.post(url, content=b"40").status_code == 200
    assert "Token requerido" in httpx.get(url, timeout=10).text
    log = edge.log()[before:]
    assert "Traceback" not in log and not re.search(r"\bERROR\b", log), log
    assert len(log.splitlines()) <= 1, log


@pytest.mark.asyncio
async def test_a_malformed_packet_over_a_websocket_is_dropped_with_one_line(
    edge: EdgeServer,
) -> None:
    before = len(edge.log())
    url = f"ws://127.0.0.1:{edge.port}/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        opened = await ws.receive_str(timeout=5)
        assert opened.startswith("0")
        await ws.send_str("40" + DEEP)
        await ws.send_str("40")
        refused = await ws.receive_str(timeout=10)
        assert refused.startswith("44") and "Token requerido" in refused
    log = edge.log()[before:]
    assert "Traceback" not in log and not re.search(r"\bERROR\b", log), log
    assert len(log.splitlines()) <= 1, log
