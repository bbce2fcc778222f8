"""Event pruning on a real store: events older than the retention go, newer ones stay, and the
ids that clients catch up from keep growing after a prune that emptied the log."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from edge.events import EventLog
from edge.store import Store, Transaction

pytestmark = pytest.mark.asyncio

HOUR = 3600


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store(tmp_path / "edge.db", create=True) as opened:
        yield opened


@pytest.fixture
def events(store: Store) -> EventLog:
    return EventLog(store)


async def add(store: Store, *ages: float) -> None:
    """Events recorded `ages` seconds ago, in this order."""
    now = time.time()

    async def work(tx: Transaction) -> None:
        for age in ages:
            await tx.execute(
                "INSERT INTO events (name, session_id, payload, created_at)"
                " VALUES ('session:pending', NULL, '{\"branchId\": \"b\"}', ?)",
                (now - age,),
            )

    await store.transact(work)


async def events_left(log: EventLog) -> int:
    return len(await log.since(0))


async def test_prune_removes_only_the_events_older_than_the_retention(
    store: Store, events: EventLog
) -> None:
    await add(store, 5 * HOUR, 4 * HOUR, 3 * HOUR, 1 * HOUR, 60)
    assert await events.prune(2 * HOUR) == 3
    assert await events_left(events) == 2


async def test_prune_keeps_a_log_with_nothing_old(store: Store, events: EventLog) -> None:
    await add(store, 60, 30)
    assert await events.prune(HOUR) == 0
    assert await events_left(events) == 2


async def test_prune_empties_a_log_of_old_events_and_ids_go_on(
    store: Store, events: EventLog
) -> None:
    await add(store, 3 * HOUR, 2 * HOUR)
    last = (await events.since(0))[-1].id
    assert await events.prune(HOUR) == 2
    assert await events_left(events) == 0
    assert await events.prune(HOUR) == 0
    await add(store, 0)
    assert [event.id for event in await events.since(0)] == [last + 1]
