"""Stopping the device's scheduler lets a running job finish instead of cancelling it."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest

from edge.scheduler import EdgeScheduler

pytestmark = pytest.mark.asyncio


async def test_stop_lets_a_running_job_finish_and_logs_no_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    started, finished = asyncio.Event(), asyncio.Event()

    async def slow_job() -> None:
        started.set()
        await asyncio.sleep(0.3)
        finished.set()

    scheduler = EdgeScheduler()
    scheduler.add_job(slow_job, "interval", seconds=60, next_run_time=datetime.now(UTC))
    with caplog.at_level(logging.INFO, logger="apscheduler"):
        scheduler.start()
        await asyncio.wait_for(started.wait(), 5)
        await scheduler.stop(timeout=5)
    assert finished.is_set()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
