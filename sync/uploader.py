"""One upload pass: claim a batch, send it, settle what the central acknowledged, repeat.

The write lock is held only to claim and to settle, never while a request is in flight, so
diners are served at full speed whatever the uplink does. Nothing leaves the outbox unless the
central named it in its answer; everything else is released and sent again later.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from edge import outbox as topics
from edge.outbox import Item, Problem
from edge.store import Store, Transaction
from sync.backoff import full_jitter
from sync.client import Answer, Outcome, Timeouts, Uplink, UplinkError, load_uplink, post_batch
from sync.outbox import SESSIONS

log = logging.getLogger("restai_edge.sync")

BATCH_MAX = 100
# After a 413 the smaller batch size is kept for a while, then the full size is tried again.
BATCH_RELEARN_SECONDS = 3600.0


@dataclass
class PassReport:
    """What one pass did. `outcome`: disabled, skipped, done, failed or stopped."""

    outcome: str
    sent: int = 0
    requests: int = 0
    problem: Problem | None = None
    next_attempt_at: float | None = None


class Uploader:
    def __init__(self, store: Store, data_dir: Path, period: float, backoff_cap: float) -> None:
        self._store = store
        self._data_dir = data_dir
        self._period = period
        self._backoff_cap = backoff_cap
        self.timeouts = Timeouts.for_period(period)
        self.owner = topics.new_owner()
        self._lock = asyncio.Lock()
        self._batch_limit = BATCH_MAX
        self._limit_learned_at = 0.0

    async def run(
        self, *, force: bool = False, on_progress: Callable[[int], None] | None = None
    ) -> PassReport:
        """Upload everything waiting. Without `force`, respect a backoff or a 401/403 stop.

        A forced pass with nothing to send posts an empty batch, so that `sync now` always checks
        the link and the credentials (and clears a stop when they work).
        """
        async with self._lock:
            if not force:
                current = await topics.load_state(self._store, SESSIONS)
                if not current.due(time.time()):
                    return PassReport("skipped", next_attempt_at=current.next_attempt_at)
            try:
                uplink = await load_uplink(self._store, self._data_dir)
            except UplinkError as exc:
                problem = Problem(time.time(), None, str(exc))
                return await self._stop(PassReport("stopped"), problem)
            if uplink is None:
                return PassReport("disabled")
            async with httpx.AsyncClient(timeout=self.timeouts.for_httpx()) as client:
                return await self._drain(client, uplink, force, on_progress)

    def _batch_size(self) -> int:
        if time.time() - self._limit_learned_at > BATCH_RELEARN_SECONDS:
            self._batch_limit = BATCH_MAX
        return self._batch_limit

    async def _drain(
        self,
        client: httpx.AsyncClient,
        uplink: Uplink,
        probe: bool,
        on_progress: Callable[[int], None] | None,
    ) -> PassReport:
        report = PassReport("done")
        while True:
            batch = await topics.claim(
                self._store, SESSIONS, self.owner, self._batch_size(), self.timeouts.lease
            )
            if not batch and not (probe and report.requests == 0):
                return report
            ids = [item.id for item in batch]
            answer = await post_batch(
                client, uplink, [item.payload for item in batch], self.timeouts
            )
            report.requests += 1
            if answer.outcome is Outcome.ACCEPTED:
                acknowledged = [item.id for item in batch if item.session_id in answer.accepted]
                if ids and not acknowledged:
                    message = f"central acknowledged none of the {len(ids)} sessions sent"
                    return await self._fail(
                        report, ids, Answer(Outcome.RETRY, answer.status, message)
                    )
                await self._settle(batch, acknowledged)
                report.sent += len(acknowledged)
                if on_progress is not None:
                    on_progress(len(acknowledged))
                if not batch:
                    return report
            elif answer.outcome is Outcome.TOO_LARGE and len(batch) > 1:
                self._batch_limit = len(batch) // 2
                self._limit_learned_at = time.time()
                log.info(
                    "Central refused %d sessions as too large; trying %d",
                    len(batch),
                    self._batch_limit,
                )
                await self._release(ids)
            elif answer.outcome is Outcome.REFUSED:
                problem = Problem(time.time(), answer.status, answer.message)
                return await self._stop(report, problem, ids)
            else:
                return await self._fail(report, ids, answer)

    async def _settle(self, sent: list[Item], acknowledged: list[int]) -> None:
        now = time.time()
        kept = set(acknowledged)

        async def work(tx: Transaction) -> None:
            await topics.acknowledge(tx, acknowledged, now)
            await topics.release(tx, self.owner, [item.id for item in sent if item.id not in kept])
            await topics.record_success(tx, SESSIONS, now)

        await self._store.transact(work)

    async def _release(self, ids: list[int]) -> None:
        if not ids:
            return

        async def work(tx: Transaction) -> None:
            await topics.release(tx, self.owner, ids)

        await self._store.transact(work)

    def _delay(self, retry_after: float | None) -> Callable[[int], float]:
        def delay_after(failures: int) -> float:
            if retry_after is not None:
                return retry_after
            return full_jitter(failures, self._period, self._backoff_cap)

        return delay_after

    async def _fail(self, report: PassReport, ids: list[int], answer: Answer) -> PassReport:
        problem = Problem(time.time(), answer.status, answer.message)

        async def work(tx: Transaction) -> float:
            await topics.release(tx, self.owner, ids)
            return await topics.record_failure(
                tx, SESSIONS, problem, self._delay(answer.retry_after)
            )

        next_attempt = await self._store.transact(work)
        log.warning(
            "Upstream sync failed (%s); next attempt in %.1f s",
            problem.message,
            max(0.0, next_attempt - time.time()),
        )
        report.outcome, report.problem, report.next_attempt_at = "failed", problem, next_attempt
        return report

    async def _stop(
        self, report: PassReport, problem: Problem, ids: list[int] | None = None
    ) -> PassReport:
        async def work(tx: Transaction) -> None:
            await topics.release(tx, self.owner, ids or [])
            await topics.record_stop(tx, SESSIONS, problem)

        await self._store.transact(work)
        log.warning(
            "Upstream sync stopped until 'restai-edge sync now' succeeds: %s", problem.message
        )
        report.outcome, report.problem = "stopped", problem
        return report
