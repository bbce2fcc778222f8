"""The uploader as the serving device runs it (issue #6)."""

from __future__ import annotations

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from edge.context import EdgeContext


class SyncService:
    def __init__(self, ctx: EdgeContext) -> None:
        self._ctx = ctx

    def schedule(self, scheduler: AsyncIOScheduler) -> None:
        """Add the periodic upload job and listen for finished sessions."""
