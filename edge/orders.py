"""Orders of a table session (menu and ordering arrive with issue #4)."""

from __future__ import annotations

from typing import Any

from edge.store import Transaction


async def close_session_orders(tx: Transaction, session_id: str, *, force: bool) -> None:
    """Settle a session's orders as it ends: refuse open ones unless forced."""


async def orders_for_record(tx: Transaction, session_id: str) -> list[dict[str, Any]]:
    """The session's orders as the upstream record carries them."""
    return []
