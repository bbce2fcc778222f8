"""The local store: one SQLite file in WAL mode, one writer, numbered migrations.

Every write goes through `Store.transact`, which runs a function inside `BEGIN IMMEDIATE` on the
single writer connection and commits or rolls back as a whole. The unit is shielded from
cancellation: a diner closing the browser mid-request must not leave a commit without its
after-commit work (realtime events, sync nudges). Reads use a second connection, which WAL lets
run beside the writer.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

log = logging.getLogger("restai_edge.store")

T = TypeVar("T")
Row = dict[str, Any]
Params = tuple[Any, ...] | list[Any] | dict[str, Any]

BUSY_TIMEOUT_MS = 5000


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> Row:
    return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}


def _migrations() -> list[tuple[int, str, str]]:
    found = []
    for entry in resources.files("edge.migrations").iterdir():
        if entry.name.endswith(".sql"):
            number = int(entry.name.split("_", 1)[0])
            found.append((number, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


async def _connect(path: Path) -> aiosqlite.Connection:
    # isolation_level=None: transactions are begun explicitly, never implicitly by the driver.
    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = _dict_row
    await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    await conn.execute("PRAGMA foreign_keys = ON")
    # FULL: an answered write must survive the box losing power, not only a killed process.
    await conn.execute("PRAGMA synchronous = FULL")
    return conn


class Transaction:
    """The writer connection inside one open transaction."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._after_commit: list[Callable[[], Awaitable[None] | None]] = []

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run a statement; returns the number of rows it changed."""
        async with self._conn.execute(sql, params) as cursor:
            return cursor.rowcount

    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run an INSERT; returns the new row's rowid."""
        async with self._conn.execute(sql, params) as cursor:
            return cursor.lastrowid or 0

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        await self._conn.executemany(sql, rows)

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        async with self._conn.execute(sql, params) as cursor:
            row: Row | None = await cursor.fetchone()  # type: ignore[assignment]
            return row

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        async with self._conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())  # type: ignore[arg-type]

    async def fetch_value(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetch_one(sql, params)
        return None if row is None else next(iter(row.values()))

    def after_commit(self, callback: Callable[[], Awaitable[None] | None]) -> None:
        """Run `callback` once the transaction has committed (never if it rolls back)."""
        self._after_commit.append(callback)


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()

    async def open(self) -> Store:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = await _connect(self.path)
        await self._writer.execute("PRAGMA journal_mode = WAL")
        await self._migrate()
        self._reader = await _connect(self.path)
        return self

    async def close(self) -> None:
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    async def __aenter__(self) -> Store:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _migrate(self) -> None:
        assert self._writer is not None
        await self._writer.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')))"
        )
        async with self._writer.execute("SELECT version FROM schema_migrations") as cursor:
            applied = {row["version"] for row in await cursor.fetchall()}  # type: ignore[index]
        for version, name, sql in _migrations():
            if version in applied:
                continue
            log.info("Applying migration %s", name)
            # executescript cannot take parameters; version and name come from our own files.
            script = (
                f"BEGIN IMMEDIATE;\n{sql}\n;"
                f"INSERT INTO schema_migrations (version, name) VALUES ({version}, '{name}');"
                "COMMIT;"
            )
            try:
                await self._writer.executescript(script)
            except Exception:
                if self._writer.in_transaction:
                    await self._writer.execute("ROLLBACK")
                raise

    async def transact(self, work: Callable[[Transaction], Awaitable[T]]) -> T:
        """Run `work` in one write transaction and return its result.

        Shielded: if the caller is cancelled, the transaction still finishes (commit or rollback)
        and its after-commit callbacks still run.
        """
        return await asyncio.shield(self._transact(work))

    async def _transact(self, work: Callable[[Transaction], Awaitable[T]]) -> T:
        assert self._writer is not None, "store is not open"
        async with self._write_lock:
            tx = Transaction(self._writer)
            await self._writer.execute("BEGIN IMMEDIATE")
            try:
                result = await work(tx)
            except BaseException:
                await self._writer.execute("ROLLBACK")
                raise
            await self._writer.execute("COMMIT")
        for callback in tx._after_commit:
            try:
                outcome = callback()
                if outcome is not None:
                    await outcome
            except Exception:
                log.exception("After-commit callback failed")
        return result

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        assert self._reader is not None, "store is not open"
        async with self._reader.execute(sql, params) as cursor:
            row: Row | None = await cursor.fetchone()  # type: ignore[assignment]
            return row

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        assert self._reader is not None, "store is not open"
        async with self._reader.execute(sql, params) as cursor:
            return list(await cursor.fetchall())  # type: ignore[arg-type]

    async def fetch_value(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetch_one(sql, params)
        return None if row is None else next(iter(row.values()))

    async def backup_to(self, target: Path) -> None:
        """Write a consistent copy of the store to `target` while writes go on."""
        assert self._reader is not None, "store is not open"
        async with aiosqlite.connect(target) as dest:
            await self._reader.backup(dest)
