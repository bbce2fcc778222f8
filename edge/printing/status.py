"""What staff and the installer see of each printer: up or down, last error, waiting tickets.

"down" means the last attempt to print failed, or, with nothing to print, the last check that
the printer takes a connection (every `print_retry_cap` seconds); a printer with tickets waiting
is retried with backoff until it takes them. `last_success` is the last ticket printed or the
check that found the printer back.
"""

from __future__ import annotations

from typing import Any

from edge import outbox
from edge.clock import iso
from edge.outbox import TopicState
from edge.printing.printers import TOPIC_PREFIX, category_names, list_printers, view
from edge.store import Store


def _iso_or_none(epoch: float | None) -> str | None:
    return None if epoch is None else iso(epoch)


async def printer_statuses(store: Store) -> list[dict[str, Any]]:
    printers = await list_printers(store)
    if not printers:
        return []
    names = await category_names(store)
    waiting = await outbox.waiting_by_topic(store, TOPIC_PREFIX)
    states = await outbox.load_states(store, TOPIC_PREFIX)
    found = []
    for printer in printers:
        state = states.get(printer.topic, TopicState())
        queue = waiting.get(printer.topic, outbox.TopicStats(0, None))
        found.append(
            {
                **view(printer, names),
                "status": "down" if state.failures else "up",
                "queue_depth": queue.depth,
                "oldest_waiting": _iso_or_none(queue.oldest_waiting),
                "last_success": _iso_or_none(state.last_success),
                "last_error": state.last_error.view() if state.last_error else None,
                "failures": state.failures,
                "next_attempt_at": _iso_or_none(state.next_attempt_at),
            }
        )
    return found
