"""`POST /api/edge/v1/sessions`: finished table sessions from devices.

`Authorization: Bearer <device_token>` and `{"deviceId", "branchSlug", "sessions": [{"id", ...}]}`
→ 200 `{"success": true, "data": {"accepted": [ids]}}`. Sessions are de-duplicated by id: a resend
is accepted again but stored once (the first payload is kept, `receive_count` grows). A missing or
wrong token is a 401, a malformed body a 400, both in the error envelope.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
import uuid
from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from sync.central.auth import device_refusal
from sync.central.faults import answer_fault
from sync.central.responses import BadRequest, envelope_error
from sync.central.stats import Stats

logger = logging.getLogger("restai.central")

INGEST_PATH = "/api/edge/v1/sessions"


def validate_ingest_body(body: bytes) -> tuple[str, str, list[dict[str, Any]]]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("Body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("Body must be a JSON object")
    device_id = data.get("deviceId")
    if not isinstance(device_id, str) or not device_id.strip():
        raise BadRequest("'deviceId' must be a non-empty string")
    branch_slug = data.get("branchSlug")
    if not isinstance(branch_slug, str) or not branch_slug.strip():
        raise BadRequest("'branchSlug' must be a non-empty string")
    sessions = data.get("sessions")
    if not isinstance(sessions, list):
        raise BadRequest("'sessions' must be a list")
    for index, session in enumerate(sessions):
        if not isinstance(session, dict):
            raise BadRequest(f"sessions[{index}] must be an object")
        sid = session.get("id")
        if not isinstance(sid, str):
            raise BadRequest(f"sessions[{index}].id must be a UUID string")
        try:
            uuid.UUID(sid)
        except ValueError:
            raise BadRequest(f"sessions[{index}].id must be a UUID string") from None
    return device_id, branch_slug, sessions


def add_ingest(app: Sanic, device_token: str) -> None:
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

        mode, params = app.ctx.faults.take("sessions")
        entry["mode"] = mode

        def done(response: HTTPResponse, accepted: int = 0) -> HTTPResponse:
            entry["status"] = response.status
            entry["accepted"] = accepted
            return response

        if mode == "down":
            entry["status"] = None
            entry["accepted"] = 0
            logger.info("Request %d: fault 'down', aborting the connection", entry["n"])
        # The `slow` delay comes after storing, see below.
        if mode != "slow":
            injected = await answer_fault(request, mode, params)
            if injected is not None:
                return done(injected)

        refusal = device_refusal(request, device_token)
        if refusal is not None:
            return done(refusal)

        try:
            device_id, branch_slug, sessions = validate_ingest_body(request.body)
        except BadRequest as exc:
            logger.warning("Request %d: rejected, malformed body: %s", entry["n"], exc)
            return done(envelope_error(400, "BAD_REQUEST", str(exc)))

        if mode == "413" and len(sessions) > params["max_batch"]:
            return done(
                envelope_error(
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
        accepted = await app.ctx.store.store_sessions(
            device_id, branch_slug, sessions, app.ctx.clock.iso()
        )
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
