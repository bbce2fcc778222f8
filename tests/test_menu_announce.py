"""The serving device announces a menu changed by another process (`menu pull`, `menu import`)
by looking through the event log every two seconds, on the event loop: each round must read only
the events recorded since the last one, however long the log, and still find the change.

Counted in SQLite's own virtual-machine steps on the store's loop connection, so the test does
not depend on how fast the machine is."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from edge.app import build_context
from edge.context import EdgeContext
from edge.events import Event
from edge.settings import Settings
from edge.store import Transaction
from sync.catalog_service import MENU_UPDATED, CatalogService
from tests.conftest import provision_device

pytestmark = pytest.mark.asyncio

# A quarter of an hour of a busy shift is a few thousand events; the benchmark records tens of
# thousands a minute.
LOG_LENGTH = 20_000
STEPS_PER_CALL = 100


@pytest_asyncio.fixture
async def ctx(tmp_path: Path) -> AsyncIterator[EdgeContext]:
    data_dir = tmp_path / "data"
    provision_device(data_dir, tables=2)
    context = build_context(Settings.resolve({"data_dir": data_dir}, {}))
    await context.store.open()
    try:
        yield context
    finally:
        await context.store.close()


async def record(ctx: EdgeContext, name: str, count: int = 1) -> None:
    """Events written straight to the store, as another process's commit leaves them."""

    async def work(tx: Transaction) -> None:
        await tx.executemany(
            "INSERT INTO events (name, session_id, payload, created_at) VALUES (?, NULL, ?, ?)",
            [(name, '{"branchId": "b"}', time.time())] * count,
        )

    await ctx.store.transact(work)


class StepCounter:
    """SQLite's progress handler on the connection the loop reads with: called every
    STEPS_PER_CALL virtual-machine steps of whatever that connection runs."""

    def __init__(self, ctx: EdgeContext) -> None:
        self._conn = ctx.store._loop_reader
        assert self._conn is not None
        self.calls = 0

    def _step(self) -> int:
        self.calls += 1
        return 0  # go on

    def __enter__(self) -> StepCounter:
        self._conn.set_progress_handler(self._step, STEPS_PER_CALL)
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.set_progress_handler(None, 0)


async def test_each_round_reads_only_new_events_and_finds_a_change(ctx: EdgeContext) -> None:
    heard: list[Event] = []

    async def listener(event: Event) -> None:
        heard.append(event)

    ctx.events.listen(listener, {MENU_UPDATED})
    service = CatalogService(ctx)
    await record(ctx, "session:pending", LOG_LENGTH)
    await service.announce_recorded()  # the first round reads the log once, as before

    with StepCounter(ctx) as quiet:
        await service.announce_recorded()
    await record(ctx, "session:pending", 50)
    await record(ctx, MENU_UPDATED)
    await record(ctx, "session:pending", 50)
    with StepCounter(ctx) as changed:
        await service.announce_recorded()  # seen: waits a round in case it is our own
        await service.announce_recorded()  # still not delivered: another process's
    # Reading the whole log was about 600 calls a round.
    assert quiet.calls <= 2, quiet.calls
    assert changed.calls <= 20, changed.calls
    assert [event.name for event in heard] == [MENU_UPDATED]

    with StepCounter(ctx):
        await service.announce_recorded()
    assert len(heard) == 1  # announced once
