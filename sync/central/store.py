"""The central's SQLite file: the sessions devices delivered, their heartbeats, and the catalog
and pictures an integrator set."""

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
-- The catalog as the integrator set it, byte for byte (a broken one too: that is a test case).
CREATE TABLE IF NOT EXISTS catalog (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    body BLOB NOT NULL,
    etag TEXT NOT NULL,
    set_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS media (
    name TEXT PRIMARY KEY,
    content_type TEXT NOT NULL,
    body BLOB NOT NULL,
    etag TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY,
    branch_slug TEXT NOT NULL,
    first_heartbeat_at TEXT NOT NULL,
    last_heartbeat_at TEXT NOT NULL,
    heartbeats INTEGER NOT NULL,
    clock_skew_s REAL,
    payload TEXT NOT NULL
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

    async def _write(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        async with self._lock:
            await self.db.execute(sql, params)
            await self.db.commit()

    async def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        async with self.db.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def set_catalog(self, body: bytes, etag: str, now: str) -> None:
        await self._write(
            "INSERT INTO catalog (id, body, etag, set_at) VALUES (1, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET body = excluded.body, etag = excluded.etag,"
            " set_at = excluded.set_at",
            (body, etag, now),
        )

    async def catalog(self) -> tuple[bytes, str, str] | None:
        """The catalog document, its ETag and when it was set; None when none is set."""
        rows = await self._rows("SELECT body, etag, set_at FROM catalog WHERE id = 1")
        return (bytes(rows[0][0]), rows[0][1], rows[0][2]) if rows else None

    async def drop_catalog(self) -> None:
        await self._write("DELETE FROM catalog")

    async def set_media(self, name: str, content_type: str, body: bytes, etag: str) -> None:
        await self._write(
            "INSERT INTO media (name, content_type, body, etag) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET content_type = excluded.content_type,"
            " body = excluded.body, etag = excluded.etag",
            (name, content_type, body, etag),
        )

    async def media(self, name: str) -> tuple[str, bytes, str] | None:
        """A picture's content type, bytes and ETag; None when there is none by that name."""
        rows = await self._rows(
            "SELECT content_type, body, etag FROM media WHERE name = ?", (name,)
        )
        return (rows[0][0], bytes(rows[0][1]), rows[0][2]) if rows else None

    async def media_names(self) -> list[dict[str, Any]]:
        rows = await self._rows("SELECT name, content_type, length(body) FROM media ORDER BY name")
        return [{"name": r[0], "content_type": r[1], "bytes": r[2]} for r in rows]

    async def drop_media(self, name: str) -> None:
        await self._write("DELETE FROM media WHERE name = ?", (name,))

    async def record_heartbeat(
        self,
        device_id: str,
        branch_slug: str,
        payload: dict[str, Any],
        clock_skew_s: float | None,
        now: str,
    ) -> None:
        await self._write(
            "INSERT INTO devices (device_id, branch_slug, first_heartbeat_at, last_heartbeat_at,"
            " heartbeats, clock_skew_s, payload) VALUES (?, ?, ?, ?, 1, ?, ?)"
            " ON CONFLICT (device_id) DO UPDATE SET branch_slug = excluded.branch_slug,"
            " last_heartbeat_at = excluded.last_heartbeat_at, heartbeats = heartbeats + 1,"
            " clock_skew_s = excluded.clock_skew_s, payload = excluded.payload",
            (device_id, branch_slug, now, now, clock_skew_s, json.dumps(payload)),
        )

    async def devices(self) -> list[dict[str, Any]]:
        rows = await self._rows(
            "SELECT device_id, branch_slug, first_heartbeat_at, last_heartbeat_at, heartbeats,"
            " clock_skew_s, payload FROM devices ORDER BY branch_slug, device_id"
        )
        devices = []
        for row in rows:
            payload = json.loads(row[6])
            devices.append(
                {
                    "deviceId": row[0],
                    "branchSlug": row[1],
                    "firstHeartbeatAt": row[2],
                    "lastHeartbeatAt": row[3],
                    "heartbeats": row[4],
                    "queueDepth": payload.get("queue_depth"),
                    "oldestWaiting": payload.get("oldest_waiting"),
                    "catalogVersion": payload.get("catalog_version"),
                    "clockSkewSeconds": row[5],
                    "lastHeartbeat": payload,
                }
            )
        return devices

    async def reset(self) -> None:
        async with self._lock:
            for table in ("sessions", "catalog", "media", "devices"):
                await self.db.execute(f"DELETE FROM {table}")
            await self.db.commit()
