"""Table sessions: a diner asks for a table, staff approve, reject or end, pending ones expire.

Every change happens in one write transaction that also records its realtime event and, when the
session finishes, its upstream-sync outbox row; so a crash can separate none of them.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import Any, NamedTuple

from edge import orders, table_keys, table_service
from edge.clock import iso, now_iso
from edge.context import EdgeContext
from edge.errors import (
    Forbidden,
    InvalidSessionState,
    SessionEnded,
    SessionExpired,
    SessionNotActive,
    SessionNotFound,
    SessionPending,
    TableAlreadyActive,
)
from edge.ids import new_id
from edge.live import LiveSession
from edge.store import Row, Transaction, json_array
from sync import outbox

LIVE_STATUSES = ("pending", "active")
FINISHED_STATUSES = ("rejected", "completed")

SESSION_COLUMNS = (
    "id, branch_id, table_id, customer_name, customer_phone, status, reason, started_at,"
    " approved_at, ended_at, subtotal, tax, total"
)


class DinerInfo(NamedTuple):
    name: str
    phone: str | None = None
    email: str | None = None
    birth_date: str | None = None
    marketing_opt_in: bool = False


@dataclass(slots=True)
class TableRequest:
    """What a diner gets back from asking for a table; `token` is signed once it is committed."""

    session: Row | None
    diner_id: str | None
    existing: bool
    closed: bool = False
    token: str | None = None


def session_view(session: Row) -> dict[str, Any]:
    """A session as the API shows it (the seed's fields first, then ours)."""
    view = {
        "id": session["id"],
        "table_id": session["table_id"],
        "customer_name": session["customer_name"],
        "customer_phone": session["customer_phone"],
        "status": session["status"],
        "started_at": session["started_at"],
        "approved_at": session["approved_at"],
        "ended_at": session["ended_at"],
        "subtotal": session["subtotal"],
        "tax": session["tax"],
        "total": session["total"],
    }
    if session["reason"]:
        view["reason"] = session["reason"]
    return view


async def _live_session(tx: Transaction, table_id: str) -> Row | None:
    return await tx.fetch_one(
        f"SELECT {SESSION_COLUMNS} FROM sessions WHERE table_id = ? AND status IN (?, ?)",
        (table_id, *LIVE_STATUSES),
    )


async def _session(tx: Transaction, session_id: str) -> Row:
    row = await tx.fetch_one(f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?", (session_id,))
    if row is None:
        raise SessionNotFound()
    return row


def _overdue_cutoff(ctx: EdgeContext) -> str:
    """A pending request that started at or before this second is past the branch's TTL.
    Stamps are ISO seconds, which compare as text in time order."""
    return iso(time.time() - ctx.directory.settings.pending_ttl)


def _is_overdue(ctx: EdgeContext, started_at: str) -> bool:
    return started_at <= _overdue_cutoff(ctx)


async def _add_diner(tx: Transaction, session_id: str, diner: DinerInfo) -> str:
    diner_id = new_id()
    await tx.execute(
        "INSERT INTO diners (id, session_id, name, phone, email, birth_date, marketing_opt_in,"
        " joined_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            diner_id,
            session_id,
            diner.name,
            diner.phone,
            diner.email,
            diner.birth_date,
            int(diner.marketing_opt_in),
            now_iso(),
        ),
    )
    return diner_id


async def _record(ctx: EdgeContext, tx: Transaction, name: str, session: Row, **extra: Any) -> None:
    """Record a session's event; every status change passes here, so the live view follows."""
    tx.after_commit(
        lambda: ctx.live.update(
            session["id"],
            session["table_id"],
            session["status"],
            session["customer_name"],
            session["started_at"],
        )
    )
    table = ctx.directory.table_by_id(session["table_id"])
    await ctx.events.record(
        tx,
        name,
        branch_id=session["branch_id"],
        session_id=session["id"],
        table_id=session["table_id"],
        table_number=table["number"] if table else None,
        **extra,
    )


async def _finish(
    ctx: EdgeContext, tx: Transaction, session: Row, status: str, reason: str | None, by: str | None
) -> Row:
    """Move a session to a final status and queue it for upstream sync, in the same transaction."""
    await tx.execute(
        "UPDATE sessions SET status = ?, reason = ?, ended_at = ?, ended_by = ? WHERE id = ?",
        (status, reason, now_iso(), by, session["id"]),
    )
    await outbox.enqueue_session(tx, session["id"])
    return await _session(tx, session["id"])


async def _expire(ctx: EdgeContext, tx: Transaction, session: Row) -> Row:
    expired = await _finish(ctx, tx, session, "rejected", "expired", None)
    await _record(ctx, tx, "session:rejected", expired, reason="expired")
    return expired


async def _open(
    ctx: EdgeContext, tx: Transaction, branch: Row, table: Row, diner: DinerInfo
) -> TableRequest | None:
    """Open a new session on the table; None if the store says the table is taken."""
    status = "active" if ctx.directory.settings.auto_approve else "pending"
    started = now_iso()
    session: Row = {
        "id": new_id(),
        "branch_id": branch["id"],
        "table_id": table["id"],
        "customer_name": diner.name,
        "customer_phone": diner.phone,
        "status": status,
        "reason": None,
        "started_at": started,
        "approved_at": started if status == "active" else None,
        "ended_at": None,
        "subtotal": 0,
        "tax": 0,
        "total": 0,
    }
    try:
        await tx.execute(
            "INSERT INTO sessions (id, branch_id, table_id, customer_name, customer_phone,"
            " status, started_at, approved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                session["id"],
                branch["id"],
                table["id"],
                diner.name,
                diner.phone,
                status,
                started,
                session["approved_at"],
            ),
        )
    except sqlite3.IntegrityError:
        # The one-live-session index: the table was opened since we last looked.
        return None
    diner_id = await _add_diner(tx, session["id"], diner)
    if status == "pending":
        await _record(
            ctx, tx, "session:pending", session, customerName=diner.name, customerPhone=diner.phone
        )
    else:
        await _record(ctx, tx, "session:approved", session, autoApproved=True)
    return TableRequest(session, diner_id, existing=False)


async def request_table(
    ctx: EdgeContext,
    branch: Row,
    table: Row,
    diner: DinerInfo,
    table_key: str | None = None,
) -> TableRequest:
    """Open a session on a free table (as `edge.branch.BranchDirectory.table` found it), or join
    the table's active one (seed + contract rules).

    The in-memory view of live sessions answers the common cases without a read: a free table
    is opened straight away (the store's unique index settles any race), and a request on a
    table still waiting for approval is turned down before any transaction.
    """
    known = ctx.live.on_table(table["id"])
    if known is not None and known.status == "pending" and not _is_overdue(ctx, known.started_at):
        raise SessionPending()

    async def work(tx: Transaction) -> TableRequest:
        if known is None:
            opened = await _open(ctx, tx, branch, table, diner)
            if opened is not None:
                return opened
        live = await _live_session(tx, table["id"])
        if live is not None and live["status"] == "pending":
            if not _is_overdue(ctx, live["started_at"]):
                raise SessionPending()
            await _expire(ctx, tx, live)
            live = None
        if live is None:
            opened = await _open(ctx, tx, branch, table, diner)
            if opened is None:
                raise SessionPending()
            return opened
        policy = ctx.directory.settings.join_policy
        if policy == "closed":
            return TableRequest(live, None, existing=True, closed=True)
        if policy == "key":
            await table_keys.require_key(tx, table["id"], table_key)
        diner_id = await _add_diner(tx, live["id"], diner)
        await _record(ctx, tx, "session:joined", live, customerName=diner.name)
        return TableRequest(live, diner_id, existing=True)

    outcome = await ctx.store.transact(work)
    if outcome.session is None or outcome.diner_id is None:
        return outcome
    # Signed once committed rather than in the work: the work runs while the group holds the
    # write lock, and a signature there (a third of the work's time) held every diner queued
    # behind it; out here it overlaps the next group's fsync.
    outcome.token = ctx.tokens.issue_customer(
        outcome.session["id"], branch["id"], table["id"], outcome.diner_id
    )
    return outcome


async def table_status(ctx: EdgeContext, branch_slug: str, table_code: str) -> LiveSession | None:
    """The table's live session, if any (what `check-session` reports)."""
    _, table = await ctx.directory.table(branch_slug, table_code)
    return ctx.live.on_table(table["id"])


async def session_for_table(
    ctx: EdgeContext, branch_slug: str, table_code: str, session_id: str
) -> Row:
    """A session of this table (what `session-status` reports), from memory while live."""
    _, table = await ctx.directory.table(branch_slug, table_code)
    live = ctx.live.get(session_id)
    if live is not None:
        if live.table_id != table["id"]:
            raise SessionNotFound()
        return {
            "id": live.id,
            "status": live.status,
            "reason": None,
            "customer_name": live.customer_name,
        }
    row = await ctx.store.fetch_one(
        "SELECT id, status, reason, customer_name FROM sessions WHERE id = ? AND table_id = ?",
        (session_id, table["id"]),
    )
    if row is None:
        raise SessionNotFound()
    return row


async def get_session(ctx: EdgeContext, session_id: str) -> Row:
    row = await ctx.store.fetch_one(
        f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?", (session_id,)
    )
    if row is None:
        raise SessionNotFound()
    return row


def require_usable(session: Row, *, need_active: bool) -> None:
    """The rule for a diner's token: it lives while its session is live."""
    if session["status"] in FINISHED_STATUSES:
        raise SessionEnded()
    if need_active and session["status"] != "active":
        raise SessionNotActive()


async def approve(ctx: EdgeContext, staff_id: str, session_id: str) -> Row:
    async def work(tx: Transaction) -> tuple[Row, bool]:
        session = await _session(tx, session_id)
        if session["status"] == "active":
            raise TableAlreadyActive()
        if session["status"] == "rejected" and session["reason"] == "expired":
            raise SessionExpired()
        if session["status"] != "pending":
            raise InvalidSessionState("La sesion ya no esta pendiente")
        if _is_overdue(ctx, session["started_at"]):
            return await _expire(ctx, tx, session), False
        await tx.execute(
            "UPDATE sessions SET status = 'active', approved_at = ?, approved_by = ? WHERE id = ?",
            (now_iso(), staff_id, session_id),
        )
        approved = await _session(tx, session_id)
        await _record(ctx, tx, "session:approved", approved)
        return approved, True

    session, approved = await ctx.store.transact(work)
    if not approved:
        # The expiry is committed; only then does the waiter hear that it came too late.
        raise SessionExpired()
    return session


async def reject(ctx: EdgeContext, staff_id: str, session_id: str) -> Row:
    async def work(tx: Transaction) -> Row:
        session = await _session(tx, session_id)
        if session["status"] != "pending":
            raise InvalidSessionState("La sesion ya no esta pendiente")
        rejected = await _finish(ctx, tx, session, "rejected", "rejected", staff_id)
        await _record(ctx, tx, "session:rejected", rejected, reason="rejected")
        return rejected

    return await ctx.store.transact(work)


async def end(ctx: EdgeContext, staff_id: str, role: str, session_id: str, force: bool) -> Row:
    if force and role != "manager":
        raise Forbidden("Solo un gerente puede terminar una mesa con pedidos en curso")

    async def work(tx: Transaction) -> Row:
        session = await _session(tx, session_id)
        if session["status"] != "active":
            raise InvalidSessionState("Solo se puede terminar una sesion activa")
        await orders.close_session_orders(ctx, tx, session_id, force=force)
        await table_service.close_for_session(ctx, tx, session_id)
        ended = await _finish(ctx, tx, session, "completed", None, staff_id)
        await _record(ctx, tx, "session:ended", ended)
        return ended

    return await ctx.store.transact(work)


async def refresh_token(ctx: EdgeContext, session: Row, diner_id: str) -> str:
    require_usable(session, need_active=True)
    return ctx.tokens.issue_customer(
        session["id"], session["branch_id"], session["table_id"], diner_id
    )


async def expire_overdue(ctx: EdgeContext) -> int:
    """Turn pending sessions older than the branch's TTL into rejected/expired; returns how many.

    The overdue ones are found in the live view (`edge.live`), which holds every pending
    session, and read again in the transaction: no index on the store keeps them, which every
    created session paid an insert into (and every approval a delete) for a job that runs every
    few seconds and, on most runs, finds nothing."""
    cutoff = _overdue_cutoff(ctx)
    overdue_ids = [live.id for live in ctx.live.pending() if live.started_at <= cutoff]
    if not overdue_ids:
        return 0

    async def work(tx: Transaction) -> int:
        overdue = await tx.fetch_all(
            f"SELECT {SESSION_COLUMNS} FROM sessions WHERE status = 'pending'"
            " AND id IN (SELECT value FROM json_each(?))",
            (json_array(overdue_ids),),
        )
        for session in overdue:
            await _expire(ctx, tx, session)
        return len(overdue)

    return await ctx.store.transact(work)


async def pending_sessions(ctx: EdgeContext) -> list[dict[str, Any]]:
    """The requests waiting for staff, oldest first; which ones from the live view (see
    `expire_overdue`), what they are from the store."""
    rows = await ctx.store.fetch_all(
        "SELECT s.id, s.customer_name, s.customer_phone, s.started_at, s.table_id,"
        " t.number AS table_number FROM sessions s JOIN tables t ON t.id = s.table_id"
        " WHERE s.status = 'pending' AND s.id IN (SELECT value FROM json_each(?))"
        " ORDER BY s.started_at, t.number",
        (json_array(live.id for live in ctx.live.pending()),),
    )
    return rows


async def tables_overview(ctx: EdgeContext) -> list[dict[str, Any]]:
    tables = await ctx.store.fetch_all(
        "SELECT id, number, code, short_code FROM tables ORDER BY number"
    )
    live = await ctx.store.fetch_all(
        f"SELECT {SESSION_COLUMNS} FROM sessions WHERE status IN (?, ?)", LIVE_STATUSES
    )
    by_table = {row["table_id"]: row for row in live}
    # Who sits at each live table, first to last, so staff see who joined whom.
    diners: dict[str, list[Row]] = {}
    for row in await ctx.store.fetch_all(
        "SELECT d.id, d.session_id, d.name, d.joined_at FROM diners d"
        " JOIN sessions s ON s.id = d.session_id WHERE s.status IN (?, ?)"
        " ORDER BY d.joined_at, d.rowid",
        LIVE_STATUSES,
    ):
        session_id = row.pop("session_id")
        diners.setdefault(session_id, []).append(row)
    overview = []
    for table in tables:
        session = by_table.get(table["id"])
        view = None
        if session:
            view = {**session_view(session), "diners": diners.get(session["id"], [])}
        overview.append(
            {**table, "status": session["status"] if session else "free", "session": view}
        )
    return overview
