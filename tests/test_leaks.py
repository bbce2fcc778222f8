"""What the device tells a stranger on the Wi-Fi: no upstream details on the public health
check, API answers a browser will neither sniff nor cache, and diner names that cannot disguise
themselves on the staff tablet."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from provisioning.server_process import free_port
from tests.conftest import EdgeServer, auth, open_session, provision_device

CENTRAL_PORT_NOBODY_LISTENS_ON = free_port()
CENTRAL_URL = f"http://127.0.0.1:{CENTRAL_PORT_NOBODY_LISTENS_ON}"


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeServer]:
    """A device whose central API cannot be reached, so it has an upstream error to tell."""
    data_dir = tmp_path_factory.mktemp("device") / "data"
    provision_device(data_dir, 10, central_url=CENTRAL_URL, device_token="t" * 40)
    device = EdgeServer(data_dir, {"RESTAI_EDGE_SYNC_INTERVAL": "1"}).start()
    yield device
    device.stop()
    device.assert_clean_log()


def test_healthz_keeps_the_central_and_its_errors_for_staff(offline: EdgeServer) -> None:
    token = offline.staff_token()
    created = open_session(offline, offline.table_code())
    rejected = httpx.patch(
        f"{offline.url}/api/tables/sessions/{created['sessionId']}/reject", headers=auth(token)
    )
    assert rejected.status_code == 200
    deadline = time.monotonic() + 20
    staff_view: dict = {}
    while time.monotonic() < deadline:
        staff_view = httpx.get(f"{offline.url}/api/sync/status", headers=auth(token)).json()
        if staff_view["data"]["last_error"] is not None:
            break
        time.sleep(0.2)
    # Staff still see where the device uploads to and what went wrong.
    assert staff_view["data"]["central_url"] == CENTRAL_URL
    assert staff_view["data"]["last_error"] is not None

    public = httpx.get(f"{offline.url}/healthz")
    assert public.status_code == 200
    text = public.text
    assert CENTRAL_URL not in text and str(CENTRAL_PORT_NOBODY_LISTENS_ON) not in text
    sync = public.json()["data"]["sync"]
    assert "central_url" not in sync and "last_error" not in sync
    assert sync["state"] == "retrying"
    assert sync["queue_depth"] >= 1


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/auth/staff/login", {"pin": "482913"}),
        ("POST", "/api/auth/staff/login", {"pin": "000001"}),
        ("POST", "/api/customer/downtown-lima/{table}/session", {"customerName": "Ana"}),
        ("GET", "/api/customer/downtown-lima/{table}/check-session", None),
        ("GET", "/api/customer/downtown-lima/{table}/menu", None),
        ("GET", "/api/tables", None),
        ("GET", "/api/nowhere", None),
        ("GET", "/healthz", None),
    ],
)
def test_api_answers_are_neither_sniffed_nor_cached(
    server: EdgeServer, manager_token: str, method: str, path: str, body: dict | None
) -> None:
    answer = httpx.request(
        method,
        server.url + path.format(table=server.table_code()),
        json=body,
        headers=auth(manager_token),
    )
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Cache-Control"] == "no-store"


def test_socket_long_polls_are_not_cached(server: EdgeServer) -> None:
    answer = httpx.get(f"{server.url}/socket.io/?EIO=4&transport=polling")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "name",
    [
        "Ana\u202egnp.exe",  # right-to-left override
        "Ana\u2066Luis\u2069",  # isolates
        "Ana\u200b",  # zero-width space
        "A\u200dna",  # zero-width joiner
        "\ufeffAna",  # byte order mark
        "Ana\u200fPerez",  # right-to-left mark
        "Ana\u2028Perez",  # line separator
        "Ana\x85Perez",  # next line (C1 control)
    ],
)
def test_diner_names_cannot_hide_or_reverse_characters(server: EdgeServer, name: str) -> None:
    table = server.table_code()
    answer = httpx.post(server.customer_url(table, "session"), json={"customerName": name})
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["field"] == "customerName"
    assert httpx.get(server.customer_url(table, "check-session")).json()["data"] == {
        "hasSession": False
    }


def test_accented_names_are_still_welcome(server: EdgeServer) -> None:
    created = open_session(server, server.table_code(), "María José Ñúñez-Quispe")
    assert created["session"]["customer_name"] == "María José Ñúñez-Quispe"
