"""The error envelope and the body parsing every endpoint of the central shares."""

from __future__ import annotations

import json
from typing import Any

from sanic.response import HTTPResponse
from sanic.response import json as json_response

STATUS_CODES = {
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


class BadRequest(Exception):
    """A request body that fails validation; becomes a 400 envelope."""


def envelope_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> HTTPResponse:
    return json_response(
        {"success": False, "error": {"code": code, "message": message}},
        status=status,
        headers=headers,
    )


def bad_request(exc: BadRequest) -> HTTPResponse:
    return envelope_error(400, "BAD_REQUEST", str(exc))


def json_body(body: bytes | None) -> Any:
    """The decoded JSON body (an empty body is `null`); BadRequest when it is not JSON."""
    try:
        return json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("Body is not valid JSON") from None
