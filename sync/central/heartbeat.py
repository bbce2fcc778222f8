"""Device heartbeats, the list of devices an integrator sees, and the central's clock.

- `POST /api/edge/v1/heartbeat` (device token) `{"deviceId", "branchSlug", "version",
  "uptime_s", "queue_depth", "oldest_waiting", "catalog_version", "live_sessions",
  "disk_free_bytes", "clock"}` → 200 `{"success": true, "data": {"server_time"}}`.
- `GET /_devices` (admin token): every device with its last heartbeat, queue depth and clock
  skew (its clock minus the central's when the heartbeat arrived).
- `GET|PUT /_clock` (admin token) `{"offset": seconds}`: set the central's clock off, to see a
  device warn about clock skew without touching the machine's clock.
"""

from __future__ import annotations

import logging
from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from sync.central.auth import device_refusal
from sync.central.clock import parse_iso
from sync.central.faults import answer_fault
from sync.central.responses import BadRequest, bad_request, envelope_error, json_body
from sync.central.stats import Stats

logger = logging.getLogger("restai.central")

HEARTBEAT_PATH = "/api/edge/v1/heartbeat"
MAX_CLOCK_OFFSET = 10 * 365 * 86400.0


def validate_heartbeat(data: Any) -> tuple[str, str, float | None]:
    """The device id, branch slug and device clock (epoch) of a heartbeat body."""
    if not isinstance(data, dict):
        raise BadRequest("Body must be a JSON object")
    device_id, branch_slug = data.get("deviceId"), data.get("branchSlug")
    if not isinstance(device_id, str) or not device_id.strip():
        raise BadRequest("'deviceId' must be a non-empty string")
    if not isinstance(branch_slug, str) or not branch_slug.strip():
        raise BadRequest("'branchSlug' must be a non-empty string")
    clock = data.get("clock")
    if clock is None:
        return device_id, branch_slug, None
    when = parse_iso(clock) if isinstance(clock, str) else None
    if when is None:
        raise BadRequest("'clock' must be an ISO-8601 time with its zone")
    return device_id, branch_slug, when


def add_heartbeat(app: Sanic, device_token: str) -> None:
    @app.post(HEARTBEAT_PATH)
    async def heartbeat(request: Request) -> HTTPResponse:
        stats: Stats = app.ctx.stats
        entry = stats.note("heartbeat")
        mode, params = app.ctx.faults.take("heartbeat")
        entry["mode"] = mode
        answer = await answer_fault(request, mode, params) or device_refusal(request, device_token)
        if answer is None:
            answer = await _record(app, request)
        entry["status"] = answer.status
        return answer

    @app.get("/_devices")
    async def devices(request: Request) -> HTTPResponse:
        found = await app.ctx.store.devices()
        return json_response({"count": len(found), "devices": found})

    @app.get("/_clock")
    async def get_clock(request: Request) -> HTTPResponse:
        return json_response({"offset": app.ctx.clock.offset, "now": app.ctx.clock.iso()})

    @app.put("/_clock")
    async def set_clock(request: Request) -> HTTPResponse:
        try:
            data = json_body(request.body)
            offset = data.get("offset") if isinstance(data, dict) else None
            if isinstance(offset, bool) or not isinstance(offset, (int, float)):
                raise BadRequest("'offset' must be a number of seconds")
            if abs(offset) > MAX_CLOCK_OFFSET:
                raise BadRequest("'offset' is out of range")
        except BadRequest as exc:
            return bad_request(exc)
        app.ctx.clock.offset = float(offset)
        logger.info("Clock offset set to %+.1f s", app.ctx.clock.offset)
        return json_response({"offset": app.ctx.clock.offset, "now": app.ctx.clock.iso()})


async def _record(app: Sanic, request: Request) -> HTTPResponse:
    try:
        data = json_body(request.body)
        device_id, branch_slug, device_clock = validate_heartbeat(data)
    except BadRequest as exc:
        logger.warning("Heartbeat rejected: %s", exc)
        return envelope_error(400, "BAD_REQUEST", str(exc))
    now = app.ctx.clock.now()
    skew = None if device_clock is None else round(device_clock - now, 1)
    await app.ctx.store.record_heartbeat(device_id, branch_slug, data, skew, app.ctx.clock.iso())
    return json_response({"success": True, "data": {"server_time": app.ctx.clock.iso()}})
