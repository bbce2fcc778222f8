"""Upstream sync state for staff (issue #6)."""

from __future__ import annotations

from sanic import Blueprint

bp = Blueprint("sync_status", url_prefix="/api")
