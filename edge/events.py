"""The one event path: domain changes record an event in their own transaction; listeners hear it
after the commit, in id order.

Recording in the store gives every event a branch-wide increasing id (`eventId`) and keeps it for
catch-up; dispatching only after commit means nobody is told about a change that rolled back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from typing import Any, NamedTuple

import msgspec

from edge.clock import iso
from edge.store import Store, Transaction

log = logging.getLogger("restai_edge.events")

# Events the branch's staff see but a diner's session room does not.
BRANCH_ONLY_EVENTS = frozenset({"session:pending", "table:call_waiter", "table:request_bill"})
# Branch-wide events (no session) that every diner of the branch hears too, through the room
# `diners:{branchId}` each diner's socket joins.
DINER_BROADCAST_EVENTS = frozenset({"menu:updated"})
# Payloads are written inside the write transaction, whose lock the whole group waits on:
# msgspec encodes one in a fifth of json.dumps's time.
_encode_payload = msgspec.json.Encoder().encode


class Event(NamedTuple):
    # A named tuple rather than a frozen dataclass: one per recorded event, made inside the
    # write transaction, in a third of the time.
    id: int
    name: str
    branch_id: str
    session_id: str | None
    data: dict[str, Any]

    @property
    def rooms(self) -> list[str]:
        rooms = [f"branch:{self.branch_id}"]
        if self.session_id and self.name not in BRANCH_ONLY_EVENTS:
            rooms.append(f"session:{self.session_id}")
        if self.session_id is None and self.name in DINER_BROADCAST_EVENTS:
            rooms.append(f"diners:{self.branch_id}")
        return rooms


Listener = Callable[[Event], Awaitable[None]]


class EventLog:
    def __init__(self, store: Store) -> None:
        self._store = store
        # Each listener with the event names it hears (None: all of them).
        self._listeners: list[tuple[Listener, Collection[str] | None]] = []
        # Held while events are handed to listeners and while a reconnecting client catches up,
        # so a client never sees a live event before the missed ones that precede it.
        self.dispatch_lock = asyncio.Lock()

    def listen(self, listener: Listener, names: Collection[str] | None = None) -> None:
        """Hand `listener` every committed event, or only those named in `names`: most
        listeners want a few kinds, and a call per event made for nothing is paid inside every
        request that records one."""
        self._listeners.append((listener, names))

    async def record(
        self,
        tx: Transaction,
        name: str,
        *,
        branch_id: str,
        session_id: str | None,
        table_id: str | None,
        table_number: int | None,
        **extra: Any,
    ) -> None:
        created = time.time()
        data: dict[str, Any] = {
            "branchId": branch_id,
            "sessionId": session_id,
            "tableId": table_id,
            "tableNumber": table_number,
            "timestamp": iso(created),
            **extra,
        }
        event_id = await tx.insert(
            "INSERT INTO events (name, session_id, payload, created_at) VALUES (?, ?, ?, ?)",
            (name, session_id, _encode_payload(data).decode(), created),
        )
        event = Event(event_id, name, branch_id, session_id, {"eventId": event_id, **data})
        tx.after_commit(lambda: self._dispatch(event))

    async def deliver_recorded(self, event: Event) -> None:
        """Hand listeners an event that another process recorded: a CLI command writes to the
        store but cannot reach this process's clients."""
        await self._dispatch(event)

    async def _dispatch(self, event: Event) -> None:
        async with self.dispatch_lock:
            for listener, names in self._listeners:
                if names is not None and event.name not in names:
                    continue
                try:
                    await listener(event)
                except Exception:
                    log.exception("Listener failed on event %s", event.name)

    async def since(self, after_id: int, limit: int = 1000) -> list[Event]:
        rows = await self._store.fetch_all(
            "SELECT id, name, session_id, payload FROM events WHERE id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        )
        events = []
        for row in rows:
            data = json.loads(row["payload"])
            events.append(
                Event(
                    row["id"],
                    row["name"],
                    data["branchId"],
                    row["session_id"],
                    {"eventId": row["id"], **data},
                )
            )
        return events

    async def prune(self, older_than_seconds: int) -> int:
        """Delete the events recorded before the cutoff. Ids grow with time, so those are the
        ones before the first event that is not older (all of them if none is): found by a walk
        from the oldest id that stops there, with no index on the time to keep up per event. A
        clock set back keeps an event or two longer, never drops a newer one."""
        cutoff = time.time() - older_than_seconds

        async def work(tx: Transaction) -> int:
            return await tx.execute(
                "DELETE FROM events WHERE id < coalesce("
                "(SELECT id FROM events WHERE created_at >= ? ORDER BY id LIMIT 1),"
                " (SELECT max(id) FROM events) + 1)",
                (cutoff,),
            )

        return await self._store.transact(work)
