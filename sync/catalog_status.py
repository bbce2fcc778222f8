"""The catalog puller's bookkeeping in `catalog_state`, and `menu status` built from it.

Kept in the store (beside what `edge.catalog.apply_catalog` records: `source`, `version`, `etag`,
`applied_at`) so that `restai-edge menu status` and `menu pull`, run as other processes, see and
clear what the serving process recorded, and so that a backoff or a 401/403 stop survives a
restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edge.catalog import catalog_state
from edge.clock import iso, parse_iso
from edge.outbox import Problem
from edge.store import Store, Transaction

LAST_PULL = "last_pull"
LAST_ERROR = "last_error"
FAILURES = "failures"
NEXT_ATTEMPT_AT = "next_attempt_at"
STOPPED = "stopped"
NOT_OFFERED = "not_offered"
REFUSED = "refused"
REFUSED_ETAG = "refused_etag"


@dataclass(frozen=True)
class PullState:
    source: str | None
    version: str | None
    etag: str | None
    applied_at: str | None
    last_pull: float | None
    last_error: Problem | None
    failures: int
    next_attempt_at: float | None
    stopped: Problem | None
    not_offered: Problem | None
    refused: Problem | None
    refused_etag: str | None

    @property
    def central_etag(self) -> str | None:
        """The ETag to send back: only that of a catalog the central sent (a file has none)."""
        return self.etag if self.source == "central" and self.etag else None


def _problem(values: dict[str, str], key: str) -> Problem | None:
    return Problem.from_json(values[key]) if key in values else None


async def load_pull_state(store: Store) -> PullState:
    values = await catalog_state(store)
    return PullState(
        source=values.get("source") or None,
        version=values.get("version") or None,
        etag=values.get("etag") or None,
        applied_at=values.get("applied_at") or None,
        last_pull=float(values[LAST_PULL]) if LAST_PULL in values else None,
        last_error=_problem(values, LAST_ERROR),
        failures=int(values.get(FAILURES, 0)),
        next_attempt_at=float(values[NEXT_ATTEMPT_AT]) if NEXT_ATTEMPT_AT in values else None,
        stopped=_problem(values, STOPPED),
        not_offered=_problem(values, NOT_OFFERED),
        refused=_problem(values, REFUSED),
        refused_etag=values.get(REFUSED_ETAG) or None,
    )


async def _put(tx: Transaction, key: str, value: str) -> None:
    await tx.execute(
        "INSERT INTO catalog_state (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


async def _drop(tx: Transaction, *keys: str) -> None:
    await tx.executemany("DELETE FROM catalog_state WHERE key = ?", [(key,) for key in keys])


async def record_answer(
    tx: Transaction, now: float, *, refused: Problem | None, refused_etag: str | None
) -> None:
    """The central answered with a catalog (applied, unchanged, or refused as broken): the link
    works, so backoff, a credentials stop and a "not offered" are over."""
    await _put(tx, LAST_PULL, repr(now))
    await _drop(tx, FAILURES, NEXT_ATTEMPT_AT, STOPPED, NOT_OFFERED)
    if refused is None:
        await _drop(tx, REFUSED, REFUSED_ETAG)
        return
    await _put(tx, LAST_ERROR, refused.to_json())
    await _put(tx, REFUSED, refused.to_json())
    if refused_etag:
        await _put(tx, REFUSED_ETAG, refused_etag)
    else:
        await _drop(tx, REFUSED_ETAG)


async def record_not_offered(tx: Transaction, problem: Problem) -> None:
    """404/501: the central has no catalog for devices; the menu stays what was imported."""
    await _put(tx, NOT_OFFERED, problem.to_json())
    await _drop(tx, FAILURES, NEXT_ATTEMPT_AT, STOPPED)


async def record_failure(
    tx: Transaction, problem: Problem, delay_after: Callable[[int], float]
) -> float:
    """One more failure in a row; returns when to try again."""
    previous = await tx.fetch_value("SELECT value FROM catalog_state WHERE key = ?", (FAILURES,))
    failures = int(previous or 0) + 1
    next_attempt = problem.at + delay_after(failures)
    await _put(tx, LAST_ERROR, problem.to_json())
    await _put(tx, FAILURES, str(failures))
    await _put(tx, NEXT_ATTEMPT_AT, repr(next_attempt))
    return next_attempt


async def record_stop(tx: Transaction, problem: Problem) -> None:
    """The central refused the device's credentials: no pulls until a forced one succeeds."""
    await _put(tx, LAST_ERROR, problem.to_json())
    await _put(tx, STOPPED, problem.to_json())
    await _drop(tx, NEXT_ATTEMPT_AT)


def _iso_or_none(epoch: float | None) -> str | None:
    return None if epoch is None else iso(epoch)


def summary_state(pull: PullState, enabled: bool) -> str:
    """`disabled` (no central URL), `stopped` (401/403 until a forced pull succeeds),
    `not_offered` (the central has no catalog: the imported menu stays), `retrying` (the last
    pull failed), `refused` (the central's current catalog is broken: the last good one stays),
    `never` (no answer yet) or `ok`."""
    if not enabled:
        return "disabled"
    if pull.stopped is not None:
        return "stopped"
    if pull.not_offered is not None:
        return "not_offered"
    if pull.failures:
        return "retrying"
    if pull.refused is not None:
        return "refused"
    if pull.last_pull is None:
        return "never"
    return "ok"


async def menu_status(store: Store, now: float | None = None) -> dict[str, Any]:
    """`restai-edge menu status --json`: CONTRACT's fields first, then the detail."""
    now = time.time() if now is None else now
    pull = await load_pull_state(store)
    central_url = await store.fetch_value("SELECT central_url FROM branch LIMIT 1")
    counts = await store.fetch_one(
        "SELECT count(*) AS items, count(image_url) AS with_url, count(image_file) AS pictures"
        " FROM menu_items WHERE retired = 0"
    )
    assert counts is not None
    applied = parse_iso(pull.applied_at) if pull.applied_at else None
    return {
        "source": pull.source,
        "version": pull.version,
        "etag": pull.etag,
        "last_pull": _iso_or_none(pull.last_pull),
        "last_error": pull.last_error.view() if pull.last_error else None,
        "state": summary_state(pull, bool(central_url)),
        "applied_at": pull.applied_at,
        "age_s": None if applied is None else max(0, round(now - applied)),
        "offered": None
        if pull.last_pull is None and pull.not_offered is None
        else pull.not_offered is None,
        "not_offered": pull.not_offered.view() if pull.not_offered else None,
        "refused": pull.refused.view() if pull.refused else None,
        "stopped": pull.stopped is not None,
        "failures": pull.failures,
        "next_attempt_at": _iso_or_none(pull.next_attempt_at),
        "items": counts["items"],
        "pictures": {"named": counts["with_url"], "kept": counts["pictures"]},
    }


async def catalog_health(store: Store, now: float | None = None) -> dict[str, Any]:
    """What `/healthz` says of the menu: which version is served, from where, and how old."""
    values = await catalog_state(store)
    applied_at = values.get("applied_at") or None
    age = None
    if applied_at:
        age = max(0, round((time.time() if now is None else now) - parse_iso(applied_at)))
    return {
        "version": values.get("version") or None,
        "source": values.get("source") or None,
        "applied_at": applied_at,
        "age_s": age,
    }
