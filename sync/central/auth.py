"""Who may call what: devices present the device token, integrators the admin token.

Everything under `/_` (fault control, stored sessions, devices, the catalog and pictures an
integrator sets) needs the admin token; the device endpoints need the device token. Tokens are
compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging

from sanic import Request, Sanic
from sanic.response import HTTPResponse

from sync.central.responses import envelope_error

logger = logging.getLogger("restai.central")

ADMIN_PREFIX = "/_"


def bearer_matches(request: Request, token: str) -> bool:
    presented = request.headers.get("authorization", "").encode()
    return hmac.compare_digest(presented, f"Bearer {token}".encode())


def device_refusal(request: Request, device_token: str) -> HTTPResponse | None:
    """A 401 unless the request carries the device token."""
    if bearer_matches(request, device_token):
        return None
    logger.warning("%s %s: missing or invalid device token", request.method, request.path)
    return envelope_error(401, "UNAUTHORIZED", "Missing or invalid device token")


def guard_admin_paths(app: Sanic, admin_token: str) -> None:
    @app.on_request
    async def require_admin(request: Request) -> HTTPResponse | None:
        if not request.path.startswith(ADMIN_PREFIX) or bearer_matches(request, admin_token):
            return None
        logger.warning("%s %s: missing or invalid admin token", request.method, request.path)
        return envelope_error(401, "UNAUTHORIZED", "Missing or invalid admin token")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
