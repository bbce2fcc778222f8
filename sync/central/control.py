"""The development endpoints: health, fault control, counters, stored sessions, reset.

All but `/healthz` need the admin token.

- `GET /healthz` → `{"status": "ok"}`
- `POST /_control` `{"target"?, "mode", "times"?, ...}`: set a target's fault (see `faults`);
  `GET /_control[?target=T]`: the current one.
- `GET /_stats`: counters (sessions, requests, deliveries, batch sizes...), the ingest's
  `request_log` (per request: its time, the session ids it carried, the answer) and `endpoints`,
  the same per request for the catalog, heartbeat and media endpoints.
- `GET /_sessions`: stored sessions with their payloads.
- `POST /_reset`: wipe everything stored (sessions, devices, catalog, pictures) and the counters,
  and return every target to `ok` and the clock to true time.
"""

from __future__ import annotations

import logging

from sanic import Request, Sanic
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from sync.central.clock import Clock
from sync.central.faults import Faults, parse_control, parse_target
from sync.central.responses import BadRequest, bad_request, json_body
from sync.central.stats import Stats

logger = logging.getLogger("restai.central")


def add_control(app: Sanic) -> None:
    @app.get("/healthz")
    async def healthz(request: Request) -> HTTPResponse:
        return json_response({"status": "ok"})

    @app.get("/_control")
    async def get_control(request: Request) -> HTTPResponse:
        try:
            target = parse_target(request.args.get("target"))
        except BadRequest as exc:
            return bad_request(exc)
        return json_response(app.ctx.faults.by_target[target].as_dict())

    @app.post("/_control")
    async def set_control(request: Request) -> HTTPResponse:
        try:
            target, state = parse_control(json_body(request.body))
        except BadRequest as exc:
            return bad_request(exc)
        app.ctx.faults.by_target[target] = state
        logger.info(
            "Fault for %s set to %s (times=%s, params=%s)",
            target,
            state.mode,
            state.remaining,
            state.params,
        )
        return json_response(state.as_dict())

    @app.post("/_reset")
    async def reset(request: Request) -> HTTPResponse:
        await app.ctx.store.reset()
        app.ctx.faults = Faults()
        app.ctx.stats = Stats()
        app.ctx.clock = Clock()
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
                "endpoints": {name: list(log) for name, log in st.endpoints.items()},
                "fault": app.ctx.faults.by_target["sessions"].as_dict(),
                "faults": app.ctx.faults.as_dict(),
            }
        )

    @app.get("/_sessions")
    async def list_sessions(request: Request) -> HTTPResponse:
        items = await app.ctx.store.sessions()
        return json_response({"count": len(items), "sessions": items})
