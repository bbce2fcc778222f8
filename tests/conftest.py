"""Shared test fixtures: real devices (a provisioned data dir and a `restai-edge serve` process on
a free port) and helpers to talk to them over HTTP."""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from provisioning.provision import ProvisionRequest, provision_with_staff
from provisioning.server_process import ServerProcess

# The page tests' browser fixtures (Chromium, contexts kept on the device, axe-core).
pytest_plugins = ("tests.pages_browser",)

SLUG = "downtown-lima"
MANAGER_PIN = "482913"
WAITER_PIN = "271828"
KITCHEN_PIN = "314159"
CASHIER_PIN = "161803"
SERVER_TABLES = 120
# Each server process of a session writes a log of its own, even on a shared data dir.
LOG_NUMBERS = itertools.count(1)


def _ptrace_allowed() -> bool:
    if shutil.which("strace") is None:
        return False
    probe = subprocess.run(["strace", "-qq", "-e", "trace=none", "true"], capture_output=True)
    return probe.returncode == 0


# For tests that watch a process's system calls.
needs_strace = pytest.mark.skipif(
    not _ptrace_allowed(),
    reason="needs strace (scripts/install-system-deps.sh) and permission to trace processes",
)


def provision_device(data_dir: Path, tables: int = SERVER_TABLES, **extra: object) -> None:
    request = ProvisionRequest(
        branch_slug=SLUG,
        branch_name="Downtown Lima",
        tables=tables,
        base_url="http://127.0.0.1:8000",
        **extra,  # type: ignore[arg-type]
    )
    staff = [
        ("Ana Manager", "manager", MANAGER_PIN),
        ("Walter Waiter", "waiter", WAITER_PIN),
        ("Kira Kitchen", "kitchen", KITCHEN_PIN),
        ("Cata Cashier", "cashier", CASHIER_PIN),
    ]
    # A thread of its own, so async tests (already inside an event loop) can provision too.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, provision_with_staff(data_dir, request, staff)).result()


class EdgeServer(ServerProcess):
    """A `restai-edge serve` process on a free port, with its own data dir and log file."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        super().__init__(
            argv=[sys.executable, "-m", "provisioning", "serve", "--host", "127.0.0.1"],
            env={
                "RESTAI_EDGE_DATA_DIR": str(data_dir),
                "RESTAI_EDGE_SESSION_RATE_LIMIT": "0",
                # Every test diner shares 127.0.0.1; the tests of these limits set their own.
                "RESTAI_EDGE_PENDING_PER_ADDRESS": "0",
                **env,
            },
            log_path=data_dir.parent / f"server-{next(LOG_NUMBERS)}.log",
        )
        self.data_dir = data_dir
        self._tables = itertools.count(1)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run `restai-edge --data-dir <this device> ARGS...` for real; it must succeed."""
        return subprocess.run(
            [sys.executable, "-m", "provisioning", "--data-dir", str(self.data_dir), *args],
            capture_output=True,
            text=True,
            check=True,
        )

    def table_code(self) -> str:
        """A table no other test of this server has used."""
        number = next(self._tables)
        assert number <= SERVER_TABLES, "this server ran out of fresh tables"
        return f"{SLUG}-{number}"

    def table_key(self, table_code: str) -> str:
        """The table's key, as its printed QR code carries it (`?k=`)."""
        with sqlite3.connect(f"file:{self.data_dir / 'edge.db'}?mode=ro", uri=True) as db:
            (key,) = db.execute(
                "SELECT table_key FROM tables WHERE code = ?", (table_code,)
            ).fetchone()
        db.close()
        return str(key)

    def customer_url(self, table_code: str, tail: str) -> str:
        return f"{self.url}/api/customer/{SLUG}/{table_code}/{tail}"

    def staff_token(self, pin: str = MANAGER_PIN) -> str:
        answer = httpx.post(f"{self.url}/api/auth/staff/login", json={"pin": pin})
        assert answer.status_code == 200, answer.text
        return str(answer.json()["data"]["token"])

    def assert_clean_log(self) -> None:
        text = self.log()
        # A log level, not a word inside an error code such as INTERNAL_ERROR.
        assert not re.search(r"\bERROR\b", text), text
        for sign in ("Traceback", "Task was destroyed"):
            assert sign not in text, text


@pytest.fixture
def make_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Start servers with their own data dirs; `make_server(ENV=...)`. All stop at teardown."""
    started: list[EdgeServer] = []

    def make(tables: int = SERVER_TABLES, **env: str) -> EdgeServer:
        data_dir = tmp_path_factory.mktemp("device") / "data"
        provision_device(data_dir, tables)
        server = EdgeServer(data_dir, env).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
    for server in started:
        server.assert_clean_log()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeServer]:
    """One device shared by a test module; each test takes fresh tables from it."""
    data_dir = tmp_path_factory.mktemp("device") / "data"
    provision_device(data_dir)
    edge = EdgeServer(data_dir, {}).start()
    yield edge
    edge.stop()
    edge.assert_clean_log()


@pytest.fixture(scope="module")
def manager_token(server: EdgeServer) -> str:
    return server.staff_token(MANAGER_PIN)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def open_session(server: EdgeServer, table_code: str, name: str = "Carlos Rodriguez") -> dict:
    answer = httpx.post(server.customer_url(table_code, "session"), json={"customerName": name})
    assert answer.status_code == 201, answer.text
    return dict(answer.json()["data"])


def join_session(server: EdgeServer, table_code: str, name: str = "Rosa Quispe") -> dict:
    """A second diner joins the table's active session, with the key from its QR code."""
    answer = httpx.post(
        server.customer_url(table_code, "session"),
        json={"customerName": name, "tableKey": server.table_key(table_code)},
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["data"])


def approve(server: EdgeServer, token: str, session_id: str) -> httpx.Response:
    return httpx.patch(
        f"{server.url}/api/tables/sessions/{session_id}/approve", headers=auth(token)
    )
