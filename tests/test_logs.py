"""The device's log on a healthy box: every line in one format, with a time and a level (Sanic,
APScheduler, engine.io and httpx included), and nothing that repeats every few seconds, also
after a stall of the event loop, with phones connecting and leaving, and with a central that
takes longer to answer than the sync period."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import socketio

from tests.conftest import MANAGER_PIN, EdgeServer, open_session, provision_device

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) \S+: ")
TIMESTAMP = re.compile(r"^\S+ \S+ ")


async def _phones_come_and_go(url: str, token: str) -> None:
    for transports in (["websocket"], ["polling"], ["polling", "websocket"]):
        for _ in range(3):
            client = socketio.AsyncClient()
            await client.connect(url, auth={"token": token}, transports=transports)
            await asyncio.sleep(0.1)
            await client.disconnect()


def _lines(server: EdgeServer) -> list[str]:
    return [line for line in server.log().splitlines() if line.strip()]


def assert_one_format(lines: list[str]) -> None:
    strays = [line for line in lines if not LOG_LINE.match(line)]
    assert not strays, "lines outside the device's log format:\n" + "\n".join(strays[:20])


@pytest.fixture
def device(tmp_path: Path) -> Iterator[tuple[Path, list[EdgeServer]]]:
    started: list[EdgeServer] = []
    yield tmp_path / "data", started
    for server in started:
        server.stop()


def test_a_healthy_box_logs_in_one_format_and_repeats_nothing(device) -> None:
    data_dir, started = device
    provision_device(data_dir, tables=3)
    server = EdgeServer(data_dir, {}).start()
    started.append(server)
    token = server.staff_token(MANAGER_PIN)
    asyncio.run(_phones_come_and_go(server.url, token))
    httpx.get(f"{server.url}/no-such-page")
    # A stall (the box swapping, a saturated core): every job's run comes due at once.
    os.kill(server.pid, signal.SIGSTOP)
    time.sleep(3)
    os.kill(server.pid, signal.SIGCONT)
    time.sleep(6)
    server.stop()

    lines = _lines(server)
    assert_one_format(lines)
    repeated = {
        message: count
        for message, count in Counter(TIMESTAMP.sub("", line) for line in lines).items()
        if count > 1
    }
    assert not repeated, repeated


def test_a_slow_central_does_not_fill_the_log_with_skipped_runs(device) -> None:
    """The upload pass waits on a central that never answers, longer than the sync period:
    the scheduler skips the runs that fall meanwhile, by design, and says nothing about it."""
    data_dir, started = device
    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        central = f"http://127.0.0.1:{silent.getsockname()[1]}"
        provision_device(data_dir, tables=3, central_url=central, device_token="d" * 32)
        server = EdgeServer(data_dir, {"RESTAI_EDGE_SYNC_INTERVAL": "1"}).start()
        started.append(server)
        token = server.staff_token(MANAGER_PIN)
        session = open_session(server, server.table_code())
        rejected = httpx.patch(
            f"{server.url}/api/tables/sessions/{session['sessionId']}/reject",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert rejected.status_code == 200
        time.sleep(8)
        server.stop()

    lines = _lines(server)
    assert_one_format(lines)
    text = "\n".join(lines)
    assert "maximum number of running instances" not in text
    assert "Upstream sync failed" in text  # the pass did wait on the central


OVERRUNNING_JOB = """
import asyncio, logging
from edge.logs import configure_logging
from edge.scheduler import EdgeScheduler

configure_logging("INFO")

async def slow():
    await asyncio.sleep(1.0)

async def main():
    scheduler = EdgeScheduler()
    scheduler.add_job(slow, "interval", seconds=0.2, coalesce=True, max_instances=1, id="slow")
    scheduler.start()
    await asyncio.sleep(2.5)
    await scheduler.stop()
    logging.getLogger("restai_edge.check").info("done")

asyncio.run(main())
"""


def test_a_job_that_overruns_its_interval_is_skipped_quietly() -> None:
    """What a saturated core does to every periodic job: the next run falls due while the last
    one still runs. Skipping it is the design (max_instances=1); APScheduler used to say so,
    bare, every few seconds."""
    done = subprocess.run(
        [sys.executable, "-c", OVERRUNNING_JOB], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert_one_format(lines)
    assert not any("maximum number of running instances" in line for line in lines), lines
    assert lines and lines[-1].endswith("restai_edge.check: done"), lines
