"""The central's SQLite file: the sessions devices delivered."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiosqlite

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    branch_slug TEXT NOT NULL,
    payload TEXT NOT NULL,
    received_at TEXT NOT NULL,
    last_received_at TEXT NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 1
);
"""


class CentralStore:
    """One connection; writes serialised by a lock (the central is a test fixture, not a
    production server)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(self.path)
        await db.executescript(SCHEMA)
        await db.commit()
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def db(self) -> aiosqlite.Connection:
        assert self._db is not None, "central store not open"
        return self._db

    async def store_sessions(
        self, device_id: str, branch_slug: str, sessions: list[dict[str, Any]], now: str
    ) -> list[str]:
        """Store a batch, de-duplicated by id (a resend bumps `receive_count`); the ids stored."""
        rows = [
            (session["id"], device_id, branch_slug, json.dumps(session), now, now)
            for session in sessions
        ]
        async with self._lock:
            # One call for the whole batch: a central that stores row by row would make every
            # drain benchmark measure this dev server instead of the device.
            await self.db.executemany(
                "INSERT INTO sessions (id, device_id, branch_slug, payload, "
                "received_at, last_received_at, receive_count) "
                "VALUES (?, ?, ?, ?, ?, ?, 1) "
                "ON CONFLICT(id) DO UPDATE SET "
                "receive_count = receive_count + 1, "
                "last_received_at = excluded.last_received_at",
                rows,
            )
            await self.db.commit()
        return list(dict.fromkeys(row[0] for row in rows))

    async def deliveries(self) -> dict[str, int]:
        async with self.db.execute(
            "SELECT id, receive_count FROM sessions ORDER BY rowid"
        ) as cursor:
            rows = await cursor.fetchall()
        return {row[0]: row[1] for row in rows}

    async def sessions(self) -> list[dict[str, Any]]:
        async with self.db.execute(
            "SELECT id, device_id, branch_slug, payload, received_at, "
            "last_received_at, receive_count FROM sessions ORDER BY rowid"
        ) as cursor:
            rows = await cursor.fetchall()
        return [
            {
                "id": row[0],
                "deviceId": row[1],
                "branchSlug": row[2],
                "payload": json.loads(row[3]),
                "receivedAt": row[4],
                "lastReceivedAt": row[5],
                "receiveCount": row[6],
            }
            for row in rows
        ]

    async def reset(self) -> None:
        async with self._lock:
            await self.db.execute("DELETE FROM sessions")
            await self.db.commit()
