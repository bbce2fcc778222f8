"""Keeping the store small and able to take writes while the device serves.

Every hour (the first time one interval after start-up), retention removes the finished sessions
that are past `retention_days` and safe elsewhere, and hands the freed pages back to the file
system (`edge.retention`).

Every `maintenance_interval` seconds:
- while writes fail on a full disk: try to fold the WAL into the store and cut it (which frees
  its space if the store can take the pages), then probe with one small write, so the device
  notices freed space by itself, without a restart and without waiting for a diner's write;
- when nothing was written for a whole interval: cut the WAL to nothing, so an idle box keeps
  no log file beside the store.
"""

from __future__ import annotations

import logging
import time

from edge import retention
from edge.store import Store, Transaction
from edge.store_check import disk_full
from edge.write_health import is_storage_full

log = logging.getLogger("restai_edge.store")


async def _probe(tx: Transaction) -> None:
    version = int(await tx.fetch_value("PRAGMA user_version"))
    await tx.execute(f"PRAGMA user_version = {version}")


def wal_bytes(store: Store) -> int:
    try:
        return store.path.with_name(store.path.name + "-wal").stat().st_size
    except FileNotFoundError:
        return 0


RETENTION_SECONDS = 3600


class StoreMaintenance:
    def __init__(self, store: Store, interval: float, retention_days: int) -> None:
        self._store = store
        self._interval = interval
        self._retention_days = retention_days

    async def retain(self) -> None:
        store = self._store
        before = store.path.stat().st_size
        removed = await retention.prune(store, self._retention_days)
        freed = await retention.reclaim(store)
        if removed or freed:
            log.info(
                "Retention removed %d finished session(s) older than %d days; %.1f MB handed"
                " back (store %.1f MB)",
                removed,
                self._retention_days,
                (before - store.path.stat().st_size) / 2**20,
                store.path.stat().st_size / 2**20,
            )

    async def run(self) -> None:
        store = self._store
        if store.health.degraded:
            await store.checkpoint()
            try:
                await store.transact(_probe)
            except Exception as exc:
                if not is_storage_full(exc):
                    raise
            else:
                # The probe rewrites the store's header page, a write no row count shows. Its one
                # page also fits in the few kilobytes the checkpoint gave back by cutting the
                # WAL, on a disk that still has no room for a diner's session: only a disk with
                # room of its own counts as writable again.
                if not disk_full(store.path.parent):
                    store.health.succeeded()
            return
        idle = time.time() - store.health.last_write >= self._interval
        if idle and wal_bytes(store):
            await store.checkpoint()
