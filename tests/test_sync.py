"""Upstream sync against the reference central server, a real HTTP server in its own process.

Every fault the uplink can throw at a serving device (`restai-edge serve` subprocess), restarts
and kill -9 mid-upload, and `sync now` uploading beside `serve`. After each: every finished
session reached the central, and no request carried a session the device had already seen
acknowledged.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from edge.clock import now_iso
from edge.outbox import decode_payload
from edge.secret_files import DEVICE_TOKEN, write_secret
from edge.store import Store, Transaction
from provisioning.cli import cli
from provisioning.server_process import free_port
from sync import outbox
from sync.central.harness import CentralDev
from tests.conftest import SLUG, EdgeServer, approve, auth, open_session, provision_device

TOKEN = "sync-test-device-token-4b1f9e"
# One-second passes (so a 3 s read timeout) and backoff capped at 1 s keep each test short.
FAST = {"RESTAI_EDGE_SYNC_INTERVAL": "1", "RESTAI_EDGE_SYNC_BACKOFF_CAP": "1"}
TABLES = 30


@pytest.fixture(scope="module")
def central(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CentralDev]:
    server = CentralDev(tmp_path_factory.mktemp("central"), TOKEN).start()
    yield server
    server.stop()


@pytest.fixture
def fresh_central(central: CentralDev) -> CentralDev:
    central.reset()
    return central


DeviceFactory = Callable[..., EdgeServer]


@pytest.fixture
def device(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeviceFactory]:
    """`device(central_url, backlog=N, start=True, **env)`: a provisioned device, N finished
    sessions already in its outbox, served unless start=False. All stop at teardown."""
    servers: list[EdgeServer] = []

    def make(
        central_url: str | None, *, backlog: int = 0, start: bool = True, **env: str
    ) -> EdgeServer:
        data_dir = tmp_path_factory.mktemp("device") / "data"
        extra = {"central_url": central_url, "device_token": TOKEN} if central_url else {}
        provision_device(data_dir, TABLES, **extra)
        if backlog:
            fill_outbox(data_dir, backlog)
        server = EdgeServer(data_dir, {**FAST, **env})
        servers.append(server)
        return server.start() if start else server

    yield make
    for server in servers:
        server.stop()
    for server in servers:
        server.assert_clean_log()


def restart(server: EdgeServer, servers_to_stop: list[EdgeServer]) -> EdgeServer:
    again = EdgeServer(server.data_dir, server.env).start()
    servers_to_stop.append(again)
    return again


@pytest.fixture
def restarted() -> Iterator[list[EdgeServer]]:
    servers: list[EdgeServer] = []
    yield servers
    for server in servers:
        server.stop()
        server.assert_clean_log()


def fill_outbox(data_dir: Path, count: int) -> list[str]:
    """Finish `count` sessions straight in the store, queued by the real `enqueue_session`."""

    async def fill() -> list[str]:
        async with Store(data_dir / "edge.db") as store:
            tables = await store.fetch_all("SELECT id, branch_id FROM tables ORDER BY number")

            async def work(tx: Transaction) -> list[str]:
                ids = []
                for number in range(count):
                    table = tables[number % len(tables)]
                    session_id = str(uuid.uuid4())
                    await tx.execute(
                        "INSERT INTO sessions (id, branch_id, table_id, customer_name, status,"
                        " started_at, ended_at) VALUES (?, ?, ?, ?, 'completed', ?, ?)",
                        (session_id, table["branch_id"], table["id"], "Ana", now_iso(), now_iso()),
                    )
                    await outbox.enqueue_session(tx, session_id)
                    ids.append(session_id)
                return ids

            return await store.transact(work)

    return asyncio.run(fill())


def finish_sessions(server: EdgeServer, count: int) -> list[str]:
    """Diners sit down and staff end their tables, through the API."""
    token = server.staff_token()
    ids = []
    for _ in range(count):
        session_id = open_session(server, server.table_code())["sessionId"]
        assert approve(server, token, session_id).status_code == 200
        ended = httpx.patch(
            f"{server.url}/api/tables/sessions/{session_id}/end", headers=auth(token)
        )
        assert ended.status_code == 200, ended.text
        ids.append(session_id)
    return ids


def outbox_rows(server: EdgeServer) -> dict[str, dict[str, Any]]:
    with sqlite3.connect(server.data_dir / "edge.db", timeout=5) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT * FROM outbox").fetchall()
    return {row["session_id"]: dict(row) for row in rows}


def waiting(server: EdgeServer) -> int:
    return sum(1 for row in outbox_rows(server).values() if row["acknowledged_at"] is None)


def sync_state(server: EdgeServer) -> dict[str, Any]:
    answer = httpx.get(f"{server.url}/api/sync/status", headers=auth(server.staff_token()))
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()["data"]
    return data


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout} s for {what}")
        time.sleep(0.05)


def wait_drained(server: EdgeServer, timeout: float = 10) -> None:
    wait_until(lambda: waiting(server) == 0, timeout, "the device's outbox to drain")


def assert_delivered(central: CentralDev, server: EdgeServer, ids: list[str]) -> dict[str, int]:
    """Every id is stored by the central and acknowledged on the device, and no request carried
    an id after the device had recorded its acknowledgement. Returns deliveries per id."""
    rows = outbox_rows(server)
    stats = central.stats()
    assert set(ids) <= set(stats["deliveries"]), "a finished session never reached the central"
    for session_id in ids:
        assert rows[session_id]["acknowledged_at"] is not None, f"{session_id} not acknowledged"
    for entry in stats["request_log"]:
        for session_id in entry["ids"]:
            acknowledged = rows[session_id]["acknowledged_at"]
            assert acknowledged is None or entry["at"] < acknowledged, (
                f"{session_id} was sent again after the central had acknowledged it"
            )
    deliveries: dict[str, int] = stats["deliveries"]
    return deliveries


def test_a_finished_session_reaches_the_central_at_once(
    fresh_central: CentralDev, device: DeviceFactory
) -> None:
    # A long period: only the nudge of a finishing session can deliver within seconds.
    server = device(fresh_central.url, RESTAI_EDGE_SYNC_INTERVAL="60")
    ended = finish_sessions(server, 1)[0]
    token = server.staff_token()
    rejected = open_session(server, server.table_code(), "Rosa")["sessionId"]
    answer = httpx.patch(f"{server.url}/api/tables/sessions/{rejected}/reject", headers=auth(token))
    assert answer.status_code == 200
    wait_drained(server, timeout=5)

    assert assert_delivered(fresh_central, server, [ended, rejected]) == {ended: 1, rejected: 1}
    stored = {item["id"]: item for item in fresh_central.sessions()}
    with sqlite3.connect(server.data_dir / "edge.db") as db:
        device_id = db.execute("SELECT device_id FROM branch").fetchone()[0]
    rows = outbox_rows(server)
    for session_id, status in ((ended, "completed"), (rejected, "rejected")):
        assert stored[session_id]["deviceId"] == device_id
        assert stored[session_id]["branchSlug"] == SLUG
        assert stored[session_id]["payload"] == json.loads(
            decode_payload(rows[session_id]["payload"])
        )
        assert stored[session_id]["payload"]["status"] == status
    status = sync_state(server)
    assert status["state"] == "ok" and status["queue_depth"] == 0
    assert status["oldest_waiting"] is None and status["last_error"] is None
    refused = httpx.get(f"{server.url}/api/sync/status")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "UNAUTHORIZED"
    assert status["last_success"] is not None and status["last_success"].endswith("Z")


def test_restart_with_a_backlog_drains_it_in_batches_of_100(
    fresh_central: CentralDev, device: DeviceFactory
) -> None:
    server = device(fresh_central.url, backlog=250, start=False)
    ids = list(outbox_rows(server))
    server.start()
    wait_drained(server)
    assert set(assert_delivered(fresh_central, server, ids).values()) == {1}
    assert fresh_central.stats()["batch_sizes"] == [100, 100, 50]


def test_central_refusing_connections_keeps_everything_until_it_is_back(
    tmp_path: Path, device: DeviceFactory, restarted: list[EdgeServer]
) -> None:
    port = free_port()
    server = device(f"http://127.0.0.1:{port}")
    ids = finish_sessions(server, 3)
    wait_until(lambda: sync_state(server)["failures"] >= 2, 8, "failed attempts")
    status = sync_state(server)
    assert status["state"] == "retrying"
    assert status["queue_depth"] == 3 and status["oldest_waiting"] is not None
    assert status["last_error"]["status"] is None
    assert "cannot reach central" in status["last_error"]["message"]
    shown = cli_in_process(server.data_dir, "status")
    assert shown.exit_code == 0, shown.output
    assert "Upstream sync: retrying" in shown.stdout
    assert "waiting:      3 session(s)" in shown.stdout
    assert "(no answer) cannot reach central" in shown.stdout
    assert "next attempt:" in shown.stdout

    # Restarted with a non-empty outbox, and the central comes up on the URL it was given.
    server.stop()
    central = CentralDev(tmp_path / "late", TOKEN, port).start()
    try:
        again = restart(server, restarted)
        wait_drained(again, timeout=5)
        assert assert_delivered(central, again, ids) == {sid: 1 for sid in ids}
        assert sync_state(again)["state"] == "ok"
    finally:
        central.stop()


def test_dropped_connections_are_retried(fresh_central: CentralDev, device: DeviceFactory) -> None:
    fresh_central.control("down", times=2)
    server = device(fresh_central.url, backlog=5)
    wait_drained(server)
    ids = list(outbox_rows(server))
    assert set(assert_delivered(fresh_central, server, ids).values()) == {1}
    log = fresh_central.stats()["request_log"]
    assert [entry["status"] for entry in log] == [None, None, 200]


def test_a_hanging_central_times_out_and_the_batch_is_sent_again(
    fresh_central: CentralDev, device: DeviceFactory
) -> None:
    fresh_central.control("slow", delay=20, times=1)
    server = device(fresh_central.url)
    session_id = finish_sessions(server, 1)[0]
    wait_drained(server, timeout=12)
    # The central stored the first copy before hanging; the resend is de-duplicated by id.
    assert assert_delivered(fresh_central, server, [session_id]) == {session_id: 2}
    first, second = fresh_central.stats()["request_log"][:2]
    assert second["at"] - first["at"] >= 3.0, "gave up on the hanging central too early"
    error = sync_state(server)["last_error"]
    assert error["status"] is None and "did not answer within 3 s" in error["message"]


def test_500_is_retried_with_a_backoff_starting_within_one_period(
    fresh_central: CentralDev, device: DeviceFactory
) -> None:
    fresh_central.control("500", times=2)
    server = device(fresh_central.url, RESTAI_EDGE_SYNC_BACKOFF_CAP="300")
    session_id = finish_sessions(server, 1)[0]
    wait_drained(server)
    assert assert_delivered(fresh_central, server, [session_id]) == {session_id: 1}
    log = fresh_central.stats()["request_log"]
    assert [entry["status"] for entry in log] == [500, 500, 200]
    # Full jitter: the first retry within one period (1 s), the second within two.
    assert log[1]["at"] - log[0]["at"] <= 1.0 + 0.5
    assert log[2]["at"] - log[1]["at"] <= 2.0 + 0.5
    status = sync_state(server)
    assert status["state"] == "ok" and status["failures"] == 0
    assert status["last_error"]["status"] == 500


def test_429_waits_as_long_as_retry_after_says(
    fresh_central: CentralDev, device: DeviceFactory
) -> None:
    fresh_central.control("429", retry_after=2, times=1)
    server = device(fresh_central.url)
    session_id = finish_sessions(server, 1)[0]
    wait_drained(server)
    assert assert_delivered(fresh_central, server, [session_id]) == {session_id: 1}
    first, second = fresh_central.stats()["request_log"]
    assert first["status"] == 429 and second["status"] == 200
    assert second["at"] - first["at"] >= 2.0 - 0.05, "retried before Retry-After"


def sync_cli(server: EdgeServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "provisioning", "--data-dir", str(server.data_dir), "sync", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **server.env},
    )


def test_401_stops_sync_until_sync_now_succeeds(
    fresh_central: CentralDev, device: DeviceFactory
) -> None:
    fresh_central.control("401")
    server = device(fresh_central.url)
    ids = finish_sessions(server, 1)
    wait_until(lambda: sync_state(server)["stopped"], 5, "the refusal to stop sync")
    ids += finish_sessions(server, 1)
    time.sleep(1.5)  # past the first retry's latest time, and a table finished: no new attempt
    assert fresh_central.stats()["requests"] == 1
    status = sync_state(server)
    assert status["state"] == "stopped" and status["queue_depth"] == 2
    assert status["last_error"]["status"] == 401

    failed = cli_in_process(server.data_dir, "now")
    assert failed.exit_code == 1
    assert "refused this device" in failed.stderr and "401" in failed.stderr
    assert waiting(server) == 2

    fresh_central.control("ok")
    pushed = sync_cli(server, "now")
    assert pushed.returncode == 0, pushed.stderr
    assert "Uploaded 2 session(s)" in pushed.stdout
    status = sync_state(server)
    assert status["state"] == "ok" and not status["stopped"] and status["queue_depth"] == 0

    # The serving device has resumed: the next finished table goes up at once.
    ids += finish_sessions(server, 1)
    wait_drained(server, timeout=5)
    assert assert_delivered(fresh_central, server, ids) == {sid: 1 for sid in ids}


def test_403_stops_sync_too(fresh_central: CentralDev, device: DeviceFactory) -> None:
    fresh_central.control("403")
    server = device(fresh_central.url, backlog=2)
    wait_until(lambda: sync_state(server)["stopped"], 5, "the refusal to stop sync")
    time.sleep(1.5)
    assert fresh_central.stats()["requests"] == 1
    status = sync_state(server)
    assert status["queue_depth"] == 2 and status["last_error"]["status"] == 403
    # Nothing uploads until someone acts: `sync status` says so with its exit code too.
    for args in (("status",), ("status", "--json")):
        shown = sync_cli(server, *args)
        assert shown.returncode == 1, f"sync {' '.join(args)} exited 0 while sync is stopped"
        assert "stopped" in shown.stdout and not shown.stderr


def test_a_missing_device_token_stops_sync_and_says_why(
    fresh_central: CentralDev, device: DeviceFactory
) -> None:
    server = device(fresh_central.url, backlog=2, start=False)
    (server.data_dir / DEVICE_TOKEN).unlink()
    server.start()
    wait_until(lambda: sync_state(server)["stopped"], 5, "the missing token to stop sync")
    error = sync_state(server)["last_error"]
    assert error["status"] is None and "no device token" in error["message"]
    assert fresh_central.stats()["requests"] == 0

    write_secret(server.data_dir, DEVICE_TOKEN, TOKEN)
    pushed = sync_cli(server, "now")
    assert pushed.returncode == 0, pushed.stderr
    ids = list(outbox_rows(server))
    assert assert_delivered(fresh_central, server, ids) == {sid: 1 for sid in ids}


def test_413_halves_the_batch_until_it_fits(
    fresh_central: CentralDev, device: DeviceFactory
) -> None:
    fresh_central.control("413", max_batch=10)
    server = device(fresh_central.url, backlog=25)
    wait_drained(server)
    ids = list(outbox_rows(server))
    assert set(assert_delivered(fresh_central, server, ids).values()) == {1}
    assert fresh_central.stats()["batch_sizes"] == [25, 12, 6, 6, 6, 6, 1]


def test_a_garbage_answer_acknowledges_nothing(
    fresh_central: CentralDev, device: DeviceFactory
) -> None:
    fresh_central.control("garbage", times=2)
    server = device(fresh_central.url, backlog=3)
    wait_drained(server)
    ids = list(outbox_rows(server))
    assert set(assert_delivered(fresh_central, server, ids).values()) == {1}
    assert [entry["status"] for entry in fresh_central.stats()["request_log"]] == [200, 200, 200]
    error = sync_state(server)["last_error"]
    assert error["status"] == 200 and "without an ack" in error["message"]


def test_only_acknowledged_sessions_leave_the_outbox(
    fresh_central: CentralDev, device: DeviceFactory
) -> None:
    fresh_central.control("partial", accept=2)
    server = device(fresh_central.url, backlog=5)
    wait_drained(server)
    ids = list(outbox_rows(server))
    assert set(assert_delivered(fresh_central, server, ids).values()) == {1}
    assert fresh_central.stats()["batch_sizes"] == [5, 3, 1]


def test_graceful_restart_mid_upload(
    fresh_central: CentralDev, device: DeviceFactory, restarted: list[EdgeServer]
) -> None:
    fresh_central.control("slow", delay=30)
    server = device(fresh_central.url, backlog=5)
    wait_until(lambda: fresh_central.stats()["sessions"] == 5, 5, "the central to store them")
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 5, "an upload in flight held up the shutdown"
    assert waiting(server) == 5
    fresh_central.control("ok")
    again = restart(server, restarted)
    wait_drained(again, timeout=5)
    ids = list(outbox_rows(again))
    assert set(assert_delivered(fresh_central, again, ids).values()) == {2}


def test_kill_9_while_waiting_for_the_central(
    fresh_central: CentralDev, device: DeviceFactory, restarted: list[EdgeServer]
) -> None:
    fresh_central.control("slow", delay=30)
    server = device(fresh_central.url, backlog=60)
    # The central stores a batch before it hangs: the device dies holding no acknowledgement.
    wait_until(lambda: fresh_central.stats()["sessions"] == 60, 5, "the central to store them")
    server.kill()
    assert waiting(server) == 60
    fresh_central.control("ok")
    # The rows stay claimed by the dead process; the restarted one must not wait out the lease.
    again = restart(server, restarted)
    wait_drained(again, timeout=5)
    ids = list(outbox_rows(again))
    deliveries = assert_delivered(fresh_central, again, ids)
    assert len(fresh_central.sessions()) == 60
    assert set(deliveries.values()) == {2}


def test_sync_now_beside_serve_never_sends_a_session_twice(
    fresh_central: CentralDev, device: DeviceFactory
) -> None:
    # Each batch takes a second, so both processes are still at it when the other starts.
    fresh_central.control("slow", delay=1.0)
    server = device(fresh_central.url, backlog=400, start=False)
    command = [sys.executable, "-m", "provisioning", "--data-dir", str(server.data_dir)]
    with subprocess.Popen(
        [*command, "sync", "now", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **server.env},
    ) as pushing:
        server.start()
        out, err = pushing.communicate(timeout=30)
    assert pushing.returncode == 0, err
    by_cli = json.loads(out)["sent"]
    wait_drained(server)
    ids = list(outbox_rows(server))
    assert set(assert_delivered(fresh_central, server, ids).values()) == {1}
    assert 0 < by_cli < 400, f"the two processes did not upload side by side ({by_cli} by CLI)"


def cli_in_process(data_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--data-dir", str(data_dir), "sync", *args], env=FAST)


def test_status_when_sync_is_disabled(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    provision_device(data_dir, 3)
    fill_outbox(data_dir, 1)
    printed = cli_in_process(data_dir, "status", "--json")
    assert printed.exit_code == 0, printed.output
    shown = json.loads(printed.stdout)
    assert shown["state"] == "disabled" and shown["enabled"] is False
    assert shown["queue_depth"] == 1 and shown["oldest_waiting"].endswith("Z")
    assert shown["last_success"] is None and shown["last_error"] is None
    assert shown["stopped"] is False
    human = cli_in_process(data_dir, "status")
    assert human.exit_code == 0 and "Upstream sync: disabled" in human.stdout
    pushed = cli_in_process(data_dir, "now")
    assert pushed.exit_code == 1 and "sync is disabled" in pushed.stderr


def test_acknowledged_rows_are_pruned_after_the_retention(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    provision_device(data_dir, 3)
    acked_long_ago, acked_lately, never_acked = fill_outbox(data_dir, 3)
    now = time.time()
    week = 7 * 86400

    async def age_and_prune() -> tuple[int, set[str]]:
        async with Store(data_dir / "edge.db") as store:

            async def work(tx: Transaction) -> None:
                for session_id, acknowledged in (
                    (acked_long_ago, now - week - 60),
                    (acked_lately, now - 3600),
                ):
                    await tx.execute(
                        "UPDATE outbox SET acknowledged_at = ? WHERE session_id = ?",
                        (acknowledged, session_id),
                    )
                await tx.execute(
                    "UPDATE outbox SET enqueued_at = ? WHERE session_id = ?",
                    (now - 30 * 86400, never_acked),
                )

            await store.transact(work)
            deleted = await outbox.prune(store, week)
            left = {row["session_id"] for row in await store.fetch_all("SELECT * FROM outbox")}
            return deleted, left

    deleted, left = asyncio.run(age_and_prune())
    assert deleted == 1
    assert left == {acked_lately, never_acked}
