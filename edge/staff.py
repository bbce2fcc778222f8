"""Staff members and their PIN login.

Staff log in with a PIN alone, so a PIN must identify one person: `pin_lookup` (an HMAC under a
device key kept outside the database) finds them in one indexed query and keeps PINs unique;
`pin_hash` (scrypt, per-staff salt) is what the PIN is verified against. A leaked database or
backup without the key file reveals neither.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
import sqlite3
import uuid
from dataclasses import dataclass
from typing import Any

from edge.clock import now_iso
from edge.context import EdgeContext
from edge.errors import InvalidCredentials, RateLimited
from edge.store import Row, Store, Transaction
from edge.tokens import STAFF_ROLES

PIN_PATTERN = re.compile(r"[0-9]{4,8}")
# scrypt cost: ~15 ms per check here, slow enough to make an offline guess of every PIN costly.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


class StaffError(ValueError):
    """A staff change that cannot be made; the message is for the installer's terminal."""


PIN_IN_USE = "that PIN is already in use; each staff member needs their own"


@dataclass(frozen=True)
class LoginResult:
    token: str
    staff: dict[str, Any]
    branch: dict[str, Any]


def check_pin(pin: str) -> str:
    if not PIN_PATTERN.fullmatch(pin):
        raise StaffError("a PIN is 4 to 8 digits")
    return pin


def pin_lookup(pin_key: str, pin: str) -> str:
    return hmac.new(pin_key.encode(), pin.encode(), hashlib.sha256).hexdigest()


def hash_pin(pin: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    encoded = [base64.b64encode(part).decode() for part in (salt, digest)]
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encoded[0]}${encoded[1]}"


def verify_pin(pin: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            pin.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p)
        )
    except ValueError:
        return False
    return hmac.compare_digest(expected, actual)


async def add_staff(store: Store, pin_key: str, name: str, role: str, pin: str) -> Row:
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise StaffError("a staff name is 1 to 100 characters")
    if role not in STAFF_ROLES:
        raise StaffError(f"role must be one of: {', '.join(STAFF_ROLES)}")
    check_pin(pin)
    hashed = await asyncio.to_thread(hash_pin, pin)
    staff_id = str(uuid.uuid4())

    async def work(tx: Transaction) -> Row:
        branch_id = await tx.fetch_value("SELECT id FROM branch")
        if branch_id is None:
            raise StaffError("the device is not provisioned: run 'restai-edge provision' first")
        try:
            await tx.execute(
                "INSERT INTO staff (id, branch_id, name, role, pin_lookup, pin_hash, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (staff_id, branch_id, name, role, pin_lookup(pin_key, pin), hashed, now_iso()),
            )
        except sqlite3.IntegrityError:
            raise StaffError(
                "that PIN is already in use; each staff member needs their own"
            ) from None
        return {"id": staff_id, "name": name, "role": role}

    return await store.transact(work)


async def list_staff(store: Store) -> list[Row]:
    return await store.fetch_all("SELECT id, name, role, created_at FROM staff ORDER BY name, id")


async def _one_staff_id(tx: Transaction, who: str) -> str:
    """Find a staff member by id or by exact (unique) name."""
    rows = await tx.fetch_all("SELECT id FROM staff WHERE id = ? OR name = ?", (who, who))
    if not rows:
        raise StaffError(f"no staff member with id or name {who!r}")
    if len(rows) > 1:
        raise StaffError(f"several staff members are named {who!r}: use the id")
    return str(rows[0]["id"])


async def remove_staff(store: Store, who: str) -> str:
    async def work(tx: Transaction) -> str:
        staff_id = await _one_staff_id(tx, who)
        await tx.execute("DELETE FROM staff WHERE id = ?", (staff_id,))
        return staff_id

    return await store.transact(work)


async def set_pin(store: Store, pin_key: str, who: str, pin: str) -> str:
    check_pin(pin)
    hashed = await asyncio.to_thread(hash_pin, pin)

    async def work(tx: Transaction) -> str:
        staff_id = await _one_staff_id(tx, who)
        try:
            await tx.execute(
                "UPDATE staff SET pin_lookup = ?, pin_hash = ? WHERE id = ?",
                (pin_lookup(pin_key, pin), hashed, staff_id),
            )
        except sqlite3.IntegrityError:
            raise StaffError(
                "that PIN is already in use; each staff member needs their own"
            ) from None
        return staff_id

    return await store.transact(work)


async def login(ctx: EdgeContext, pin: str, client: str) -> LoginResult:
    """Check a PIN; five wrong ones from one address lock that address out for five minutes."""
    wait = ctx.login_lockout.retry_after(client)
    if wait:
        raise RateLimited(wait)
    row = await ctx.store.fetch_one(
        "SELECT s.id, s.name, s.role, s.pin_hash, b.id AS branch_id, b.slug, b.name AS branch_name"
        " FROM staff s JOIN branch b ON b.id = s.branch_id WHERE s.pin_lookup = ?",
        (pin_lookup(ctx.pin_key, pin),),
    )
    if row is None or not await asyncio.to_thread(verify_pin, pin, row["pin_hash"]):
        ctx.login_lockout.fail(client)
        raise InvalidCredentials()
    token = ctx.tokens.issue_staff(row["id"], row["role"], row["branch_id"])
    return LoginResult(
        token=token,
        staff={"id": row["id"], "name": row["name"], "role": row["role"]},
        branch={"id": row["branch_id"], "slug": row["slug"], "name": row["branch_name"]},
    )
