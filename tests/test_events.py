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
async def events(tmp_path: Path) -> AsyncIterator[EventLog]:
    async with Store(tmp_path / "edge.db", create=True) as store:
        yield EventLog(store)


async def add(log: EventLog, *ages: float) -> None:
    """Events recorded `ages` seconds ago, in this order."""
    now = time.time()

    async def work(tx: Transaction) -> None:
        for age in ages:
            await tx.execute(
                "INSERT INTO events (name, session_id, payload, created_at)"
                " VALUES ('session:pending', NULL, '{\"branchId\": \"b\"}', ?)",
                (now - age,),
            )

    await log._store.transact(work)


async def events_left(log: EventLog) -> int:
    return len(await log.since(0))


async def test_prune_removes_only_the_events_older_than_the_retention(events: EventLog) -> None:
    await add(events, 5 * HOUR, 4 * HOUR, 3 * HOUR, 1 * HOUR, 60)
    assert await events.prune(2 * HOUR) == 3
    assert await events_left(events) == 2


async def test_prune_keeps_a_log_with_nothing_old(events: EventLog) -> None:
    await add(events, 60, 30)
    assert await events.prune(HOUR) == 0
    assert await events_left(events) == 2


async def test_prune_empties_a_log_of_old_events_and_ids_go_on(events: EventLog) -> None:
    await add(events, 3 * HOUR, 2 * HOUR)
    last = (await events.since(0))[-1].id
    assert await events.prune(HOUR) == 2
    assert await events_left(events) == 0
    assert await events.prune(HOUR) == 0
    await add(events, 0)
    assert [event.id for event in await events.since(0)] == [last + 1]
