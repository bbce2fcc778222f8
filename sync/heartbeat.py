"""The heartbeat: with each sync pass the device tells the central it is alive, how far behind
its uploads are and which catalog it serves; the answer carries the central's clock.

A device clock more than two minutes off the central's is logged and shown to staff (the sync
status the staff page reads): tokens expire, and pending requests lapse, by this clock.
The outcome is kept in the store (table `heartbeat`) so `sync status` in another process sees
it.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

from edge.clock import iso
from edge.store import Store, Transaction
from sync import outbox
from sync.client import MESSAGE_MAX, Timeouts, Uplink, UplinkError, error_message, load_uplink

log = logging.getLogger("restai_edge.sync")

CLOCK_SKEW_LIMIT = 120.0


def _package_version() -> str:
    try:
        return metadata.version("restai-edge")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class HeartbeatState:
    """The last heartbeat: when, whether the central took it, and the clock skew last measured
    (device clock minus the central's, seconds; kept when a later heartbeat fails)."""

    at: float
    ok: bool
    status: int | None
    message: str | None
    clock_skew_s: float | None
    skew_checked_at: float | None

    @property
    def skew_too_large(self) -> bool:
        return self.clock_skew_s is not None and abs(self.clock_skew_s) > CLOCK_SKEW_LIMIT

    def view(self) -> dict[str, Any]:
        return {
            "last_sent": iso(self.at),
            "ok": self.ok,
            "offered": self.status not in (404, 501),
            "status": self.status,
            "message": self.message,
        }

    def clock_view(self) -> dict[str, Any]:
        return {
            "skew_s": self.clock_skew_s,
            "checked_at": None if self.skew_checked_at is None else iso(self.skew_checked_at),
            "limit_s": CLOCK_SKEW_LIMIT,
            "off": self.skew_too_large,
        }


COLUMNS = "at, ok, status, message, clock_skew_s, skew_checked_at"


async def load_heartbeat(store: Store) -> HeartbeatState | None:
    row = await store.fetch_one(f"SELECT {COLUMNS} FROM heartbeat WHERE id = 1")
    if row is None:
        return None
    return HeartbeatState(**{**row, "ok": bool(row["ok"])})


async def _save(store: Store, state: HeartbeatState) -> None:
    async def work(tx: Transaction) -> None:
        await tx.execute(
            f"INSERT OR REPLACE INTO heartbeat (id, {COLUMNS}) VALUES (1, ?, ?, ?, ?, ?, ?)",
            (
                state.at,
                int(state.ok),
                state.status,
                state.message,
                state.clock_skew_s,
                state.skew_checked_at,
            ),
        )

    await store.transact(work)


def _server_time(response: httpx.Response) -> float | None:
    try:
        text = response.json()["data"]["server_time"]
        when = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except (ValueError, KeyError, TypeError):
        return None
    return when.timestamp() if when.tzinfo is not None else None


class Heartbeat:
    def __init__(self, store: Store, data_dir: Path, timeouts: Timeouts) -> None:
        self._store = store
        self._data_dir = data_dir
        self._timeouts = timeouts
        self._started = time.monotonic()
        self._version = _package_version()

    async def body(self, uplink: Uplink) -> dict[str, Any]:
        queue = await outbox.queue_stats(self._store)
        catalog_version = await self._store.fetch_value(
            "SELECT value FROM catalog_state WHERE key = 'version'"
        )
        live = await self._store.fetch_value(
            "SELECT count(*) FROM sessions WHERE status IN ('pending', 'active')"
        )
        return {
            "deviceId": uplink.device_id,
            "branchSlug": uplink.branch_slug,
            "version": self._version,
            "uptime_s": int(time.monotonic() - self._started),
            "queue_depth": queue.depth,
            "oldest_waiting": None if queue.oldest_waiting is None else iso(queue.oldest_waiting),
            "catalog_version": catalog_version,
            "live_sessions": live,
            "disk_free_bytes": shutil.disk_usage(self._data_dir).free,
            "clock": iso(time.time()),
        }

    async def send(self) -> HeartbeatState | None:
        """Send one heartbeat and keep its outcome; None when sync is not set up."""
        try:
            uplink = await load_uplink(self._store, self._data_dir)
        except UplinkError:
            return None  # the uploader reports a missing token
        if uplink is None:
            return None
        previous = await load_heartbeat(self._store)
        body = await self.body(uplink)
        sent = time.time()
        try:
            async with (
                asyncio.timeout(self._timeouts.deadline),
                httpx.AsyncClient(timeout=self._timeouts.for_httpx()) as client,
            ):
                response = await client.post(
                    uplink.heartbeat_url, json=body, headers=uplink.auth_header
                )
        except (httpx.TimeoutException, TimeoutError):
            state = self._failed(previous, sent, None, "central did not answer the heartbeat")
        except httpx.HTTPError as exc:
            detail = str(exc) or type(exc).__name__
            state = self._failed(previous, sent, None, f"heartbeat failed: {detail}")
        else:
            answered = time.time()
            server_time = _server_time(response) if response.status_code == 200 else None
            if server_time is None:
                message = error_message(response)[:MESSAGE_MAX]
                state = self._failed(previous, sent, response.status_code, message)
            else:
                # The central read its clock somewhere between sending and the answer.
                skew = round((sent + answered) / 2 - server_time, 1)
                state = HeartbeatState(answered, True, 200, None, skew, answered)
        self._report(previous, state)
        await _save(self._store, state)
        return state

    @staticmethod
    def _failed(
        previous: HeartbeatState | None, at: float, status: int | None, message: str
    ) -> HeartbeatState:
        skew = previous.clock_skew_s if previous else None
        checked = previous.skew_checked_at if previous else None
        return HeartbeatState(at, False, status, message, skew, checked)

    @staticmethod
    def _report(previous: HeartbeatState | None, state: HeartbeatState) -> None:
        """Log changes, not every heartbeat."""
        if state.ok and state.skew_too_large:
            assert state.clock_skew_s is not None
            if previous is None or not previous.skew_too_large:
                direction = "ahead of" if state.clock_skew_s > 0 else "behind"
                log.warning(
                    "This device's clock is %.0f s %s the central's (limit %.0f s): tokens and"
                    " pending requests expire by it; fix the clock (NTP)",
                    abs(state.clock_skew_s),
                    direction,
                    CLOCK_SKEW_LIMIT,
                )
        elif state.ok and previous is not None and previous.skew_too_large:
            log.info("This device's clock agrees with the central's again")
        if not state.ok and state.status in (404, 501):
            if previous is None or previous.status != state.status:
                log.info("The central does not take heartbeats (HTTP %s)", state.status)
        elif not state.ok and (previous is None or previous.ok):
            log.warning("Heartbeat failed: %s", state.message)
