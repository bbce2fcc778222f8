"""The ceiling: the fastest a Sanic server can answer our requests on this machine.

A bare Sanic app, one process like the device: no store reads (`GET`); one aiosqlite INSERT
committing on its own in WAL and one JWT signature (`POST .../session`); one JWT check and one
transaction inserting an order, its lines and their modifiers (`POST /api/customer/orders`).
The benchmark reports the device as a ratio of these figures measured in the same run.

It gives the same answer with the same guarantees as the contract asks of the device, and no
more: the seed page's session object and the contract's customer token, a store that itself
keeps one live session per table, and bodies checked against the device's own request types
(a bad one is a 400, not a 500), decoded by msgspec as the device decodes them.

It takes every shortcut the device takes, so that it stays the least work for the same
answer: time-ordered ids (edge/ids.py), PyJWT's checks of the secret done once
(edge/tokens.py), and msgspec for the JSON of its answers (edge/app.py).

`--synchronous` picks the commit's durability: FULL fsyncs every commit, as an answered write on
the device must be on disk; NORMAL fsyncs only at checkpoints, so it shows what the same requests
cost with no fsync in the way, the hardest ceiling for a group-committing writer.

    python -m bench.baseline --db PATH --port P [--synchronous FULL|NORMAL]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import time

import aiosqlite
import jwt
import msgspec
import uuid_utils
from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from edge.api.customer import SessionBody
from edge.api.orders import OrderBody
from edge.ids import new_id
from edge.tokens import ALGORITHM, SecretHS256

SECRET = "baseline-secret-" + "x" * 48
# The one branch its tokens name, as a device serves one.
BRANCH_ID = new_id()
# What the device must send with every answer carrying a token or personal data (issue #13.8),
# so the ceiling's answers are the same bytes as the device's.
API_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
CHECK_SESSION = {
    "success": True,
    "data": {
        "hasSession": True,
        "status": "pending",
        "sessionId": "550e8400-e29b-41d4-a716-446655440000",
        "customerName": "Maria Garcia",
    },
}
SESSION_STATUS = {
    "success": True,
    "data": {
        "id": "550e8400-e29b-41d4-a716-446655440000",
        "status": "pending",
        "customer_name": "Maria Garcia",
    },
}


def create_app(db_path: str, synchronous: str = "FULL") -> Sanic:
    # msgspec encodes the answers, as on the device.
    app = Sanic("restai_bench_baseline", dumps=msgspec.json.encode)
    jws = jwt.PyJWS(algorithms=[])
    jws.register_algorithm(ALGORITHM, SecretHS256(SECRET))
    app.config.REQUEST_MAX_SIZE = 64 * 1024

    @app.before_server_start
    async def open_db(app: Sanic) -> None:
        conn = await aiosqlite.connect(db_path, isolation_level=None)
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute(f"PRAGMA synchronous = {synchronous}")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, table_code TEXT,"
            " customer_name TEXT, status TEXT, started_at TEXT)"
        )
        # The contract's one live session per table, which the store itself must enforce.
        await conn.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS sessions_one_live ON sessions (table_code)"
            " WHERE status IN ('pending', 'active')"
        )
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, session_id TEXT,"
            " total INTEGER, created_at TEXT)"
        )
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS order_items (id TEXT PRIMARY KEY, order_id TEXT,"
            " menu_item_id TEXT, quantity INTEGER, notes TEXT)"
        )
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS order_item_modifiers (order_item_id TEXT,"
            " position INTEGER, modifier_id TEXT, PRIMARY KEY (order_item_id, position))"
        )
        app.ctx.db = conn
        # One connection takes one transaction at a time, as the device's single writer does.
        app.ctx.write_lock = asyncio.Lock()

    @app.get("/healthz")
    async def health(request: Request) -> HTTPResponse:
        return json({"ok": True})

    @app.get("/api/customer/<slug>/<code>/check-session")
    async def check_session(request: Request, slug: str, code: str) -> HTTPResponse:
        return json(CHECK_SESSION, headers=API_HEADERS)

    @app.get("/api/customer/<slug>/<code>/session-status/<session_id>")
    async def session_status(
        request: Request, slug: str, code: str, session_id: str
    ) -> HTTPResponse:
        return json(SESSION_STATUS, headers=API_HEADERS)

    @app.post("/api/customer/<slug>/<code>/session")
    async def start_session(request: Request, slug: str, code: str) -> HTTPResponse:
        try:
            body = msgspec.json.decode(request.body, type=SessionBody)
        except msgspec.DecodeError:
            return json({"success": False}, 400)
        session_id = new_id()
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ")
        # Autocommit: the INSERT is its own transaction, one trip to aiosqlite's thread.
        try:
            await app.ctx.db.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, 'pending', ?)",
                (session_id, code, body.customerName, started),
            )
        except sqlite3.IntegrityError:
            return json({"success": False}, 409)
        now = int(time.time())
        # The contract's customer token (CONTRACT.md, Tokens): a diner's id and the token's own
        # id are what let the device end one diner's tokens; a token without them answers a
        # different question.
        claims = {
            "sub": session_id,
            "role": "customer",
            "branch": BRANCH_ID,
            "table": code,
            "diner": new_id(),
            "jti": str(uuid_utils.uuid4()),
            "iat": now,
            "exp": now + 14400,
        }
        token = jws.encode(msgspec.json.encode(claims), SECRET, ALGORITHM)
        # The seed page's answer, with the fields of its example and no more.
        session = {
            "id": session_id,
            "table_id": code,
            "customer_name": body.customerName,
            "customer_phone": body.customerPhone,
            "status": "pending",
            "started_at": started,
        }
        data = {"session": session, "token": token, "sessionId": session_id}
        return json({"success": True, "data": data}, 201, headers=API_HEADERS)

    @app.post("/api/customer/orders")
    async def place_order(request: Request) -> HTTPResponse:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        try:
            claims = msgspec.json.decode(jws.decode(token, SECRET, [ALGORITHM]))
        except jwt.InvalidTokenError:
            return json({"success": False}, 401)
        if claims["exp"] <= time.time():
            return json({"success": False}, 401)
        try:
            lines = msgspec.json.decode(request.body, type=OrderBody).items
        except msgspec.DecodeError:
            return json({"success": False}, 400)
        order_id = new_id()
        rows = [(new_id(), line) for line in lines]
        async with app.ctx.write_lock:
            await app.ctx.db.execute("BEGIN IMMEDIATE")
            await app.ctx.db.execute(
                "INSERT INTO orders VALUES (?, ?, ?, ?)",
                (order_id, claims["sub"], 0, time.strftime("%Y-%m-%dT%H:%M:%SZ")),
            )
            await app.ctx.db.executemany(
                "INSERT INTO order_items VALUES (?, ?, ?, ?, ?)",
                [
                    (line_id, order_id, line.menuItemId, line.quantity, line.notes)
                    for line_id, line in rows
                ],
            )
            await app.ctx.db.executemany(
                "INSERT INTO order_item_modifiers VALUES (?, ?, ?)",
                [
                    (line_id, position, modifier_id)
                    for line_id, line in rows
                    for position, modifier_id in enumerate(line.modifiers)
                ],
            )
            await app.ctx.db.execute("COMMIT")
        data = {"id": order_id, "items": lines}
        return json({"success": True, "data": data}, 201, headers=API_HEADERS)

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--synchronous", choices=("FULL", "NORMAL"), default="FULL")
    args = parser.parse_args()
    create_app(args.db, args.synchronous).run(
        host="127.0.0.1", port=args.port, single_process=True, access_log=False, motd=False
    )


if __name__ == "__main__":
    main()
