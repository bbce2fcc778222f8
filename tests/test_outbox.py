"""The outbox mechanism itself (`edge.outbox`), on real SQLite files: topics, ordered claims,
leases, dead owners, per-topic state, and the migration that turned the sessions-only outbox
into topics."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import pytest

from edge import outbox
from edge.outbox import Problem
from edge.store import Store, Transaction

pytestmark = pytest.mark.asyncio

KITCHEN, BAR = "printer:kitchen", "printer:bar"


async def fill(store: Store, topic: str, count: int) -> None:
    async def work(tx: Transaction) -> None:
        for number in range(count):
            await outbox.enqueue(tx, topic, json.dumps({"n": number}))

    await store.transact(work)


def numbers(items: list[outbox.Item]) -> list[int]:
    return [json.loads(item.payload)["n"] for item in items]


async def test_topics_are_claimed_apart_and_in_enqueue_order(tmp_path: Path) -> None:
    async with Store(tmp_path / "edge.db", create=True) as store:
        await fill(store, KITCHEN, 3)
        await fill(store, BAR, 2)
        await fill(store, KITCHEN, 0)
        kitchen = await outbox.claim(store, KITCHEN, "1:a", 10, 30, in_order=True)
        bar = await outbox.claim(store, BAR, "1:b", 10, 30, in_order=True)
        assert numbers(kitchen) == [0, 1, 2]
        assert numbers(bar) == [0, 1]
        assert (await outbox.topic_stats(store, KITCHEN)).depth == 3
        waiting = await outbox.waiting_by_topic(store, "printer:")
        assert {topic: stats.depth for topic, stats in waiting.items()} == {KITCHEN: 3, BAR: 2}


async def test_an_ordered_topic_never_claims_past_a_busy_item(tmp_path: Path) -> None:
    async with Store(tmp_path / "edge.db", create=True) as store:
        await fill(store, KITCHEN, 3)
        (head,) = await outbox.claim(store, KITCHEN, "1:first", 1, 30, in_order=True)
        # Another live worker may not jump the queue while the head is out for delivery...
        assert await outbox.claim(store, KITCHEN, "1:second", 5, 30, in_order=True) == []
        # ...while an unordered topic shares its backlog.
        assert numbers(await outbox.claim(store, KITCHEN, "1:second", 5, 30)) == [1, 2]

        async def give_back(tx: Transaction) -> None:
            await outbox.release(tx, "1:first", [head.id])

        await store.transact(give_back)
        again = await outbox.claim(store, KITCHEN, "1:first", 5, 30, in_order=True)
        assert numbers(again) == [0], "the head comes back first, then nothing past busy items"
        assert again[0].attempts == 2


async def test_claims_of_a_dead_process_or_a_lapsed_lease_are_free(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    async with Store(tmp_path / "edge.db", create=True) as store:
        await fill(store, KITCHEN, 2)
        await outbox.claim(store, KITCHEN, f"{dead}:gone", 1, 3600, in_order=True)
        assert numbers(await outbox.claim(store, KITCHEN, "1:me", 1, 30, in_order=True)) == [0]
        await outbox.claim(store, BAR, "1:x", 1, 30, in_order=True)
        await fill(store, BAR, 1)
        await outbox.claim(store, BAR, "1:short", 1, -1, in_order=True)
        assert numbers(await outbox.claim(store, BAR, "1:me", 1, 30, in_order=True)) == [0]


async def test_acknowledged_items_leave_the_queue_and_are_pruned_later(tmp_path: Path) -> None:
    async with Store(tmp_path / "edge.db", create=True) as store:
        await fill(store, KITCHEN, 2)
        first, second = await outbox.claim(store, KITCHEN, "1:a", 2, 30, in_order=True)
        now = time.time()

        async def settle(tx: Transaction) -> None:
            assert await outbox.acknowledge(tx, [first.id], now - 100) == 1
            assert await outbox.acknowledge(tx, [first.id], now) == 0
            await outbox.release(tx, "1:a", [second.id])

        await store.transact(settle)
        assert (await outbox.topic_stats(store, KITCHEN)).depth == 1
        assert await outbox.prune(store, 50, now) == 1
        assert await outbox.acknowledged_kept(store, KITCHEN) == 0
        assert numbers(await outbox.claim(store, KITCHEN, "1:b", 5, 30, in_order=True)) == [1]


async def test_delivery_state_is_kept_per_topic(tmp_path: Path) -> None:
    async with Store(tmp_path / "edge.db", create=True) as store:
        at = time.time()

        async def fail_kitchen(tx: Transaction) -> float:
            return await outbox.record_failure(tx, KITCHEN, Problem(at, None, "off"), lambda n: 10)

        assert await store.transact(fail_kitchen) == at + 10
        assert await store.transact(fail_kitchen) == at + 10
        kitchen = await outbox.load_state(store, KITCHEN)
        assert kitchen.failures == 2 and not kitchen.due(at)
        assert kitchen.last_error == Problem(at, None, "off")
        assert (await outbox.load_state(store, BAR)).due(at), "the bar is not held by the kitchen"

        async def succeed(tx: Transaction) -> None:
            await outbox.record_success(tx, KITCHEN, at + 11)

        await store.transact(succeed)
        kitchen = await outbox.load_state(store, KITCHEN)
        assert kitchen.failures == 0 and kitchen.due(at) and kitchen.last_success == at + 11
        assert kitchen.last_error is not None, "the last error stays visible after recovery"
        assert set(await outbox.load_states(store, "printer:")) == {KITCHEN}


async def test_the_sessions_outbox_and_its_state_become_the_sessions_topic(tmp_path: Path) -> None:
    """A store written before migration 0007 keeps its waiting sessions, their order, its
    acknowledged rows and the uploader's backoff and stop."""
    path = tmp_path / "edge.db"
    scripts = sorted(
        entry
        for entry in resources.files("edge.migrations").iterdir()
        if entry.name.endswith(".sql") and int(entry.name[:4]) < 7
    )
    problem = Problem(1_700_000_000.0, 401, "refused")
    with sqlite3.connect(path) as db:
        for script in scripts:
            db.executescript(script.read_text(encoding="utf-8"))
        db.execute(
            "INSERT INTO branch (id, slug, name, base_url, device_id, created_at)"
            " VALUES ('b', 'b', 'B', 'http://x', 'd', 'now')"
        )
        db.execute(
            "INSERT INTO tables (id, branch_id, number, code, short_code, created_at)"
            " VALUES ('t', 'b', 1, 'b-1', 'AAAAA', 'now')"
        )
        for name, enqueued, acked in (("s2", 20.0, None), ("s1", 10.0, None), ("s0", 5.0, 6.0)):
            db.execute(
                "INSERT INTO sessions (id, branch_id, table_id, customer_name, status, started_at)"
                " VALUES (?, 'b', 't', 'Ana', 'completed', 'now')",
                (name,),
            )
            db.execute(
                "INSERT INTO outbox (session_id, payload, enqueued_at, attempts, acknowledged_at)"
                " VALUES (?, ?, ?, 3, ?)",
                (name, json.dumps({"id": name}), enqueued, acked),
            )
        db.executemany(
            "INSERT INTO sync_state (key, value) VALUES (?, ?)",
            [
                ("failures", "4"),
                ("next_attempt_at", repr(1_700_000_100.5)),
                ("last_success", repr(1_699_999_999.25)),
                ("last_error", problem.to_json()),
                ("stopped", problem.to_json()),
            ],
        )
        _record_migrations(db, [script.name for script in scripts])

    async with Store(path, create=True) as store:
        state = await outbox.load_state(store, "sessions")
        assert state.failures == 4
        assert state.next_attempt_at == 1_700_000_100.5
        assert state.last_success == 1_699_999_999.25
        assert state.last_error == problem and state.stopped == problem
        assert await outbox.acknowledged_kept(store, "sessions") == 1
        items = await outbox.claim(store, "sessions", "1:a", 10, 30)
        assert [item.session_id for item in items] == ["s1", "s2"]
        assert [item.attempts for item in items] == [4, 4]

        async def again(tx: Transaction) -> None:
            await outbox.enqueue(tx, "sessions", "{}", session_id="s1")

        await store.transact(again)
        assert (await outbox.topic_stats(store, "sessions")).depth == 2, "queued at most once"


def _record_migrations(db: sqlite3.Connection, names: list[str]) -> None:
    db.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
        " applied_at TEXT NOT NULL DEFAULT 'now')"
    )
    db.executemany(
        "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
        [(int(name[:4]), name) for name in names],
    )
