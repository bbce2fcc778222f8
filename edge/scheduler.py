"""Periodic jobs of a serving device (APScheduler 3, on the server's own event loop)."""

from __future__ import annotations

import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from edge import sessions
from edge.context import EdgeContext

log = logging.getLogger("restai_edge.jobs")

# A settings change made with `restai-edge settings` must reach a running device within 5 s.
DIRECTORY_REFRESH_SECONDS = 2
# Pending requests expire no more than 15 s after their TTL.
EXPIRY_SECONDS = 5
EVENT_PRUNE_SECONDS = 60


async def expire_pending(ctx: EdgeContext) -> None:
    expired = await sessions.expire_overdue(ctx)
    if expired:
        log.info("Expired %d pending table request(s)", expired)


async def prune_events(ctx: EdgeContext) -> None:
    await ctx.events.prune(ctx.settings.event_retention)


def build_scheduler(ctx: EdgeContext) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
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
    return scheduler
