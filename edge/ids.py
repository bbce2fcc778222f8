"""Ids of the rows the device creates: UUIDs, time-ordered (version 7, RFC 9562).

Every id is a key of its table's primary-key index, and most also of other indexes (a session's
id keys its diners, orders and events). A random UUID lands on a random page of each of them:
under a burst of diners every insert dirtied a page of its own, and every one of those pages was
journalled for the request's savepoint and written to the WAL at commit. Ids that grow with time
append to the same last page instead; measured on session creation, that took about a quarter of
the CPU time of a request (README, Performance).

The layout is the RFC's first method, as Python 3.14's own `uuid.uuid7`: a 42-bit counter,
seeded at random every millisecond, then 32 random bits. Knowing one id leaves at least 2^32
guesses for another of the same millisecond, and an id alone grants nothing (tokens do).
"""

from __future__ import annotations

import uuid_utils


def new_id() -> str:
    return str(uuid_utils.uuid7())
