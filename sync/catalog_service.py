"""The catalog as the serving device keeps it current: a pull at start, every
`catalog_interval` seconds and when a backoff ends; and the announcement of a menu changed by
another process (`restai-edge menu pull`, `menu import`), which records `menu:updated` in the
store but cannot reach this process's sockets."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from edge.context import EdgeContext
from edge.events import Event
from sync.catalog_pull import CatalogPuller

log = logging.getLogger("restai_edge.catalog")

ANNOUNCE_SECONDS = 2
MENU_UPDATED = "menu:updated"


class CatalogService:
    def __init__(self, ctx: EdgeContext) -> None:
        self._ctx = ctx
        settings = ctx.settings
        self.puller = CatalogPuller(
            ctx.store,
            settings.data_dir,
            settings.catalog_interval,
            settings.sync_backoff_cap,
            events=ctx.events,
        )
        self._scheduler: AsyncIOScheduler | None = None
        # The newest `menu:updated` this process delivered, and one seen in the store but not
        # delivered yet (it waits one round, in case it is this process's own, about to be).
        self._announced: int | None = None
        self._pending: int | None = None
        # The newest event looked through, and the newest `menu:updated` found so far: each
        # round reads only the events recorded since the last one. Reading them all, every two
        # seconds on the loop, held every request for as long as the log was long (a busy
        # quarter of an hour, or the benchmark's tens of thousands of sessions a minute).
        self._scanned = 0
        self._found: int | None = None

    def schedule(self, scheduler: AsyncIOScheduler) -> None:
        self._scheduler = scheduler
        common = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        scheduler.add_job(
            self.tick,
            "interval",
            seconds=self._ctx.settings.catalog_interval,
            id="catalog-pull",
            next_run_time=datetime.now(UTC),
            **common,
        )
        scheduler.add_job(
            self.announce_recorded,
            "interval",
            seconds=ANNOUNCE_SECONDS,
            id="menu-announce",
            **common,
        )
        self._ctx.events.listen(self._on_event, {MENU_UPDATED})

    async def tick(self) -> None:
        try:
            report = await self.puller.run()
        except asyncio.CancelledError:
            return
        except Exception:
            log.exception("Catalog pull crashed")
            return
        if report.outcome == "failed" and report.next_attempt_at is not None:
            assert self._scheduler is not None
            self._scheduler.add_job(
                self.tick,
                "date",
                run_date=datetime.fromtimestamp(report.next_attempt_at, UTC),
                id="catalog-retry",
                replace_existing=True,
                misfire_grace_time=None,
            )

    async def _on_event(self, event: Event) -> None:
        self._announced = max(self._announced or 0, event.id)

    async def announce_recorded(self) -> None:
        # Ids only grow, and a commit shows all of its events at once (one writer): none can
        # appear later below an id already looked through.
        seen = await self._ctx.store.fetch_one(
            "SELECT max(id) AS newest, max(CASE WHEN name = ? THEN id END) AS found"
            " FROM events WHERE id > ?",
            (MENU_UPDATED, self._scanned),
        )
        assert seen is not None  # an aggregate always answers a row
        self._scanned = seen["newest"] or self._scanned
        latest = self._found = seen["found"] or self._found
        if self._announced is None:
            self._announced = latest or 0
            return
        if latest is None or latest <= self._announced:
            self._pending = None
            return
        if latest != self._pending:
            # This process delivers its own events right after their commit; one still not
            # delivered a round later was recorded by another process.
            self._pending = latest
            return
        for event in await self._ctx.events.since(latest - 1, 1):
            await self._ctx.events.deliver_recorded(event)
        self._pending = None
