"""Tests for the reference central server (sync/central/): ingest, faults, admin token.

The server is started for real, as a subprocess, once per module; every test
starts from a clean state thanks to ``POST /_reset``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from provisioning.server_process import free_port
from sync.central.harness import CentralDev

REPO_ROOT = Path(__file__).resolve().parents[1]
TOKEN = "test-device-token-7f3a9c"
ADMIN_TOKEN = "test-admin-token-41b2e8"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
INGEST = "/api/edge/v1/sessions"


class CentralServer:
    def __init__(self, base_url: str, db_path: Path, log_path: Path) -> None:
        self.base_url = base_url
        self.db_path = db_path
        self.log_path = log_path

    def client(self, **kwargs: Any) -> httpx.Client:
        kwargs.setdefault("timeout", 5.0)
        return httpx.Client(base_url=self.base_url, **kwargs)


@pytest.fixture(scope="module")
def central(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CentralServer]:
    server = CentralDev(tmp_path_factory.mktemp("central"), TOKEN, admin_token=ADMIN_TOKEN).start()
    try:
        yield CentralServer(server.url, server.db_path, server.log_path)
    finally:
        server.stop()


@pytest.fixture
def client(central: CentralServer) -> Iterator[httpx.Client]:
    with central.client() as c:
        assert c.post("/_reset", headers=ADMIN).status_code == 200
        yield c


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_session(**extra: Any) -> dict[str, Any]:
    session = {
        "id": str(uuid.uuid4()),
        "status": "closed",
        "table": {"number": 4},
        "diners": 2,
        "orders": [{"item": "tacos", "qty": 3}],
        "totals": {"total": 123.5},
    }
    session.update(extra)
    return session


def body(sessions: list[dict[str, Any]]) -> dict[str, Any]:
    return {"deviceId": "dev-1", "branchSlug": "centro", "sessions": sessions}


def push(c: httpx.Client, sessions: list[dict[str, Any]], **kwargs: Any) -> httpx.Response:
    kwargs.setdefault("headers", auth())
    return c.post(INGEST, json=body(sessions), **kwargs)


def control(c: httpx.Client, **payload: Any) -> dict[str, Any]:
    resp = c.post("/_control", headers=ADMIN, json=payload)
    assert resp.status_code == 200, resp.text
    return resp.json()


def stats(c: httpx.Client) -> dict[str, Any]:
    resp = c.get("/_stats", headers=ADMIN)
    assert resp.status_code == 200
    return resp.json()


def assert_error(resp: httpx.Response, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    data = resp.json()
    assert data["success"] is False
    assert data["error"]["code"] == code
    assert isinstance(data["error"]["message"], str) and data["error"]["message"]


# --------------------------------------------------------------------------- #
# Contract
# --------------------------------------------------------------------------- #


def test_healthz(client: httpx.Client) -> None:
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok"}


def test_accepts_and_stores_sessions(client: httpx.Client) -> None:
    sessions = [make_session(), make_session(diners=5)]
    resp = push(client, sessions)
    assert resp.status_code == 200
    assert resp.json() == {"success": True, "data": {"accepted": [s["id"] for s in sessions]}}

    stored = client.get("/_sessions", headers=ADMIN).json()
    assert stored["count"] == 2
    assert [s["id"] for s in stored["sessions"]] == [s["id"] for s in sessions]
    first = stored["sessions"][0]
    assert first["payload"] == sessions[0]
    assert first["deviceId"] == "dev-1"
    assert first["branchSlug"] == "centro"
    assert first["receiveCount"] == 1

    st = stats(client)
    assert st["sessions"] == 2
    assert st["requests"] == 1
    assert st["batch_sizes"] == [2]
    assert st["duplicates"] == 0


def test_empty_batch_is_accepted(client: httpx.Client) -> None:
    resp = push(client, [])
    assert resp.status_code == 200
    assert resp.json()["data"]["accepted"] == []


def test_resend_is_deduplicated(client: httpx.Client) -> None:
    a, b = make_session(), make_session()
    assert push(client, [a]).status_code == 200
    resp = push(client, [a, b])
    assert resp.status_code == 200
    assert resp.json()["data"]["accepted"] == [a["id"], b["id"]]

    st = stats(client)
    assert st["sessions"] == 2
    assert st["deliveries"] == {a["id"]: 2, b["id"]: 1}
    assert st["duplicates"] == 1
    assert st["batch_sizes"] == [1, 2]
    stored = client.get("/_sessions", headers=ADMIN).json()["sessions"]
    assert [s["id"] for s in stored] == [a["id"], b["id"]]
    assert stored[0]["receiveCount"] == 2


@pytest.mark.parametrize(
    "headers",
    [{}, auth("wrong-token"), {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"}],
    ids=["missing", "wrong", "no-scheme", "basic"],
)
def test_bad_token_is_401(client: httpx.Client, headers: dict[str, str]) -> None:
    resp = push(client, [make_session()], headers=headers)
    assert_error(resp, 401, "UNAUTHORIZED")
    assert stats(client)["sessions"] == 0


@pytest.mark.parametrize(
    "raw_body",
    [
        b"not json",
        b"[]",
        json.dumps({"branchSlug": "centro", "sessions": []}).encode(),
        json.dumps({"deviceId": "d", "sessions": []}).encode(),
        json.dumps({"deviceId": "d", "branchSlug": "b"}).encode(),
        json.dumps({"deviceId": "d", "branchSlug": "b", "sessions": {}}).encode(),
        json.dumps({"deviceId": "d", "branchSlug": "b", "sessions": ["x"]}).encode(),
        json.dumps(
            {"deviceId": "d", "branchSlug": "b", "sessions": [{"status": "closed"}]}
        ).encode(),
        json.dumps(
            {"deviceId": "d", "branchSlug": "b", "sessions": [{"id": "not-a-uuid"}]}
        ).encode(),
    ],
    ids=[
        "not-json",
        "array",
        "no-device",
        "no-branch",
        "no-sessions",
        "sessions-object",
        "session-not-object",
        "session-no-id",
        "session-bad-id",
    ],
)
def test_malformed_body_is_400(client: httpx.Client, raw_body: bytes) -> None:
    resp = client.post(
        INGEST, content=raw_body, headers={**auth(), "Content-Type": "application/json"}
    )
    assert_error(resp, 400, "BAD_REQUEST")
    assert stats(client)["sessions"] == 0


def test_unknown_route_uses_envelope(client: httpx.Client) -> None:
    assert_error(client.get("/api/edge/v1/nope"), 404, "NOT_FOUND")


# --------------------------------------------------------------------------- #
# Fault injection
# --------------------------------------------------------------------------- #


def test_control_rejects_bad_requests(client: httpx.Client) -> None:
    assert_error(
        client.post("/_control", headers=ADMIN, json={"mode": "explode"}), 400, "BAD_REQUEST"
    )
    assert_error(
        client.post("/_control", headers=ADMIN, json={"mode": "500", "times": 0}),
        400,
        "BAD_REQUEST",
    )
    assert_error(
        client.post("/_control", headers=ADMIN, json={"mode": "slow", "delay": "x"}),
        400,
        "BAD_REQUEST",
    )
    assert_error(client.post("/_control", headers=ADMIN, content=b"nope"), 400, "BAD_REQUEST")
    assert client.get("/_control", headers=ADMIN).json()["mode"] == "ok"


def test_fault_500_with_times_reverts_to_ok(client: httpx.Client) -> None:
    state = control(client, mode="500", times=2)
    assert state == {"mode": "500", "times": 2, "params": {}}
    s = make_session()
    assert_error(push(client, [s]), 500, "INTERNAL_ERROR")
    assert client.get("/_control", headers=ADMIN).json()["times"] == 1
    assert_error(push(client, [s]), 500, "INTERNAL_ERROR")
    resp = push(client, [s])
    assert resp.status_code == 200
    assert resp.json()["data"]["accepted"] == [s["id"]]
    st = stats(client)
    assert st["requests"] == 3
    assert st["deliveries"] == {s["id"]: 1}
    assert [e["status"] for e in st["request_log"]] == [500, 500, 200]
    assert st["fault"]["mode"] == "ok"


def test_fault_without_times_persists_until_ok(client: httpx.Client) -> None:
    control(client, mode="500")
    for _ in range(3):
        assert push(client, [make_session()]).status_code == 500
    control(client, mode="ok")
    assert push(client, [make_session()]).status_code == 200


@pytest.mark.parametrize("mode,code", [("401", "UNAUTHORIZED"), ("403", "FORBIDDEN")])
def test_fault_auth_errors(client: httpx.Client, mode: str, code: str) -> None:
    control(client, mode=mode, times=1)
    assert_error(push(client, [make_session()]), int(mode), code)
    assert stats(client)["sessions"] == 0
    assert push(client, [make_session()]).status_code == 200


def test_fault_slow_triggers_client_read_timeout(
    central: CentralServer, client: httpx.Client
) -> None:
    control(client, mode="slow", delay=2, times=1)
    s = make_session()
    with central.client(timeout=0.5) as impatient, pytest.raises(httpx.ReadTimeout):
        push(impatient, [s])
    # The batch is committed before the delay: a timed-out push may still have
    # been stored, so the client's resend must be (and is) harmless.
    assert push(client, [s]).status_code == 200
    st = stats(client)
    assert st["sessions"] == 1
    assert st["deliveries"] == {s["id"]: 2}


def test_fault_slow_eventually_answers(central: CentralServer, client: httpx.Client) -> None:
    control(client, mode="slow", delay=0.3)
    s = make_session()
    started = time.monotonic()
    resp = push(client, [s])
    assert time.monotonic() - started >= 0.3
    assert resp.status_code == 200
    assert resp.json()["data"]["accepted"] == [s["id"]]


def test_fault_413_only_for_large_batches(client: httpx.Client) -> None:
    control(client, mode="413", max_batch=2)
    big = [make_session() for _ in range(3)]
    assert_error(push(client, big), 413, "PAYLOAD_TOO_LARGE")
    assert stats(client)["sessions"] == 0
    assert push(client, big[:2]).status_code == 200
    assert push(client, big[2:]).status_code == 200
    st = stats(client)
    assert st["sessions"] == 3
    assert st["batch_sizes"] == [3, 2, 1]


def test_fault_413_default_max_batch_is_10(client: httpx.Client) -> None:
    control(client, mode="413")
    assert push(client, [make_session() for _ in range(10)]).status_code == 200
    assert push(client, [make_session() for _ in range(11)]).status_code == 413


def test_fault_429_sends_retry_after(client: httpx.Client) -> None:
    control(client, mode="429", retry_after=7, times=1)
    resp = push(client, [make_session()])
    assert_error(resp, 429, "RATE_LIMITED")
    assert resp.headers["Retry-After"] == "7"
    assert push(client, [make_session()]).status_code == 200


def test_fault_garbage_is_200_non_json(client: httpx.Client) -> None:
    control(client, mode="garbage", times=1)
    resp = push(client, [make_session()])
    assert resp.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        resp.json()
    assert stats(client)["sessions"] == 0


def test_fault_partial_default_half(client: httpx.Client) -> None:
    control(client, mode="partial")
    batch = [make_session() for _ in range(4)]
    resp = push(client, batch)
    assert resp.status_code == 200
    assert resp.json()["data"]["accepted"] == [s["id"] for s in batch[:2]]
    # odd batch: half rounded up, so a batch of one still makes progress
    single = [make_session()]
    assert push(client, single).json()["data"]["accepted"] == [single[0]["id"]]
    st = stats(client)
    assert set(st["deliveries"]) == {s["id"] for s in batch[:2] + single}


def test_fault_partial_explicit_accept(client: httpx.Client) -> None:
    control(client, mode="partial", accept=1, times=1)
    batch = [make_session() for _ in range(3)]
    assert push(client, batch).json()["data"]["accepted"] == [batch[0]["id"]]
    # resend of the rest, back in ok mode
    resp = push(client, batch[1:])
    assert resp.json()["data"]["accepted"] == [s["id"] for s in batch[1:]]
    assert stats(client)["sessions"] == 3


def test_fault_down_drops_connection(central: CentralServer, client: httpx.Client) -> None:
    control(client, mode="down", times=1)
    s = make_session()
    with central.client() as fresh, pytest.raises(httpx.TransportError):
        push(fresh, [s])
    # server is still alive and back to normal
    assert client.get("/healthz").status_code == 200
    assert push(client, [s]).status_code == 200
    st = stats(client)
    assert st["requests"] == 2
    assert st["request_log"][0]["status"] is None
    assert st["deliveries"] == {s["id"]: 1}


def test_reset_clears_everything(client: httpx.Client) -> None:
    push(client, [make_session()])
    control(client, mode="500")
    assert client.post("/_reset", headers=ADMIN).json() == {"reset": True}
    st = stats(client)
    assert (st["sessions"], st["requests"], st["batch_sizes"]) == (0, 0, [])
    assert st["fault"]["mode"] == "ok"


def test_token_never_logged(central: CentralServer, client: httpx.Client) -> None:
    push(client, [make_session()])
    push(client, [make_session()], headers=auth("wrong-token"))
    time.sleep(0.1)
    log = central.log_path.read_text()
    assert "Central dev server listening" in log
    assert TOKEN not in log
    assert ADMIN_TOKEN not in log
    assert "wrong-token" not in log


def test_cli_requires_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RESTAI_CENTRAL_DEVICE_TOKEN"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sync.central",
            "--port",
            str(free_port()),
            "--db",
            str(tmp_path / "c.db"),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--device-token" in result.stderr


# --------------------------------------------------------------------------- #
# The admin token (control endpoints) and where the server listens
# --------------------------------------------------------------------------- #

ADMIN_CALLS = [
    ("GET", "/_control", None),
    ("POST", "/_control", {"mode": "500"}),
    ("POST", "/_reset", None),
    ("GET", "/_sessions", None),
    ("GET", "/_stats", None),
    ("PUT", "/_catalog", {"version": "x"}),
    ("GET", "/_devices", None),
    ("PUT", "/_clock", {"offset": 600}),
    ("PUT", "/_media/a.png", {"not": "an image"}),
]


@pytest.mark.parametrize(
    "headers",
    [{}, auth(TOKEN), auth("wrong-token"), {"Authorization": ADMIN_TOKEN}],
    ids=["none", "device-token", "wrong", "no-scheme"],
)
def test_admin_endpoints_need_the_admin_token(
    client: httpx.Client, headers: dict[str, str]
) -> None:
    session = make_session()
    assert push(client, [session]).status_code == 200
    for method, path, payload in ADMIN_CALLS:
        answer = client.request(method, path, json=payload, headers=headers)
        assert_error(answer, 401, "UNAUTHORIZED")
    # Nothing the refused calls asked for happened.
    assert stats(client)["deliveries"] == {session["id"]: 1}
    assert client.get("/_control", headers=ADMIN).json()["mode"] == "ok"
    assert client.get("/_devices", headers=ADMIN).json()["count"] == 0
    assert client.get("/_clock", headers=ADMIN).json()["offset"] == 0
    assert_error(client.get("/_catalog", headers=ADMIN), 404, "NOT_FOUND")
    assert client.get("/healthz").status_code == 200


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("RESTAI_CENTRAL_")}


def run_central(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Start `python -m sync.central ARGS`, wait until it answers, stop it; its output."""
    port = free_port()
    log_path = tmp_path / "central.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "sync.central", "--port", str(port), *args],
            cwd=REPO_ROOT,
            env={**clean_env(), "RESTAI_CENTRAL_DEVICE_TOKEN": TOKEN, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert process.poll() is None, log_path.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        else:
            raise AssertionError(log_path.read_text())
    finally:
        process.terminate()
        process.wait(10)
    return log_path.read_text()


def test_binding_beyond_loopback_warns(tmp_path: Path) -> None:
    env = {"RESTAI_CENTRAL_ADMIN_TOKEN": ADMIN_TOKEN}
    output = run_central(tmp_path, "--host", "0.0.0.0", "--db", str(tmp_path / "c.db"), env=env)
    assert "WARNING: central-dev listens on 0.0.0.0" in output
    quiet = run_central(tmp_path, "--host", "127.0.0.1", "--db", str(tmp_path / "c.db"), env=env)
    assert "WARNING" not in quiet


def test_admin_token_is_made_once_and_kept_private(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    first = run_central(tmp_path, "--db", str(db))
    token_file = tmp_path / "c.db.admin-token"
    token = token_file.read_text().strip()
    assert len(token) >= 24
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert str(token_file) in first and token not in first
    run_central(tmp_path, "--db", str(db))
    assert token_file.read_text().strip() == token


def test_admin_token_must_differ_from_the_device_token(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sync.central", "--port", str(free_port())]
        + ["--db", str(tmp_path / "c.db"), "--admin-token", TOKEN],
        cwd=REPO_ROOT,
        env={**os.environ, "RESTAI_CENTRAL_DEVICE_TOKEN": TOKEN},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "must differ from the device token" in result.stderr
