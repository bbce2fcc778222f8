"""Fault injection: how the central misbehaves on purpose, as set through `POST /_control`.

Each endpoint family (`target`) has a fault state of its own, so a test can break the catalog
while sessions still upload:

- `sessions` (the default target, `POST /api/edge/v1/sessions`), `catalog`
  (`GET /api/edge/v1/catalog`), `heartbeat` (`POST /api/edge/v1/heartbeat`), `media`
  (`GET /media/<name>`, the pictures a catalog names).
- Any target: `ok`, `500`, `401`, `403`, `404` / `501` (the central does not offer it), `429`
  (with `retry_after`), `slow` (answer after `delay` seconds), `garbage` (a 200 that is HTML),
  `down` (the connection is dropped before any answer).
- `sessions` only: `413` (batches above `max_batch`), `partial` (acknowledge `accept` sessions).
- `catalog` and `media` only, faults of the body itself: `cut` (the headers promise the whole
  body, half of it is sent, then the connection drops), `trickle` (the body in `chunks` pieces
  spread over `delay` seconds), `chunked` (no Content-Length: the body's size is known only by
  reading it).

`times` makes a fault last that many requests, then the target is back to `ok`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from sanic import Request
from sanic.response import HTTPResponse, raw

from sync.central.responses import BadRequest, envelope_error

TARGETS = ("sessions", "catalog", "heartbeat", "media")
COMMON_MODES = ("ok", "500", "401", "403", "404", "501", "429", "slow", "garbage", "down")
BODY_MODES = ("cut", "trickle", "chunked")
MODES: dict[str, tuple[str, ...]] = {
    "sessions": (*COMMON_MODES, "413", "partial"),
    "catalog": (*COMMON_MODES, *BODY_MODES),
    "heartbeat": COMMON_MODES,
    "media": (*COMMON_MODES, *BODY_MODES),
}
# The ingest's modes, in the order the README lists them.
FAULT_MODES = MODES["sessions"]

DEFAULT_SLOW_DELAY = 30.0
MAX_SLOW_DELAY = 3600.0
DEFAULT_TRICKLE_DELAY = 10.0
DEFAULT_TRICKLE_CHUNKS = 20
DEFAULT_MAX_BATCH = 10
DEFAULT_RETRY_AFTER = 1
GARBAGE_BODY = b"<html><body><h1>502 Bad Gateway</h1>upstream says hi</body></html>"
# Streamed bodies go out in pieces of this size, so a large one is never copied whole.
STREAM_PIECE = 256 * 1024


@dataclass
class FaultState:
    mode: str = "ok"
    remaining: int | None = None  # None = until changed
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "times": self.remaining, "params": dict(self.params)}

    def take(self) -> tuple[str, dict[str, Any]]:
        """Return the fault for the current request and consume one use."""
        mode, params = self.mode, dict(self.params)
        if self.mode != "ok" and self.remaining is not None:
            self.remaining -= 1
            if self.remaining <= 0:
                self.mode, self.remaining, self.params = "ok", None, {}
        return mode, params


class Faults:
    """The fault state of every target."""

    def __init__(self) -> None:
        self.by_target = {target: FaultState() for target in TARGETS}

    def take(self, target: str) -> tuple[str, dict[str, Any]]:
        return self.by_target[target].take()

    def as_dict(self) -> dict[str, Any]:
        return {target: state.as_dict() for target, state in self.by_target.items()}


def parse_target(value: Any) -> str:
    target = "sessions" if value is None else value
    if target not in TARGETS:
        raise BadRequest(f"'target' must be one of {', '.join(TARGETS)}")
    return str(target)


def parse_control(data: Any) -> tuple[str, FaultState]:
    """Validate a /_control body; the target it names and its new fault state."""
    if not isinstance(data, dict):
        raise BadRequest("Body must be a JSON object")
    target = parse_target(data.get("target"))
    mode = data.get("mode")
    if isinstance(mode, int) and not isinstance(mode, bool):
        mode = str(mode)
    if mode not in MODES[target]:
        raise BadRequest(f"'mode' for {target} must be one of {', '.join(MODES[target])}")

    times = data.get("times")
    if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 1):
        raise BadRequest("'times' must be a positive integer or null")

    def number(name: str, default: float, minimum: float, maximum: float | None = None) -> float:
        value = data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadRequest(f"'{name}' must be a number")
        if value < minimum or (maximum is not None and value > maximum):
            raise BadRequest(f"'{name}' is out of range")
        return value

    def integer(name: str, default: int | None, minimum: int) -> int | None:
        value = data.get(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise BadRequest(f"'{name}' must be an integer >= {minimum}")
        return value

    params: dict[str, Any] = {}
    if mode == "slow":
        params["delay"] = number("delay", DEFAULT_SLOW_DELAY, 0, MAX_SLOW_DELAY)
    elif mode == "trickle":
        params["delay"] = number("delay", DEFAULT_TRICKLE_DELAY, 0, MAX_SLOW_DELAY)
        params["chunks"] = integer("chunks", DEFAULT_TRICKLE_CHUNKS, 1)
    elif mode == "413":
        params["max_batch"] = integer("max_batch", DEFAULT_MAX_BATCH, 0)
    elif mode == "429":
        params["retry_after"] = integer("retry_after", DEFAULT_RETRY_AFTER, 0)
    elif mode == "partial":
        params["accept"] = integer("accept", None, 0)  # None = half, rounded up

    if mode == "ok":
        return target, FaultState()
    return target, FaultState(mode=mode, remaining=times, params=params)


async def drop_connection(request: Request) -> HTTPResponse:
    """Abort the connection; the handler never answers."""
    # Sanic types request.transport as its TransportProtocol; at run time it is the
    # asyncio/uvloop transport, which has abort().
    transport: Any = request.transport
    transport.abort()
    # connection_lost() cancels this handler task; the sleep is only a fallback so the
    # handler never returns a response on its own.
    await asyncio.sleep(5)
    return raw(b"", status=500)


async def answer_fault(request: Request, mode: str, params: dict[str, Any]) -> HTTPResponse | None:
    """The answer for a fault every target shares, or None to go on (`ok`, `slow` after its
    delay, and the modes an endpoint handles itself)."""
    if mode == "down":
        return await drop_connection(request)
    if mode == "slow":
        await asyncio.sleep(params["delay"])
        return None
    if mode == "500":
        return envelope_error(500, "INTERNAL_ERROR", "Injected fault: internal error")
    if mode == "501":
        return envelope_error(501, "NOT_IMPLEMENTED", "Injected fault: not implemented")
    if mode == "401":
        return envelope_error(401, "UNAUTHORIZED", "Injected fault: unauthorized")
    if mode == "403":
        return envelope_error(403, "FORBIDDEN", "Injected fault: forbidden")
    if mode == "404":
        return envelope_error(404, "NOT_FOUND", "Injected fault: not found")
    if mode == "429":
        return envelope_error(
            429,
            "RATE_LIMITED",
            "Injected fault: too many requests",
            headers={"Retry-After": str(params["retry_after"])},
        )
    if mode == "garbage":
        return raw(GARBAGE_BODY, status=200, content_type="text/html; charset=utf-8")
    return None


async def send_body(
    request: Request,
    body: bytes,
    content_type: str,
    headers: dict[str, str],
    mode: str,
    params: dict[str, Any],
) -> HTTPResponse | None:
    """Send a 200 with `body`, as the body faults (`cut`, `trickle`, `chunked`) shape it.

    Streams it from here (the handler then returns None): a large body goes out in pieces.
    """
    length = len(body)
    out = dict(headers)
    if mode != "chunked":
        out["content-length"] = str(length)
    response = await request.respond(status=200, headers=out, content_type=content_type)
    if mode == "cut":
        await response.send(body[: length // 2])
        await drop_connection(request)
        return None
    if mode == "trickle":
        pieces = params["chunks"]
        size = max(1, -(-length // pieces))
        for start in range(0, length, size):
            await asyncio.sleep(params["delay"] / pieces)
            await response.send(body[start : start + size])
    else:
        view = memoryview(body)
        for start in range(0, length, STREAM_PIECE):
            await response.send(bytes(view[start : start + STREAM_PIECE]))
    await response.eof()
    return None
