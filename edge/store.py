"""The local store: one SQLite file in WAL mode, one writer, numbered migrations.

Every write goes through `Store.transact`, which runs a function inside `BEGIN IMMEDIATE` on the
single writer connection, with the other work queued beside it (see `_commit_queued`), and
commits it or rolls it back as a whole. The unit is shielded from cancellation: a diner closing
the browser mid-request must not leave a commit without its after-commit work (realtime events,
sync nudges). Reads use another connection, which WAL lets run beside the writer.

Where the writer's work runs (README, Performance): a round trip to another thread costs about
0.1 ms under load, far more than the statement it carries, and a single writer pays them one
after another. So the statements of a transaction run on the event loop on a plain `sqlite3`
connection, where each takes microseconds because the write lock is already held and nothing
can make them wait; only what may wait goes to the writer's own thread, one trip each: taking
the write lock while another process (the CLI) holds it, the COMMIT with its fsync, and a bulk
`executemany` large enough to hold the loop for milliseconds.

Reads run on the loop as well, for the same reason: in WAL a reader never waits for the writer,
and building the rows' dicts holds the interpreter wherever it happens. The rare read SQLite
does ask to wait (another process recovering the log after a crash, or checkpointing) answers
"busy" at once on the loop and is done again on a reader thread that may wait.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar, cast

import aiosqlite
import msgspec

from edge.store_check import check_store, create_store, store_uri, truncate_wal
from edge.write_health import WriteHealth, is_storage_full

log = logging.getLogger("restai_edge.store")

T = TypeVar("T")
Row = dict[str, Any]
Params = tuple[Any, ...] | list[Any] | dict[str, Any]

BUSY_TIMEOUT_MS = 5000
# The WAL stays small (#14 point 4): checkpointed into the store by `_Checkpointer`, and by the
# writer's COMMIT at 256 pages (1 MB) at the latest rather than SQLite's 1,000; cut back to
# JOURNAL_SIZE_LIMIT once it starts from the top again, so a burst never leaves a large file
# behind and a nearly full disk still has room for the checkpoint that moves pages into the
# store (whose free pages retention can reuse). `edge.maintenance` truncates it to nothing when
# the device is idle.
WAL_AUTOCHECKPOINT_PAGES = 256
JOURNAL_SIZE_LIMIT = 2 * 1024 * 1024
# Commits between two checkpoints of the store's own checkpointer (`_Checkpointer`): an approval
# writes about 12 pages to the WAL, a created session about 8, so 16 commits stay under the 256
# pages at which the COMMIT itself would checkpoint.
CHECKPOINT_EVERY_COMMITS = 16
# Most pieces of work committed in one transaction; bounds how long one group holds the lock.
GROUP_MAX = 64
# An executemany with more rows than this runs on the writer's thread: a catalog of thousands
# of items takes tens of milliseconds to insert, which diners must not wait behind.
BULK_ROWS = 100


_encode_json = msgspec.json.Encoder().encode


def _null(value: None) -> None:
    return value


# The sqlite3 module binds str, int and float as they are, but sends every other value, None
# included, through its adapter protocol first: a registry miss, then two attribute lookups whose
# AttributeErrors it formats and drops. A created session binds five Nones (a diner gives no
# phone or email); with None registered, each is one dictionary hit and a call. 2% of the
# instructions of a created session; NULL is bound as before.
sqlite3.register_adapter(type(None), _null)


def json_array(values: Iterable[Any]) -> str:
    """`values` as a JSON array, for `IN (SELECT value FROM json_each(?))`: one statement for
    any number of ids; every such statement takes its list from here. Text, not msgspec's bytes,
    which SQLite would take for a JSONB blob; a tenth of json.dumps's time, paid a few times by
    every order."""
    return _encode_json(list(values)).decode()


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> Row:
    return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}


def _open_connection(path: Path) -> sqlite3.Connection:
    # isolation_level=None: transactions are begun explicitly, never implicitly by the driver.
    # mode=rw: a store is only ever created by `provision` (edge.store_check.create_store).
    # check_same_thread=False: the writer is used from the loop and from its own thread, never
    # from both at once (the single writer awaits every trip to its thread).
    conn = sqlite3.connect(store_uri(path), uri=True, isolation_level=None, check_same_thread=False)
    try:
        conn.row_factory = _dict_row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        # FULL: an answered write must survive the box losing power, not only a killed process.
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
        conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
        # A savepoint journals the pages its work touches (`_run_group`); spilled to a temporary
        # file past 64 KB (most groups), that was ~17 writes to a file per created session, on
        # the loop while the write lock is held. Memory is enough: it never outlives the group.
        conn.execute("PRAGMA temp_store = MEMORY")
    except BaseException:
        conn.close()
        raise
    return conn


async def _connect(path: Path) -> aiosqlite.Connection:
    """A connection whose every call goes to a thread of its own (the reader)."""
    return await aiosqlite.Connection(partial(_open_connection, path), iter_chunk_size=64)


def _is_busy(error: sqlite3.OperationalError) -> bool:
    # The extended code (SQLITE_BUSY_RECOVERY, ...) carries the primary one in its low byte.
    return getattr(error, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY


def _run(conn: sqlite3.Connection, sql: str) -> None:
    """Run a statement whose rows nobody reads. Closing the cursor matters: handed back as a
    future's result, an unread cursor would keep its statement active until garbage collected,
    and SQLite refuses to commit while a statement is active."""
    conn.execute(sql).close()


def _executemany(conn: sqlite3.Connection, sql: str, rows: list[Params]) -> None:
    conn.executemany(sql, rows).close()


def _begin_waiting(conn: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE, waiting up to the busy timeout for the write lock (writer's thread)."""
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    try:
        conn.execute("BEGIN IMMEDIATE")
    finally:
        conn.execute("PRAGMA busy_timeout = 0")


class _WroteThenFailed(Exception):
    """A piece of work failed after writing, in a group run without savepoints."""


@dataclass
class _Job:
    work: Callable[[Transaction], Awaitable[Any]]
    future: asyncio.Future[Any]
    # Whether the committed run changed a row: only such a commit shows the disk takes writes.
    wrote: bool = False


class Transaction:
    """The writer connection inside one open transaction.

    The methods are coroutines so that domain code does not depend on where a statement runs;
    most run right here on the loop (see the module's docstring).
    """

    def __init__(self, conn: sqlite3.Connection, cursor: sqlite3.Cursor, store: Store) -> None:
        self._conn = conn
        # The group's one cursor for statements whose rows nobody reads: a cursor per statement
        # (what `conn.execute` makes) was 9k instructions each, a third of an INSERT's.
        self._cursor = cursor
        self._store = store
        self._after_commit: list[Callable[[], Awaitable[None] | None]] = []

    def _execute(self, sql: str, params: Params) -> sqlite3.Cursor:
        cursor = self._cursor.execute(sql, params)
        if cursor.description is not None:
            # Rows left unread would keep the statement active, and SQLite will not commit
            # while one is.
            cursor.fetchall()
        return cursor

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run a statement; returns the number of rows it changed."""
        return self._execute(sql, params).rowcount

    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run an INSERT; returns the new row's rowid."""
        return self._execute(sql, params).lastrowid or 0

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        rows = list(rows)
        if len(rows) > BULK_ROWS:
            await self._store._on_writer_thread(_executemany, self._conn, sql, rows)
        else:
            _executemany(self._conn, sql, rows)

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        cursor = self._conn.execute(sql, params)
        row: Row | None = cursor.fetchone()
        cursor.close()
        return row

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        return self._conn.execute(sql, params).fetchall()

    async def fetch_value(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetch_one(sql, params)
        return None if row is None else next(iter(row.values()))

    def after_commit(self, callback: Callable[[], Awaitable[None] | None]) -> None:
        """Run `callback` once the transaction has committed (never if it rolls back)."""
        self._after_commit.append(callback)


class _Checkpointer:
    """Folds the WAL into the store beside the writer, on a connection and thread of its own.

    SQLite's own checkpoint runs inside the COMMIT that takes the WAL past
    `WAL_AUTOCHECKPOINT_PAGES`: that commit, and every diner queued behind the single writer,
    waited while up to 256 pages were written into the store and synced: sessions created one
    by one here had a p99 of 1.5-2.1 ms (0.9-1.6 with this) and up to 118 ms at worst. A PASSIVE
    checkpoint here waits for nobody and makes nobody wait: writes go on appending to the WAL
    meanwhile, and once it has caught up the next write starts the WAL from the top again, so
    the writer's own checkpoint is left only for a burst this one cannot keep up with.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="store-checkpoint")
        self._conn: sqlite3.Connection | None = None
        self._commits = 0
        self._running: Future[None] | None = None

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self._conn = await loop.run_in_executor(self._thread, _open_connection, self._path)

    def committed(self) -> None:
        """Count a commit; every CHECKPOINT_EVERY_COMMITS, start a checkpoint unless one runs."""
        self._commits += 1
        if self._commits < CHECKPOINT_EVERY_COMMITS:
            return
        if self._running is not None and not self._running.done():
            return
        assert self._conn is not None, "committed() before open()"
        self._commits = 0
        self._running = self._thread.submit(self._checkpoint, self._conn)

    @staticmethod
    def _checkpoint(conn: sqlite3.Connection) -> None:
        try:
            # Busy (another checkpoint under way, the CLI's or the writer's) is an answer, not
            # an error: the next commits bring another try.
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as error:
            # A full disk is reported by the store's health, once a minute.
            if not is_storage_full(error):
                log.warning("WAL checkpoint failed: %s", error)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        if self._conn is not None:
            await loop.run_in_executor(self._thread, self._conn.close)
        self._conn = None
        self._thread.shutdown()


class Store:
    """The device's store. `create=True` (only `provision`) makes the file if it is missing;
    otherwise opening refuses anything `edge.store_check` would not serve."""

    def __init__(self, path: Path, *, create: bool = False) -> None:
        self.path = path
        self.create = create
        self._writer: sqlite3.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        # Reads on the loop; `_reader` takes those that must wait, and backups.
        self._loop_reader: sqlite3.Connection | None = None
        # The writer's own thread: what may wait (the lock, the fsync) waits here, not on the loop.
        self._writer_thread: ThreadPoolExecutor | None = None
        self._checkpointer: _Checkpointer | None = None
        self._queue: list[_Job] = []
        self._committer: asyncio.Task[None] | None = None
        self.health = WriteHealth()

    async def open(self) -> Store:
        await asyncio.to_thread(self._prepare)
        try:
            self._writer_thread = ThreadPoolExecutor(1, thread_name_prefix="store-writer")
            self._writer = await self._on_writer_thread(_open_connection, self.path)
            # A statement run on the loop must fail at once rather than wait for a lock; only
            # `_begin_waiting`, on the writer's thread, waits.
            _run(self._writer, "PRAGMA busy_timeout = 0")
            self._reader = await _connect(self.path)
            self._loop_reader = await self._on_writer_thread(_open_connection, self.path)
            _run(self._loop_reader, "PRAGMA busy_timeout = 0")
            self._checkpointer = _Checkpointer(self.path)
            await self._checkpointer.open()
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
        # Work already queued is committed first: its callers are still waiting for an answer.
        if self._committer is not None:
            await asyncio.wait([self._committer])
        if self._reader is not None:
            await self._reader.close()
        if self._checkpointer is not None:
            await self._checkpointer.close()
        if self._loop_reader is not None:
            self._loop_reader.close()
        if self._writer is not None:
            await self._on_writer_thread(self._writer.close)
        if self._writer_thread is not None:
            self._writer_thread.shutdown()
        self._reader = self._loop_reader = self._writer = self._writer_thread = None
        self._checkpointer = None

    async def __aenter__(self) -> Store:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _on_writer_thread(self, function: Callable[..., T], *args: Any) -> T:
        """Run `function(*args)` on the writer's thread and wait for it, even if cancelled:
        the writer connection is not the loop's to use again until the call has returned.

        The outcome comes back in one call onto the loop, not through run_in_executor's future
        and a shield: each link of such a chain queues behind every request the loop has ready
        (about 1.5 ms between the COMMIT returning and the writer going on, under wrk), and
        the next group waits for the last link."""
        assert self._writer_thread is not None, "store is not open"
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[T] = loop.create_future()

        def settle(result: T | None, error: BaseException | None) -> None:
            if answer.done():  # the caller was cancelled meanwhile
                return
            if error is None:
                answer.set_result(cast(T, result))
            else:
                answer.set_exception(error)

        def call() -> None:
            try:
                result = function(*args)
            except BaseException as error:
                loop.call_soon_threadsafe(settle, None, error)
            else:
                loop.call_soon_threadsafe(settle, result, None)

        running = self._writer_thread.submit(call)
        try:
            return await answer
        except asyncio.CancelledError:
            await asyncio.wait([asyncio.wrap_future(running)])
            raise

    async def transact(self, work: Callable[[Transaction], Awaitable[T]]) -> T:
        """Run `work` in a write transaction and return its result once it is committed.

        Shielded: if the caller is cancelled, the work still commits or rolls back and its
        after-commit callbacks still run.

        `work` may run twice: when another piece of work in its group fails after writing, the
        group runs again (`_commit_group`). So it acts on the store through `tx` and on anything
        else through `tx.after_commit`, which only the committed run's callbacks reach.
        """
        assert self._writer is not None, "store is not open"
        job: _Job = _Job(work, asyncio.get_running_loop().create_future())
        self._queue.append(job)
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_queued())
        try:
            # No asyncio.shield (a future and a trip through the loop per request): cancelling
            # the caller cancels only `job.future`; the writer runs the work all the same.
            result: T = await job.future
        except Exception as exc:
            if is_storage_full(exc):
                self.health.failed(exc)
            raise
        if job.wrote:
            # A commit that changed nothing wrote no page (a scheduled job with nothing to do,
            # every few seconds): it says nothing about a full disk.
            self.health.succeeded()
        return result

    async def _commit_queued(self) -> None:
        """The single writer: commits queued work in groups until the queue is empty.

        Group commit: work that arrives while a transaction is being written joins the next
        one, so a burst of diners shares one fsync instead of queueing for one each. One
        failing request rolls back alone (`_commit_group`).
        """
        while self._queue:
            group, self._queue = self._queue[:GROUP_MAX], self._queue[GROUP_MAX:]
            await self._commit_group(group)

    async def _begin(self, conn: sqlite3.Connection) -> None:
        """Take the write lock without ever making the loop wait for another process."""
        try:
            conn.execute("BEGIN IMMEDIATE")  # busy_timeout is 0 here: busy answers at once
        except sqlite3.OperationalError as error:
            if not _is_busy(error):
                raise
            # Another process (the CLI) holds the lock: wait for it on the writer's thread.
            await self._on_writer_thread(_begin_waiting, conn)

    async def _run_group(
        self, conn: sqlite3.Connection, group: list[_Job], *, savepoints: bool
    ) -> tuple[list[tuple[_Job, Transaction, Any]], list[tuple[_Job, BaseException]]]:
        """Run each piece of work of `group` in the open transaction.

        Bare (`savepoints=False`), a piece that fails before writing fails alone; one that fails
        after writing has nothing to undo it by, and raises `_WroteThenFailed` for the caller to
        run the group again in savepoints, where every piece rolls back alone.
        """
        succeeded: list[tuple[_Job, Transaction, Any]] = []
        failed: list[tuple[_Job, BaseException]] = []
        cursor = conn.cursor()
        try:
            for job in group:
                tx = Transaction(conn, cursor, self)
                if savepoints:
                    conn.execute("SAVEPOINT work")
                changes = conn.total_changes
                try:
                    result = await job.work(tx)
                except Exception as exc:
                    if not conn.in_transaction:
                        # SQLite ended the transaction itself (a full disk, an I/O error): the
                        # group's earlier work is gone with it.
                        raise
                    if savepoints:
                        conn.execute("ROLLBACK TO work")
                        conn.execute("RELEASE work")
                    elif conn.total_changes != changes:
                        raise _WroteThenFailed() from exc
                    failed.append((job, exc))
                else:
                    if savepoints:
                        conn.execute("RELEASE work")
                    job.wrote = conn.total_changes != changes
                    succeeded.append((job, tx, result))
        finally:
            cursor.close()
        return succeeded, failed

    async def _commit_group(self, group: list[_Job]) -> None:
        """Run and commit one group. First without a savepoint per piece of work: one journals
        again every page its work touches (the same few leaf pages, for work that appends rows),
        which was 40% of the SQLite time of a created session. Work that fails before writing,
        as domain rules do, needs no savepoint to fail alone."""
        conn = self._writer
        assert conn is not None
        try:
            await self._begin(conn)
            try:
                succeeded, failed = await self._run_group(conn, group, savepoints=False)
            except _WroteThenFailed:
                # Rare (domain rules are checked before writing): undo the group and run it
                # again, each piece in a savepoint of its own.
                self._rollback()
                await self._begin(conn)
                succeeded, failed = await self._run_group(conn, group, savepoints=True)
            await self._on_writer_thread(_run, conn, "COMMIT")
        except BaseException as exc:
            await self._on_writer_thread(self._rollback)
            for job in group:
                if not job.future.done():
                    job.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            if not is_storage_full(exc):  # a full disk is logged once a minute, by self.health
                log.error("Write transaction failed: %s", exc)
            return
        if self._checkpointer is not None:
            self._checkpointer.committed()
        for job, error in failed:
            if not job.future.done():
                job.future.set_exception(error)
        for job, tx, result in succeeded:
            for callback in tx._after_commit:
                try:
                    outcome = callback()
                    if outcome is not None:
                        await outcome
                except Exception:
                    log.exception("After-commit callback failed")
            if not job.future.done():
                job.future.set_result(result)

    def _rollback(self) -> None:
        conn = self._writer
        if conn is not None and conn.in_transaction:
            conn.execute("ROLLBACK")

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        assert self._loop_reader is not None and self._reader is not None, "store is not open"
        try:
            cursor = self._loop_reader.execute(sql, params)
            row: Row | None = cursor.fetchone()
            cursor.close()
            return row
        except sqlite3.OperationalError as error:
            if not _is_busy(error):
                raise
        rows = await self._reader.execute_fetchall(sql, params)
        return cast(Row | None, next(iter(rows), None))

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        assert self._loop_reader is not None and self._reader is not None, "store is not open"
        try:
            return self._loop_reader.execute(sql, params).fetchall()
        except sqlite3.OperationalError as error:
            if not _is_busy(error):
                raise
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
