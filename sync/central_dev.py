"""Reference central ingest server for RestAI Edge ("central-dev").

This is a small, self-contained stand-in for the central API that edge
devices push finished table sessions to. It is meant for integrators and for
tests: it implements the ingest contract, stores what it receives in a local
SQLite file, and can be told at runtime (over HTTP) to misbehave so the edge
sync client can be exercised against failures.

Ingest contract
---------------
``POST /api/edge/v1/sessions`` with ``Authorization: Bearer <device_token>``
and a JSON body::

    {"deviceId": str, "branchSlug": str, "sessions": [{"id": "<uuid>", ...}]}

* 200 ``{"success": true, "data": {"accepted": [ids]}}``. Sessions are
  de-duplicated by id: a resend is accepted again but stored only once (the
  first payload is kept, ``receive_count`` is incremented).
* 401 ``{"success": false, "error": {"code": "UNAUTHORIZED", ...}}`` on a
  missing or wrong token.
* 400 with the same envelope (code ``BAD_REQUEST``) on a malformed body.

Development / test endpoints (no authentication; do not expose publicly)
------------------------------------------------------------------------
* ``GET /healthz`` -> ``{"status": "ok"}``
* ``POST /_control`` -> set the fault mode, see :data:`FAULT_MODES`.
* ``GET /_control`` -> current fault mode.
* ``GET /_stats`` -> counters (sessions, requests, deliveries, batch sizes...) and a
  ``request_log`` with, per request, its time, the session ids it carried and the answer.
* ``GET /_sessions`` -> stored sessions with their payloads.
* ``POST /_reset`` -> wipe stored sessions, counters, and return to mode ok.

Run it with ``python -m sync.central_dev --port 9100 --db /tmp/c.db
--device-token abc`` (or set ``RESTAI_CENTRAL_DEVICE_TOKEN``).
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import json
import logging
import math
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite
import click
from sanic import Request, Sanic
from sanic.exceptions import SanicException
from sanic.response import HTTPResponse, raw
from sanic.response import json as json_response

logger = logging.getLogger("restai.central_dev")

INGEST_PATH = "/api/edge/v1/sessions"
TOKEN_ENV_VAR = "RESTAI_CENTRAL_DEVICE_TOKEN"

FAULT_MODES = (
    "ok",
    "500",
    "401",
    "403",
    "slow",
    "413",
    "429",
    "garbage",
    "partial",
    "down",
)

DEFAULT_SLOW_DELAY = 30.0
MAX_SLOW_DELAY = 3600.0
DEFAULT_MAX_BATCH = 10
DEFAULT_RETRY_AFTER = 1
GARBAGE_BODY = b"<html><body><h1>502 Bad Gateway</h1>upstream says hi</body></html>"

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

# Sanic keeps a process-wide registry of app names and refuses duplicates,
# so every app built by the factory gets its own name.
_app_counter = itertools.count(1)


class _BadRequest(Exception):
    """Raised while validating an ingest body; becomes a 400 envelope."""


@dataclass
class FaultState:
    mode: str = "ok"
    remaining: int | None = None  # None = until changed
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "times": self.remaining, "params": dict(self.params)}

    def take(self) -> tuple[str, dict[str, Any]]:
        """Return the fault for the current ingest request and consume one use."""
        mode, params = self.mode, dict(self.params)
        if self.mode != "ok" and self.remaining is not None:
            self.remaining -= 1
            if self.remaining <= 0:
                self.mode, self.remaining, self.params = "ok", None, {}
        return mode, params


@dataclass
class Stats:
    requests: int = 0
    batch_sizes: list[int] = field(default_factory=list)
    request_log: list[dict[str, Any]] = field(default_factory=list)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _envelope_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> HTTPResponse:
    return json_response(
        {"success": False, "error": {"code": code, "message": message}},
        status=status,
        headers=headers,
    )


_STATUS_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


def _validate_ingest_body(body: bytes) -> tuple[str, str, list[dict[str, Any]]]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _BadRequest("Body is not valid JSON") from None
    if not isinstance(data, dict):
        raise _BadRequest("Body must be a JSON object")
    device_id = data.get("deviceId")
    if not isinstance(device_id, str) or not device_id.strip():
        raise _BadRequest("'deviceId' must be a non-empty string")
    branch_slug = data.get("branchSlug")
    if not isinstance(branch_slug, str) or not branch_slug.strip():
        raise _BadRequest("'branchSlug' must be a non-empty string")
    sessions = data.get("sessions")
    if not isinstance(sessions, list):
        raise _BadRequest("'sessions' must be a list")
    for index, session in enumerate(sessions):
        if not isinstance(session, dict):
            raise _BadRequest(f"sessions[{index}] must be an object")
        sid = session.get("id")
        if not isinstance(sid, str):
            raise _BadRequest(f"sessions[{index}].id must be a UUID string")
        try:
            uuid.UUID(sid)
        except ValueError:
            raise _BadRequest(f"sessions[{index}].id must be a UUID string") from None
    return device_id, branch_slug, sessions


def _parse_control(data: Any) -> FaultState:
    """Validate a /_control body and build the new fault state."""
    if not isinstance(data, dict):
        raise _BadRequest("Body must be a JSON object")
    mode = data.get("mode")
    if isinstance(mode, int) and not isinstance(mode, bool):
        mode = str(mode)
    if mode not in FAULT_MODES:
        raise _BadRequest(f"'mode' must be one of {', '.join(FAULT_MODES)}")

    times = data.get("times")
    if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 1):
        raise _BadRequest("'times' must be a positive integer or null")

    def number(name: str, default: float, minimum: float, maximum: float | None = None) -> float:
        value = data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _BadRequest(f"'{name}' must be a number")
        if value < minimum or (maximum is not None and value > maximum):
            raise _BadRequest(f"'{name}' is out of range")
        return value

    def integer(name: str, default: int | None, minimum: int) -> int | None:
        value = data.get(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise _BadRequest(f"'{name}' must be an integer >= {minimum}")
        return value

    params: dict[str, Any] = {}
    if mode == "slow":
        params["delay"] = number("delay", DEFAULT_SLOW_DELAY, 0, MAX_SLOW_DELAY)
    elif mode == "413":
        params["max_batch"] = integer("max_batch", DEFAULT_MAX_BATCH, 0)
    elif mode == "429":
        params["retry_after"] = integer("retry_after", DEFAULT_RETRY_AFTER, 0)
    elif mode == "partial":
        params["accept"] = integer("accept", None, 0)  # None = half, rounded up

    if mode == "ok":
        return FaultState()
    return FaultState(mode=mode, remaining=times, params=params)


def create_central_app(db_path: Path, device_token: str) -> Sanic:
    """Build the reference central ingest app.

    Each call returns a new app with a process-unique name (Sanic refuses to
    register two apps with the same name).
    """
    if not device_token:
        raise ValueError("device_token must not be empty")
    db_path = Path(db_path)
    expected_auth = f"Bearer {device_token}".encode()

    app = Sanic(f"restai_central_dev_{os.getpid()}_{next(_app_counter)}")
    app.config.FALLBACK_ERROR_FORMAT = "json"
    # Let the `slow` fault hold a request for a long time without Sanic
    # answering 503 on its own, and keep shutdown snappy.
    app.config.RESPONSE_TIMEOUT = int(MAX_SLOW_DELAY) + 60
    app.config.GRACEFUL_SHUTDOWN_TIMEOUT = 1.0

    app.ctx.fault = FaultState()
    app.ctx.stats = Stats()
    app.ctx.db = None
    app.ctx.db_lock = asyncio.Lock()

    @app.before_server_start
    async def _open_db(app: Sanic) -> None:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(db_path)
        await db.executescript(SCHEMA)
        await db.commit()
        app.ctx.db = db
        logger.info("Central dev server using database %s", db_path)

    @app.after_server_stop
    async def _close_db(app: Sanic) -> None:
        if app.ctx.db is not None:
            await app.ctx.db.close()
            app.ctx.db = None

    @app.exception(SanicException)
    async def _sanic_error(request: Request, exc: SanicException) -> HTTPResponse:
        status = getattr(exc, "status_code", 500) or 500
        code = _STATUS_CODES.get(status, "ERROR")
        return _envelope_error(status, code, str(exc) or code)

    @app.exception(Exception)
    async def _unexpected_error(request: Request, exc: Exception) -> HTTPResponse:
        logger.exception("Unhandled error on %s %s", request.method, request.path)
        return _envelope_error(500, "INTERNAL_ERROR", "Internal server error")

    # ------------------------------------------------------------------ #
    # Dev endpoints
    # ------------------------------------------------------------------ #

    @app.get("/healthz")
    async def healthz(request: Request) -> HTTPResponse:
        return json_response({"status": "ok"})

    @app.get("/_control")
    async def get_control(request: Request) -> HTTPResponse:
        return json_response(app.ctx.fault.as_dict())

    @app.post("/_control")
    async def set_control(request: Request) -> HTTPResponse:
        try:
            try:
                data = json.loads(request.body or b"null")
            except (ValueError, UnicodeDecodeError):
                raise _BadRequest("Body is not valid JSON") from None
            app.ctx.fault = _parse_control(data)
        except _BadRequest as exc:
            return _envelope_error(400, "BAD_REQUEST", str(exc))
        logger.info(
            "Fault mode set to %s (times=%s, params=%s)",
            app.ctx.fault.mode,
            app.ctx.fault.remaining,
            app.ctx.fault.params,
        )
        return json_response(app.ctx.fault.as_dict())

    @app.post("/_reset")
    async def reset(request: Request) -> HTTPResponse:
        async with app.ctx.db_lock:
            await app.ctx.db.execute("DELETE FROM sessions")
            await app.ctx.db.commit()
        app.ctx.fault = FaultState()
        app.ctx.stats = Stats()
        logger.info("State reset")
        return json_response({"reset": True})

    @app.get("/_stats")
    async def stats(request: Request) -> HTTPResponse:
        async with app.ctx.db.execute(
            "SELECT id, receive_count FROM sessions ORDER BY rowid"
        ) as cursor:
            rows = await cursor.fetchall()
        deliveries = {row[0]: row[1] for row in rows}
        st: Stats = app.ctx.stats
        return json_response(
            {
                "sessions": len(rows),
                "requests": st.requests,
                "deliveries": deliveries,
                "duplicates": sum(count - 1 for count in deliveries.values()),
                "batch_sizes": list(st.batch_sizes),
                "request_log": list(st.request_log),
                "fault": app.ctx.fault.as_dict(),
            }
        )

    @app.get("/_sessions")
    async def list_sessions(request: Request) -> HTTPResponse:
        async with app.ctx.db.execute(
            "SELECT id, device_id, branch_slug, payload, received_at, "
            "last_received_at, receive_count FROM sessions ORDER BY rowid"
        ) as cursor:
            rows = await cursor.fetchall()
        items = [
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
        return json_response({"count": len(items), "sessions": items})

    # ------------------------------------------------------------------ #
    # Ingest endpoint
    # ------------------------------------------------------------------ #

    async def _store(device_id: str, branch_slug: str, sessions: list[dict[str, Any]]) -> list[str]:
        now = _now()
        rows = [
            (session["id"], device_id, branch_slug, json.dumps(session), now, now)
            for session in sessions
        ]
        async with app.ctx.db_lock:
            db = app.ctx.db
            # One call for the whole batch: a central that stores row by row would make every
            # drain benchmark measure this dev server instead of the device.
            await db.executemany(
                "INSERT INTO sessions (id, device_id, branch_slug, payload, "
                "received_at, last_received_at, receive_count) "
                "VALUES (?, ?, ?, ?, ?, ?, 1) "
                "ON CONFLICT(id) DO UPDATE SET "
                "receive_count = receive_count + 1, "
                "last_received_at = excluded.last_received_at",
                rows,
            )
            await db.commit()
        return list(dict.fromkeys(row[0] for row in rows))

    @app.post(INGEST_PATH)
    async def ingest(request: Request) -> HTTPResponse:
        st: Stats = app.ctx.stats
        st.requests += 1
        # `at` (epoch seconds) and `ids` let a test check when each session was sent.
        entry: dict[str, Any] = {"n": st.requests, "at": time.time(), "batch_size": None, "ids": []}
        st.request_log.append(entry)

        # Best-effort batch size, recorded whatever the outcome.
        try:
            peek = json.loads(request.body)
            if isinstance(peek, dict) and isinstance(peek.get("sessions"), list):
                entry["batch_size"] = len(peek["sessions"])
                entry["ids"] = [s.get("id") for s in peek["sessions"] if isinstance(s, dict)]
                st.batch_sizes.append(entry["batch_size"])
        except (ValueError, UnicodeDecodeError):
            pass

        mode, params = app.ctx.fault.take()
        entry["mode"] = mode

        def done(response: HTTPResponse, accepted: int = 0) -> HTTPResponse:
            entry["status"] = response.status
            entry["accepted"] = accepted
            return response

        if mode == "down":
            entry["status"] = None
            entry["accepted"] = 0
            logger.info("Request %d: fault 'down', aborting the connection", entry["n"])
            # Sanic types request.transport as its TransportProtocol; at run
            # time it is the asyncio/uvloop transport, which has abort().
            transport: Any = request.transport
            transport.abort()
            # connection_lost() cancels this handler task; the sleep is only a
            # fallback so the handler never returns a response on its own.
            await asyncio.sleep(5)
            return done(raw(b"", status=500))
        if mode == "500":
            return done(_envelope_error(500, "INTERNAL_ERROR", "Injected fault: internal error"))
        if mode == "401":
            return done(_envelope_error(401, "UNAUTHORIZED", "Injected fault: unauthorized"))
        if mode == "403":
            return done(_envelope_error(403, "FORBIDDEN", "Injected fault: forbidden"))
        if mode == "429":
            retry_after = params["retry_after"]
            return done(
                _envelope_error(
                    429,
                    "RATE_LIMITED",
                    "Injected fault: too many requests",
                    headers={"Retry-After": str(retry_after)},
                )
            )
        if mode == "garbage":
            return done(raw(GARBAGE_BODY, status=200, content_type="text/html; charset=utf-8"))

        auth = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(auth, expected_auth):
            logger.warning("Request %d: rejected, missing or invalid device token", entry["n"])
            return done(_envelope_error(401, "UNAUTHORIZED", "Missing or invalid device token"))

        try:
            device_id, branch_slug, sessions = _validate_ingest_body(request.body)
        except _BadRequest as exc:
            logger.warning("Request %d: rejected, malformed body: %s", entry["n"], exc)
            return done(_envelope_error(400, "BAD_REQUEST", str(exc)))

        if mode == "413" and len(sessions) > params["max_batch"]:
            return done(
                _envelope_error(
                    413,
                    "PAYLOAD_TOO_LARGE",
                    f"Batch of {len(sessions)} sessions exceeds the limit of {params['max_batch']}",
                )
            )

        if mode == "partial":
            accept = params.get("accept")
            if accept is None:
                accept = math.ceil(len(sessions) / 2)
            sessions = sessions[:accept]

        # Stored before the `slow` delay on purpose: the client may time out
        # although the server committed the batch (its resend must be harmless).
        accepted = await _store(device_id, branch_slug, sessions)
        logger.info(
            "Request %d: device=%s branch=%s batch=%d accepted=%d",
            entry["n"],
            device_id,
            branch_slug,
            entry["batch_size"] or 0,
            len(accepted),
        )

        if mode == "slow":
            await asyncio.sleep(params["delay"])

        return done(
            json_response({"success": True, "data": {"accepted": accepted}}),
            accepted=len(accepted),
        )

    return app


@click.command("central-dev")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=9100, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--db",
    "db_path",
    default="central-dev.db",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file where received sessions are stored.",
)
@click.option(
    "--device-token",
    required=True,
    envvar=TOKEN_ENV_VAR,
    show_envvar=True,
    help="Bearer token the edge device must present.",
)
def central_dev_command(host: str, port: int, db_path: Path, device_token: str) -> None:
    """Run the reference central ingest server (development and tests only)."""
    # Sanic installs handlers on its own loggers (which also propagate to the
    # root logger), so calling logging.basicConfig() here would print every
    # Sanic line twice. Give our logger a handler only when nobody configured
    # logging.
    if not logging.getLogger().handlers and not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    app = create_central_app(db_path, device_token)
    logger.info("Central dev server listening on http://%s:%d (db=%s)", host, port, db_path)
    app.run(
        host=host,
        port=port,
        single_process=True,
        access_log=False,
        motd=False,
    )


def main(argv: list[str] | None = None) -> None:
    central_dev_command.main(args=argv, prog_name="central-dev")


if __name__ == "__main__":
    main()
