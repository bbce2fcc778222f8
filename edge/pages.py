"""Diner and staff pages served by the device (issue #7)."""

from __future__ import annotations

from sanic import Blueprint

bp = Blueprint("pages")
