"""Where upstream sync stands, as `/healthz`, the staff API and `sync status` show it."""

from __future__ import annotations

from typing import Any

from edge import outbox as topics
from edge.clock import iso
from edge.store import Store
from sync import outbox
from sync.heartbeat import load_heartbeat
from sync.outbox import SESSIONS


def _iso_or_none(epoch: float | None) -> str | None:
    return None if epoch is None else iso(epoch)


async def sync_status(store: Store) -> dict[str, Any]:
    """The upload queue and the link's health, from the store alone (any process may ask).

    `state` is `disabled` (no central URL), `stopped` (the central refused the device's
    credentials; `restai-edge sync now` resumes), `retrying` (the last attempt failed) or `ok`.
    """
    central_url = await store.fetch_value("SELECT central_url FROM branch LIMIT 1")
    queue = await outbox.queue_stats(store)
    current = await topics.load_state(store, SESSIONS)
    heartbeat = await load_heartbeat(store)
    if not central_url:
        summary = "disabled"
    elif current.stopped is not None:
        summary = "stopped"
    elif current.failures:
        summary = "retrying"
    else:
        summary = "ok"
    return {
        "state": summary,
        "enabled": bool(central_url),
        "central_url": central_url or None,
        "queue_depth": queue.depth,
        "oldest_waiting": _iso_or_none(queue.oldest_waiting),
        "last_success": _iso_or_none(current.last_success),
        "last_error": current.last_error.view() if current.last_error else None,
        "stopped": current.stopped is not None,
        "failures": current.failures,
        "next_attempt_at": _iso_or_none(current.next_attempt_at),
        "acknowledged_kept": queue.acknowledged_kept,
        "heartbeat": heartbeat.view() if heartbeat else None,
        # The device clock against the central's, from the last heartbeat that measured it.
        "clock": heartbeat.clock_view() if heartbeat else None,
    }
