"""The development endpoints: health, fault control, counters, stored sessions, reset.

- `GET /healthz` → `{"status": "ok"}`
- `GET|POST /_control`: the fault mode (see `faults.FAULT_MODES`).
- `GET /_stats`: counters (sessions, requests, deliveries, batch sizes...) and a `request_log`
  with, per request, its time, the session ids it carried and the answer.
- `GET /_sessions`: stored sessions with their payloads.
- `POST /_reset`: wipe stored sessions and counters, and return to mode ok.
"""

from __future__ import annotations

import logging

from sanic import Request, Sanic
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from sync.central.faults import FaultState, parse_control
from sync.central.ingest import Stats
from sync.central.responses import BadRequest, bad_request, json_body

logger = logging.getLogger("restai.central")


def add_control(app: Sanic) -> None:
    @app.get("/healthz")
    async def healthz(request: Request) -> HTTPResponse:
        return json_response({"status": "ok"})

    @app.get("/_control")
    async def get_control(request: Request) -> HTTPResponse:
        return json_response(app.ctx.fault.as_dict())

    @app.post("/_control")
    async def set_control(request: Request) -> HTTPResponse:
        try:
            app.ctx.fault = parse_control(json_body(request.body))
        except BadRequest as exc:
            return bad_request(exc)
        logger.info(
            "Fault mode set to %s (times=%s, params=%s)",
            app.ctx.fault.mode,
            app.ctx.fault.remaining,
            app.ctx.fault.params,
        )
        return json_response(app.ctx.fault.as_dict())

    @app.post("/_reset")
    async def reset(request: Request) -> HTTPResponse:
        await app.ctx.store.reset()
        app.ctx.fault = FaultState()
        app.ctx.stats = Stats()
        logger.info("State reset")
        return json_response({"reset": True})

    @app.get("/_stats")
    async def stats(request: Request) -> HTTPResponse:
        deliveries = await app.ctx.store.deliveries()
        st: Stats = app.ctx.stats
        return json_response(
            {
                "sessions": len(deliveries),
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
        items = await app.ctx.store.sessions()
        return json_response({"count": len(items), "sessions": items})
