"""The uploader as the serving device runs it: on a timer, on every finished session, and again
when a backoff ends; plus the daily-ish pruning of acknowledged rows."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from edge.context import EdgeContext
from edge.events import Event
from sync import outbox
from sync.heartbeat import Heartbeat
from sync.uploader import Uploader

log = logging.getLogger("restai_edge.sync")

FINISH_EVENTS = frozenset({"session:ended", "session:rejected"})
PRUNE_SECONDS = 3600


class SyncService:
    def __init__(self, ctx: EdgeContext) -> None:
        self._ctx = ctx
        settings = ctx.settings
        self.uploader = Uploader(
            ctx.store, settings.data_dir, settings.sync_interval, settings.sync_backoff_cap
        )
        self.heartbeat = Heartbeat(ctx.store, settings.data_dir, self.uploader.timeouts)
        self._scheduler: AsyncIOScheduler | None = None
        self._running = False
        self._again = False

    def schedule(self, scheduler: AsyncIOScheduler) -> None:
        """Add the periodic upload job and listen for finished sessions."""
        self._scheduler = scheduler
        now = datetime.now(UTC)
        # First runs at start-up: a device restarted with a full outbox drains it at once.
        # misfire_grace_time=None: a late timer still runs (the server may start slowly).
        common = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        scheduler.add_job(
            self.tick,
            "interval",
            seconds=self._ctx.settings.sync_interval,
            id="sync-upload",
            next_run_time=now,
            **common,
        )
        scheduler.add_job(
            self.prune,
            "interval",
            seconds=PRUNE_SECONDS,
            id="sync-prune",
            next_run_time=now,
            **common,
        )
        self._ctx.events.listen(self._on_event, FINISH_EVENTS)

    async def _on_event(self, event: Event) -> None:
        if self._running:
            # The pass under way goes round again. A second "sync-nudge" run would not: the
            # scheduler drops a run of a job whose last run is still going, and the session that
            # finished meanwhile waited for the next period (a CI run of the sync tests).
            self._again = True
            return
        self._run_at("sync-nudge", None)

    def _run_at(self, job_id: str, epoch: float | None) -> None:
        assert self._scheduler is not None
        when = None if epoch is None else datetime.fromtimestamp(epoch, UTC)
        self._scheduler.add_job(
            self.tick,
            "date",
            run_date=when,
            id=job_id,
            replace_existing=True,
            misfire_grace_time=None,
        )

    async def tick(self) -> None:
        """Run a pass unless one is running; then that one goes round again, so a session that
        finished meanwhile is not left for the next timer."""
        if self._running:
            self._again = True
            return
        self._running = True
        try:
            while True:
                self._again = False
                report = await self.uploader.run()
                if report.next_attempt_at is not None and report.outcome == "failed":
                    self._run_at("sync-retry", report.next_attempt_at)
                if not self._again:
                    # After the uploads, so that it reports the queue as they left it.
                    await self.heartbeat.send()
                if not self._again:
                    return
        except asyncio.CancelledError:
            # The scheduler is shutting down. Rows this pass claimed are free again as soon as
            # this process is gone (or its next pass starts), so there is nothing to undo.
            return
        except Exception:
            log.exception("Upstream sync pass crashed")
        finally:
            self._running = False

    async def prune(self) -> None:
        try:
            deleted = await outbox.prune(self._ctx.store, self._ctx.settings.sync_retention)
        except asyncio.CancelledError:
            return
        if deleted:
            log.info("Pruned %d acknowledged outbox row(s)", deleted)
