"""Keeping the store small and able to take writes while the device serves.

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

from edge.store import Store, Transaction
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


class StoreMaintenance:
    def __init__(self, store: Store, interval: float) -> None:
        self._store = store
        self._interval = interval

    async def run(self) -> None:
        store = self._store
        if store.health.degraded:
            await store.checkpoint()
            try:
                await store.transact(_probe)  # success ends the condition (store.health)
            except Exception as exc:
                if not is_storage_full(exc):
                    raise
            return
        idle = time.time() - store.health.last_write >= self._interval
        if idle and wal_bytes(store):
            await store.checkpoint()
