"""The print worker: one loop per printer drains that printer's outbox topic, in order.

Each loop claims the oldest waiting ticket of its printer, renders and sends it with no lock
held, and acknowledges it once the printer has every byte; a failure releases it and backs off
(full jitter, doubling from one second up to `print_retry_cap`). Loops are independent tasks,
so a printer that is off, slow or stuck delays only its own tickets, and ordering never waits
for any of them: tickets are only written by the order's transaction, never sent by it.

A loop with nothing to print checks every `print_retry_cap` seconds that its printer still takes
a connection, so a station switched off shows as down before its next ticket. Loops wake on every
order event (a ticket may have been queued) and otherwise look at their queue every second (a
reprint). The set of printers is re-read every two seconds, so `restai-edge printer add/remove`
applies to a running device.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

from edge import outbox
from edge.context import EdgeContext
from edge.events import Event
from edge.orders import ORDER_EVENTS
from edge.outbox import Problem
from edge.printing import render
from edge.printing.printers import Printer, list_printers
from edge.printing.transport import PrintFailed, deliver, reachable
from edge.store import Transaction

log = logging.getLogger("restai_edge.printing")

RETRY_FIRST = 1.0
IDLE_CHECK = 1.0
PRINTERS_REFRESH = 2.0
# A claim outlives the longest attempt by far; a killed device's claims free at once anyway.
LEASE_MARGIN = 30.0
FAILURE_LOG_EVERY = 20


class PrinterLoop:
    def __init__(self, ctx: EdgeContext, printer: Printer) -> None:
        self.printer = printer
        self._ctx = ctx
        self._owner = outbox.new_owner()
        self._wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        # When the idle printer was last checked (monotonic); never yet, so at once.
        self._checked = -float("inf")

    def nudge(self) -> None:
        self._wake.set()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max(seconds, 0.0))
        self._wake.clear()

    async def run(self) -> None:
        store, topic = self._ctx.store, self.printer.topic
        while True:
            try:
                state = await outbox.load_state(store, topic)
                now = time.time()
                if not state.due(now):
                    assert state.next_attempt_at is not None
                    # Order events do not cut a backoff short: a dead printer is not hammered.
                    await asyncio.sleep(state.next_attempt_at - now)
                    continue
                if not (await outbox.topic_stats(store, topic)).depth:
                    if time.monotonic() - self._checked >= self._ctx.settings.print_retry_cap:
                        await self._check(state.failures)
                    await self._sleep(IDLE_CHECK)
                    continue
                await self._print_next(state.failures)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Print worker for %s failed; retrying", self.printer.name)
                await asyncio.sleep(IDLE_CHECK)

    async def _check(self, failures: int) -> None:
        """With nothing to print, see that the printer still answers (a connection, no bytes),
        so that staff see a station switched off before its next ticket fails. The store is
        written only when the printer goes down or comes back."""
        self._checked = time.monotonic()
        topic = self.printer.topic
        try:
            await reachable(self.printer.host, self.printer.port, self._ctx.settings.print_timeout)
        except PrintFailed as exc:
            if failures:
                return
            problem = Problem(time.time(), None, str(exc))

            async def down(tx: Transaction) -> None:
                # No backoff: nothing waits, and the next ticket is tried at once.
                await outbox.record_failure(tx, topic, problem, lambda _: 0.0)

            await self._ctx.store.transact(down)
            log.warning("Printer %s is not answering: %s", self.printer.name, exc)
            return
        if failures:
            now = time.time()

            async def up(tx: Transaction) -> None:
                await outbox.record_success(tx, topic, now)

            await self._ctx.store.transact(up)
            log.info("Printer %s answers again", self.printer.name)

    async def _print_next(self, failures: int) -> None:
        settings, store, topic = self._ctx.settings, self._ctx.store, self.printer.topic
        lease = settings.print_timeout + LEASE_MARGIN
        claimed = await outbox.claim(store, topic, self._owner, 1, lease, in_order=True)
        if not claimed:
            await self._sleep(IDLE_CHECK)
            return
        (item,) = claimed
        # Off the event loop: python-escpos encodes character by character, and a long order
        # with long notes takes tens of milliseconds to render.
        data = await asyncio.to_thread(render.render, json.loads(item.payload), self.printer.width)
        try:
            await deliver(self.printer.host, self.printer.port, data, settings.print_timeout)
        except PrintFailed as exc:
            await self._failed(item, str(exc), failures + 1)
            return
        done = time.time()

        async def settle(tx: Transaction) -> None:
            await outbox.acknowledge(tx, [item.id], done)
            await outbox.record_success(tx, topic, done)

        await store.transact(settle)
        if failures:
            log.info("Printer %s is back after %d failed attempt(s)", self.printer.name, failures)

    async def _failed(self, item: outbox.Item, message: str, failures: int) -> None:
        problem = Problem(time.time(), None, message)
        cap = self._ctx.settings.print_retry_cap

        async def work(tx: Transaction) -> float:
            await outbox.release(tx, self._owner, [item.id])
            return await outbox.record_failure(
                tx,
                self.printer.topic,
                problem,
                lambda failures: outbox.full_jitter(failures, RETRY_FIRST, cap),
            )

        next_attempt = await self._ctx.store.transact(work)
        # A printer off for a shift must not flood the log: its first failure, then a reminder.
        if failures == 1 or failures % FAILURE_LOG_EVERY == 0:
            log.warning(
                "Printer %s: %s (%d failed attempt(s)); next attempt in %.1f s",
                self.printer.name,
                message,
                failures,
                max(0.0, next_attempt - time.time()),
            )


class PrintService:
    """Starts and stops one `PrinterLoop` per configured printer."""

    def __init__(self, ctx: EdgeContext) -> None:
        self._ctx = ctx
        self._loops: dict[str, PrinterLoop] = {}
        self._supervisor: asyncio.Task[None] | None = None

    def start(self) -> None:
        # An order's transaction may queue tickets: its event wakes the loops, so a ticket goes
        # out at once rather than at the next idle check.
        self._ctx.events.listen(self._on_event, ORDER_EVENTS)
        self._supervisor = asyncio.create_task(self._supervise(), name="print-supervisor")

    async def stop(self) -> None:
        """Cancel every loop. A ticket cut off mid-send stays waiting and is sent on restart."""
        tasks = [self._supervisor, *(loop.task for loop in self._loops.values())]
        running = [task for task in tasks if task is not None]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        self._loops.clear()

    async def _on_event(self, event: Event) -> None:
        for loop in self._loops.values():
            loop.nudge()

    async def _supervise(self) -> None:
        warm = False
        while True:
            try:
                printers = await list_printers(self._ctx.store)
                if printers and not warm:
                    # Off the event loop: importing python-escpos takes about half a second.
                    await asyncio.to_thread(render.warm_up)
                    warm = True
                self._apply(printers)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Could not read the printers")
            await asyncio.sleep(PRINTERS_REFRESH)

    def _apply(self, printers: list[Printer]) -> None:
        wanted = {printer.id: printer for printer in printers}
        for printer_id in list(self._loops):
            loop = self._loops[printer_id]
            if wanted.get(printer_id) != loop.printer:
                assert loop.task is not None
                loop.task.cancel()
                del self._loops[printer_id]
        for printer_id, printer in wanted.items():
            if printer_id not in self._loops:
                loop = PrinterLoop(self._ctx, printer)
                loop.task = asyncio.create_task(loop.run(), name=f"printer-{printer.name}")
                self._loops[printer_id] = loop
