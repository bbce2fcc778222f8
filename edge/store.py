"""The local store: one SQLite file in WAL mode, one writer, numbered migrations.

Every write goes through `Store.transact`, which runs a function inside `BEGIN IMMEDIATE` on the
single writer connection (in a savepoint of its own, see `_commit_queued`) and commits or rolls
back as a whole. The unit is shielded from cancellation: a diner closing the browser
mid-request must not leave a commit without its after-commit work (realtime events, sync
nudges). Reads use a second connection, which WAL lets run beside the writer.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import aiosqlite

from edge.store_check import check_store, create_store, store_uri, truncate_wal
from edge.write_health import WriteHealth, is_storage_full

log = logging.getLogger("restai_edge.store")

T = TypeVar("T")
Row = dict[str, Any]
Params = tuple[Any, ...] | list[Any] | dict[str, Any]

BUSY_TIMEOUT_MS = 5000
# The WAL stays small (#14 point 4): checkpointed into the store every 256 pages (1 MB) rather
# than SQLite's 1,000, and cut back to JOURNAL_SIZE_LIMIT after each checkpoint, so a burst never
# leaves a large file behind and a nearly full disk still has room for the checkpoint that moves
# pages into the store (whose free pages retention can reuse). `edge.maintenance` truncates it to
# nothing when the device is idle.
WAL_AUTOCHECKPOINT_PAGES = 256
JOURNAL_SIZE_LIMIT = 2 * 1024 * 1024
# Most pieces of work committed in one transaction; bounds how long one group holds the lock.
GROUP_MAX = 64


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> Row:
    return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}


def _first(rows: Iterable[Any]) -> Row | None:
    return cast(Row | None, next(iter(rows), None))


async def _connect(path: Path) -> aiosqlite.Connection:
    # isolation_level=None: transactions are begun explicitly, never implicitly by the driver.
    # mode=rw: a store is only ever created by `provision` (edge.store_check.create_store).
    conn = await aiosqlite.connect(store_uri(path), uri=True, isolation_level=None)
    try:
        conn.row_factory = _dict_row  # type: ignore[assignment]
        await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await conn.execute("PRAGMA foreign_keys = ON")
        # FULL: an answered write must survive the box losing power, not only a killed process.
        await conn.execute("PRAGMA synchronous = FULL")
        await conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
        await conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
    except BaseException:
        await conn.close()
        raise
    return conn


@dataclass
class _Job:
    work: Callable[[Transaction], Awaitable[Any]]
    future: asyncio.Future[Any]


class Transaction:
    """The writer connection inside one open transaction."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._after_commit: list[Callable[[], Awaitable[None] | None]] = []

    # Each method is one round trip to the connection's thread: aiosqlite's `async with
    # execute()` spends a second one closing the cursor, which the write path cannot afford.

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run a statement; returns the number of rows it changed."""
        cursor = await self._conn.execute(sql, params)
        return cursor.rowcount

    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run an INSERT; returns the new row's rowid."""
        row = await self._conn.execute_insert(sql, params)
        return int(next(iter(row.values()))) if row else 0  # type: ignore[attr-defined]

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        await self._conn.executemany(sql, rows)

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        return _first(await self._conn.execute_fetchall(sql, params))

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        return list(await self._conn.execute_fetchall(sql, params))  # type: ignore[arg-type]

    async def fetch_value(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetch_one(sql, params)
        return None if row is None else next(iter(row.values()))

    def after_commit(self, callback: Callable[[], Awaitable[None] | None]) -> None:
        """Run `callback` once the transaction has committed (never if it rolls back)."""
        self._after_commit.append(callback)


class Store:
    """The device's store. `create=True` (only `provision`) makes the file if it is missing;
    otherwise opening refuses anything `edge.store_check` would not serve."""

    def __init__(self, path: Path, *, create: bool = False) -> None:
        self.path = path
        self.create = create
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._queue: list[_Job] = []
        self._committer: asyncio.Task[None] | None = None
        self.health = WriteHealth()

    async def open(self) -> Store:
        await asyncio.to_thread(self._prepare)
        try:
            self._writer = await _connect(self.path)
            self._reader = await _connect(self.path)
        except BaseException:
            # A connection left open is a thread that keeps the process alive.
            await self.close()
            raise
        return self

    def _prepare(self) -> None:
        if self.create and not self.path.exists():
            create_store(self.path)
        check_store(self.path, provisioning=self.create)

    async def close(self) -> None:
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    async def __aenter__(self) -> Store:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def transact(self, work: Callable[[Transaction], Awaitable[T]]) -> T:
        """Run `work` in a write transaction and return its result once it is committed.

        Shielded: if the caller is cancelled, the work still commits or rolls back and its
        after-commit callbacks still run.
        """
        assert self._writer is not None, "store is not open"
        job: _Job = _Job(work, asyncio.get_running_loop().create_future())
        # Nobody may be left to read a cancelled caller's failure; reading it here keeps asyncio
        # from reporting it as never retrieved.
        job.future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._queue.append(job)
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_queued())
        try:
            result: T = await asyncio.shield(job.future)
        except Exception as exc:
            if is_storage_full(exc):
                self.health.failed(exc)
            raise
        self.health.succeeded()
        return result

    async def _commit_queued(self) -> None:
        """The single writer: commits queued work in groups until the queue is empty.

        Group commit: work that arrives while a transaction is being written joins the next
        one, so a burst of diners shares one fsync instead of queueing for one each. Every
        piece of work runs in its own savepoint, so one failing request rolls back alone.
        """
        while self._queue:
            group, self._queue = self._queue[:GROUP_MAX], self._queue[GROUP_MAX:]
            await self._commit_group(group)

    async def _commit_group(self, group: list[_Job]) -> None:
        conn = self._writer
        assert conn is not None
        succeeded: list[tuple[_Job, Transaction, Any]] = []
        failed: list[tuple[_Job, BaseException]] = []
        try:
            await conn.execute("BEGIN IMMEDIATE")
            for job in group:
                tx = Transaction(conn)
                await conn.execute("SAVEPOINT work")
                try:
                    result = await job.work(tx)
                except Exception as exc:
                    await conn.execute("ROLLBACK TO work")
                    await conn.execute("RELEASE work")
                    failed.append((job, exc))
                else:
                    await conn.execute("RELEASE work")
                    succeeded.append((job, tx, result))
            await conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
            for job in group:
                if not job.future.done():
                    job.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            if not is_storage_full(exc):  # a full disk is logged once a minute, by self.health
                log.error("Write transaction failed: %s", exc)
            return
        for job, error in failed:
            job.future.set_exception(error)
        for job, tx, result in succeeded:
            for callback in tx._after_commit:
                try:
                    outcome = callback()
                    if outcome is not None:
                        await outcome
                except Exception:
                    log.exception("After-commit callback failed")
            job.future.set_result(result)

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        assert self._reader is not None, "store is not open"
        return _first(await self._reader.execute_fetchall(sql, params))

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        assert self._reader is not None, "store is not open"
        return list(await self._reader.execute_fetchall(sql, params))  # type: ignore[arg-type]

    async def fetch_value(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetch_one(sql, params)
        return None if row is None else next(iter(row.values()))

    async def checkpoint(self) -> bool:
        """Fold the WAL into the store and cut it to nothing; False if a reader or writer was in
        the way (or the disk cannot take the pages yet), to be tried again later."""
        return await asyncio.to_thread(truncate_wal, self.path)

    async def backup_to(self, target: Path) -> None:
        """Write a consistent copy of the store to `target` while writes go on."""
        assert self._reader is not None, "store is not open"
        async with aiosqlite.connect(target) as dest:
            await self._reader.backup(dest)
