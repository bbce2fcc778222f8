"""Finished table sessions leave the device once they are old and safe elsewhere.

A session that ended more than `retention_days` ago is removed once the central acknowledged
it (or, on a device with no central configured, once it is past the retention alone), with every
row that belongs to it: diners, orders, their lines and modifiers, table requests, events and
its outbox row. A session still waiting for the central is never removed, whatever its age.

Which rows belong to a session is read from the schema itself: every table whose foreign keys
lead to `sessions` (directly or through orders, order lines, diners...), plus tables that name a
session without a foreign key (`events`). So a table that a later migration adds under
`sessions` is removed with it without a change here, and SQLite's foreign-key enforcement
refuses a removal that would leave one behind.

Freed pages go back to the file system with `PRAGMA incremental_vacuum` (stores are made with
`auto_vacuum = INCREMENTAL`, see `edge.store_check`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from edge.clock import iso
from edge.store import Store, Transaction

DAY = 86400
# Sessions removed per transaction: each transaction stays short, so diners never wait on it.
CHUNK = 100
# Pages handed back per incremental vacuum step, between which writers get the lock.
VACUUM_STEP_PAGES = 2048
# Tables that name a session without a foreign key.
LOOSE_SESSION_REFERENCES = (("events", "session_id"),)
FINISHED = ("completed", "rejected")
# The ids of the sessions one transaction removes (a temporary table of the writer connection).
DOOMED = "temp.retention_doomed"


@dataclass(frozen=True)
class RetentionPlan:
    retention_days: int
    due: int  # finished, past the retention, and safe to remove now
    held: int  # past the retention but still waiting for the central: kept until it takes them


@dataclass(frozen=True)
class _Edge:
    child: str
    column: str
    parent: str
    parent_column: str


def _cutoff(retention_days: int, now: float | None) -> str:
    return iso((time.time() if now is None else now) - retention_days * DAY)


# Past the retention; "waiting" is a sessions-topic outbox row the central has not acknowledged.
_PAST = f"status IN {FINISHED!r} AND ended_at IS NOT NULL AND ended_at < ?"  # noqa: S608
_WAITING = (
    "EXISTS (SELECT 1 FROM outbox o WHERE o.session_id = sessions.id AND o.acknowledged_at IS NULL)"
)


async def _central_configured(store: Store) -> bool:
    return bool(await store.fetch_value("SELECT central_url IS NOT NULL FROM branch"))


async def plan(store: Store, retention_days: int, now: float | None = None) -> RetentionPlan:
    """What a retention pass would remove now, and what it holds back."""
    cutoff = _cutoff(retention_days, now)
    row = await store.fetch_one(
        f"SELECT count(*) AS past, coalesce(sum({_WAITING}), 0) AS waiting"
        f" FROM sessions WHERE {_PAST}",
        (cutoff,),
    )
    assert row is not None
    held = row["waiting"] if await _central_configured(store) else 0
    return RetentionPlan(retention_days, row["past"] - held, held)


async def store_report(store: Store, retention_days: int) -> dict[str, Any]:
    """What `restai-edge status` shows of the store: its size and what retention will do."""
    wal = store.path.with_name(store.path.name + "-wal")
    page_size = int(await store.fetch_value("PRAGMA page_size"))
    due = await plan(store, retention_days)
    finished = await store.fetch_value(
        f"SELECT count(*) FROM sessions WHERE status IN {FINISHED!r}"
    )
    return {
        "bytes": store.path.stat().st_size,
        "wal_bytes": wal.stat().st_size if wal.exists() else 0,
        "free_bytes": int(await store.fetch_value("PRAGMA freelist_count")) * page_size,
        "finished_sessions": finished,
        "retention": {
            "days": retention_days,
            "due": due.due,
            "held_for_sync": due.held,
        },
    }


async def _edges(tx: Transaction) -> list[_Edge]:
    tables = [
        row["name"]
        for row in await tx.fetch_all(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    edges = []
    for table in tables:
        for fk in await tx.fetch_all(f"PRAGMA foreign_key_list('{table}')"):
            edges.append(_Edge(table, fk["from"], fk["table"], fk["to"] or "id"))
    return edges


def _removal_order(edges: list[_Edge]) -> list[tuple[str, list[_Edge]]]:
    """Every table under `sessions`, each before the tables it references, with the foreign
    keys that tie it to the rows being removed."""
    below: dict[str, list[_Edge]] = {}
    frontier = ["sessions"]
    while frontier:
        parent = frontier.pop()
        for edge in edges:
            if edge.parent == parent and edge.child != parent:
                if edge.child not in below:
                    frontier.append(edge.child)
                below.setdefault(edge.child, [])
                if edge not in below[edge.child]:
                    below[edge.child].append(edge)
    order: list[str] = []

    def visit(table: str, path: tuple[str, ...]) -> None:
        if table in order or table in path:
            return
        for child, links in below.items():
            if any(link.parent == table for link in links):
                visit(child, (*path, table))
        order.append(table)

    for table in list(below):
        visit(table, ())
    return [(table, below[table]) for table in order]


def _doomed(table: str, links: dict[str, list[_Edge]]) -> str:
    """SQL selecting the rowids of `table` that belong to the sessions being removed."""
    if table == "sessions":
        return f"SELECT rowid FROM sessions WHERE id IN (SELECT id FROM {DOOMED})"
    clauses = [
        f"{link.column} IN (SELECT {link.parent_column} FROM {link.parent}"
        f" WHERE rowid IN ({_doomed(link.parent, links)}))"
        for link in links[table]
    ]
    return f"SELECT rowid FROM {table} WHERE {' OR '.join(clauses)}"


async def _remove_chunk(tx: Transaction, session_ids: list[str]) -> None:
    await tx.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {DOOMED.split('.')[1]} (id TEXT PRIMARY KEY)"
    )
    await tx.execute(f"DELETE FROM {DOOMED}")
    await tx.executemany(f"INSERT INTO {DOOMED} (id) VALUES (?)", [(i,) for i in session_ids])
    order = _removal_order(await _edges(tx))
    links = dict(order)
    for table, column in LOOSE_SESSION_REFERENCES:
        await tx.execute(f"DELETE FROM {table} WHERE {column} IN (SELECT id FROM {DOOMED})")
    for table, _ in order:
        await tx.execute(f"DELETE FROM {table} WHERE rowid IN ({_doomed(table, links)})")
    await tx.execute(f"DELETE FROM sessions WHERE id IN (SELECT id FROM {DOOMED})")
    await tx.execute(f"DELETE FROM {DOOMED}")


async def prune(store: Store, retention_days: int, now: float | None = None) -> int:
    """Remove what `plan` calls due, in short transactions; returns how many sessions."""
    cutoff = _cutoff(retention_days, now)
    keep_waiting = await _central_configured(store)
    removed = 0
    while True:

        async def work(tx: Transaction) -> int:
            rows = await tx.fetch_all(
                f"SELECT id FROM sessions WHERE {_PAST}"
                + (f" AND NOT {_WAITING}" if keep_waiting else "")
                + f" LIMIT {CHUNK}",
                (cutoff,),
            )
            if rows:
                await _remove_chunk(tx, [row["id"] for row in rows])
            return len(rows)

        done = await store.transact(work)
        removed += done
        if done < CHUNK:
            return removed


async def reclaim(store: Store) -> int:
    """Hand free pages back to the file system, a step at a time; returns how many."""

    async def step(tx: Transaction) -> int:
        free = int(await tx.fetch_value("PRAGMA freelist_count"))
        # One page per run of the pragma: Python's driver steps a statement only once.
        await tx.executemany("PRAGMA incremental_vacuum(1)", [()] * min(free, VACUUM_STEP_PAGES))
        return free - int(await tx.fetch_value("PRAGMA freelist_count"))

    freed = 0
    while True:
        done = await store.transact(step)
        freed += done
        if done < VACUUM_STEP_PAGES:
            return freed
