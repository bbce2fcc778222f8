"""The single writer's guarantees, on real SQLite files: group commit with one failing piece of
work rolling back alone (its group run again in savepoints only when it had written),
after-commit callbacks only after commit, shielding from a cancelled caller, and a loop that
never waits for a lock another process holds or for a bulk insert."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from edge.store import BULK_ROWS, Store, Transaction

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store(tmp_path / "edge.db", create=True) as opened:
        await opened.transact(
            lambda tx: tx.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT UNIQUE)")
        )
        yield opened


class LoopWatch:
    """How long the event loop went at most without running a 1 ms ticker, and the share of
    the watched time that longest stall took (a loop held by a call stands still nearly all
    along; on a busy machine a free loop still misses a few ticks now and then)."""

    def __init__(self) -> None:
        self.longest = 0.0
        self.elapsed = 0.0
        self._task: asyncio.Task[None] | None = None

    @property
    def stalled_share(self) -> float:
        return self.longest / self.elapsed

    async def _tick(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            self.longest = max(self.longest, now - last)
            last = now

    async def __aenter__(self) -> LoopWatch:
        self._task = asyncio.create_task(self._tick())
        await asyncio.sleep(0)
        self._started = time.perf_counter()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self.elapsed = time.perf_counter() - self._started
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


def insert(text: str, fail: bool = False):  # type: ignore[no-untyped-def]
    async def work(tx: Transaction) -> int:
        rowid = await tx.insert("INSERT INTO notes (text) VALUES (?)", (text,))
        if fail:
            raise ValueError(f"refused {text}")
        return rowid

    return work


async def texts(store: Store) -> set[str]:
    return {row["text"] for row in await store.fetch_all("SELECT text FROM notes")}


async def test_a_failing_piece_of_work_rolls_back_alone(store: Store) -> None:
    works = [insert("a"), insert("b", fail=True), insert("a"), insert("c")]
    results = await asyncio.gather(*(store.transact(w) for w in works), return_exceptions=True)
    assert isinstance(results[0], int) and isinstance(results[3], int)
    assert isinstance(results[1], ValueError)
    # The duplicate broke the unique index: SQLite's own error, also confined to its work.
    assert "UNIQUE" in str(results[2])
    assert await texts(store) == {"a", "c"}


class Counted:
    """Pieces of work that count their runs: a group runs bare first, and again in savepoints
    only if one of its pieces failed after writing."""

    def __init__(self) -> None:
        self.runs: dict[str, int] = {}

    def insert(self, text: str, fail: str | None = None) -> Callable[[Transaction], Awaitable[int]]:
        async def work(tx: Transaction) -> int:
            self.runs[text] = self.runs.get(text, 0) + 1
            if fail == "before writing":
                raise ValueError(f"refused {text}")
            rowid = await tx.insert("INSERT INTO notes (text) VALUES (?)", (text,))
            if fail == "after writing":
                raise ValueError(f"refused {text}")
            return rowid

        return work


async def rowids(store: Store) -> dict[str, int]:
    return {row["text"]: row["id"] for row in await store.fetch_all("SELECT id, text FROM notes")}


@pytest.mark.parametrize(
    ("fail", "runs"),
    [
        # Nothing to undo: "b" fails alone and nothing runs twice.
        ("before writing", {"a": 1, "b": 1, "c": 1}),
        # "a" ran before the failure and again in the second run, whose answers are committed.
        ("after writing", {"a": 2, "b": 2, "c": 1}),
    ],
)
async def test_failing_work_fails_alone_and_the_group_reruns_only_if_it_had_written(
    store: Store, fail: str, runs: dict[str, int]
) -> None:
    counted = Counted()
    works = [counted.insert("a"), counted.insert("b", fail), counted.insert("c")]
    results = await asyncio.gather(*(store.transact(w) for w in works), return_exceptions=True)
    assert isinstance(results[1], ValueError)
    assert counted.runs == runs
    assert await rowids(store) == {"a": results[0], "c": results[2]}
    # The writer goes on bare: the next group is not run twice.
    counted.runs.clear()
    await asyncio.gather(store.transact(counted.insert("d")), store.transact(counted.insert("e")))
    assert counted.runs == {"d": 1, "e": 1}


async def test_after_commit_runs_only_after_commit_and_before_the_answer(store: Store) -> None:
    seen: list[tuple[str, set[str]]] = []

    def work(text: str, fail: bool):  # type: ignore[no-untyped-def]
        async def run(tx: Transaction) -> None:
            await tx.execute("INSERT INTO notes (text) VALUES (?)", (text,))

            async def told() -> None:
                # Another connection already sees the row: it is committed.
                seen.append((text, await texts(store)))

            tx.after_commit(told)
            if fail:
                raise ValueError(text)

        return run

    await asyncio.gather(
        store.transact(work("kept", False)),
        store.transact(work("dropped", True)),
        return_exceptions=True,
    )
    assert seen == [("kept", {"kept"})]


async def test_a_cancelled_caller_still_commits_and_notifies(store: Store) -> None:
    told = asyncio.Event()

    async def slow(tx: Transaction) -> None:
        await tx.execute("INSERT INTO notes (text) VALUES ('slow')")
        await asyncio.sleep(0.2)
        tx.after_commit(told.set)

    caller = asyncio.create_task(store.transact(slow))
    await asyncio.sleep(0.05)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    await asyncio.wait_for(told.wait(), 5)
    assert await texts(store) == {"slow"}


LOCK_HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO notes (text) VALUES ('cli')")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


async def test_waiting_for_another_process_lock_never_blocks_the_loop(store: Store) -> None:
    # The CLI (`menu import`, `staff add`, ...) writes to the same store from another process.
    with subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(store.path), "0.8"], stdout=subprocess.PIPE
    ) as holder:
        assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
        async with LoopWatch() as watch:
            started = time.perf_counter()
            await store.transact(insert("device"))
            waited = time.perf_counter() - started
    assert waited > 0.3, "the write did not wait for the other process's lock"
    assert watch.stalled_share < 0.5, f"the loop stood still for {watch.longest:.3f} s"
    assert await texts(store) == {"cli", "device"}


async def test_a_bulk_insert_leaves_the_loop_free(store: Store) -> None:
    rows = [(f"item {n}",) for n in range(150_000)]
    assert len(rows) > BULK_ROWS

    async def bulk(tx: Transaction) -> None:
        await tx.executemany("INSERT INTO notes (text) VALUES (?)", rows)

    # Run on the loop, this insert holds it for about half a second.
    async with LoopWatch() as watch:
        await store.transact(bulk)
    assert watch.stalled_share < 0.5, f"the loop stood still for {watch.longest:.3f} s"
    assert await store.fetch_value("SELECT count(*) FROM notes") == len(rows)


async def test_close_commits_work_already_queued(tmp_path: Path) -> None:
    store = await Store(tmp_path / "edge.db", create=True).open()
    await store.transact(lambda tx: tx.execute("CREATE TABLE notes (text TEXT)"))
    pending = [asyncio.create_task(store.transact(insert(str(n)))) for n in range(5)]
    await asyncio.sleep(0)
    await store.close()
    assert all(task.done() and not task.exception() for task in pending)
    async with Store(tmp_path / "edge.db", create=True) as reopened:
        assert await texts(reopened) == {"0", "1", "2", "3", "4"}
