"""Periodic jobs of a serving device (APScheduler 3, on the server's own event loop)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from edge import sessions
from edge.context import EdgeContext
from edge.maintenance import RETENTION_SECONDS, StoreMaintenance

log = logging.getLogger("restai_edge.jobs")

# A settings change made with `restai-edge settings` must reach a running device within 5 s.
DIRECTORY_REFRESH_SECONDS = 2
# Pending requests expire no more than 15 s after their TTL.
EXPIRY_SECONDS = 5
EVENT_PRUNE_SECONDS = 60
# Jobs are short store transactions; an upload still waiting on the network after this long is
# cancelled (it is resent on the next start, the central de-duplicates).
STOP_TIMEOUT = 5.0


async def expire_pending(ctx: EdgeContext) -> None:
    expired = await sessions.expire_overdue(ctx)
    if expired:
        log.info("Expired %d pending table request(s)", expired)


async def prune_events(ctx: EdgeContext) -> None:
    await ctx.events.prune(ctx.settings.event_retention)


class DrainingExecutor(AsyncIOExecutor):  # type: ignore[misc]
    """APScheduler's asyncio executor, able to let running jobs finish.

    Its own `shutdown` cancels jobs mid-run, and APScheduler then logs the CancelledError as a
    failed job, with a traceback, on every stop that happens to meet a job (seen in CI).
    """

    async def drain(self, timeout: float) -> None:
        running = [future for future in self._pending_futures if not future.done()]
        if running:
            await asyncio.wait(running, timeout=timeout)


class EdgeScheduler(AsyncIOScheduler):  # type: ignore[misc]
    def __init__(self) -> None:
        self.executor = DrainingExecutor()
        super().__init__(timezone="UTC", executors={"default": self.executor})

    async def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Start no new runs, give running ones `timeout` seconds to finish, then shut down."""
        self.pause()
        await self.executor.drain(timeout)
        self.shutdown(wait=False)


def build_scheduler(ctx: EdgeContext) -> EdgeScheduler:
    scheduler = EdgeScheduler()
    every = {"trigger": "interval", "coalesce": True, "max_instances": 1}
    scheduler.add_job(
        ctx.directory.refresh, seconds=DIRECTORY_REFRESH_SECONDS, id="refresh-branch", **every
    )
    scheduler.add_job(
        expire_pending, args=[ctx], seconds=EXPIRY_SECONDS, id="expire-pending", **every
    )
    scheduler.add_job(
        prune_events, args=[ctx], seconds=EVENT_PRUNE_SECONDS, id="prune-events", **every
    )
    interval = ctx.settings.maintenance_interval
    maintenance = StoreMaintenance(ctx.store, interval, ctx.settings.retention_days)
    scheduler.add_job(maintenance.run, seconds=interval, id="store-maintenance", **every)
    scheduler.add_job(
        maintenance.retain,
        seconds=RETENTION_SECONDS,
        id="store-retention",
        # Soon after start-up, not during it: a device that was off a while catches up at once.
        # misfire_grace_time=None: a slow start-up must not skip that first run for an hour.
        next_run_time=datetime.now(UTC) + timedelta(seconds=interval),
        misfire_grace_time=None,
        **every,
    )
    return scheduler
