"""Staff members and their PIN login.

Staff log in with a PIN alone, so a PIN must identify one person: `pin_lookup` (an HMAC under a
device key kept outside the database, `pin.key`) finds them in one indexed query and keeps PINs
unique; `pin_hash` is what the PIN is verified against: scrypt with a per-staff salt, sealed
with an HMAC under the same key. Without the key file, a stolen database or backup gives no way
to test a guess offline, however short the PIN: both columns need the key to check one.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from edge.clock import now_iso
from edge.context import EdgeContext
from edge.errors import InvalidCredentials, RateLimited
from edge.ids import new_id
from edge.store import Row, Store, Transaction
from edge.tokens import STAFF_ROLES, StaffClaims

PIN_PATTERN = re.compile(r"[0-9]{4,8}")
# scrypt cost: ~15 ms per check here, slow enough to make an offline guess of every PIN costly
# even for someone who also stole the key.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
# Stored verifier schemes: scrypt sealed with an HMAC under pin.key, and the unsealed one that
# devices wrote before (sealed at the next start, see `seal_pin_hashes`).
SEALED = "scrypt-hmac"
LEGACY = "scrypt"


class StaffError(ValueError):
    """A staff change that cannot be made; the message is for the installer's terminal."""


PIN_IN_USE = "that PIN is already in use; each staff member needs their own"


@dataclass(frozen=True)
class LoginResult:
    token: str
    staff: dict[str, Any]
    branch: dict[str, Any]


def check_pin(pin: str) -> str:
    """A PIN fit to be given to someone: 4 to 8 digits, and not one a thief tries first."""
    if not PIN_PATTERN.fullmatch(pin):
        raise StaffError("a PIN is 4 to 8 digits")
    if is_trivial_pin(pin):
        raise StaffError(
            "that PIN is too easy to guess (one digit repeated, or a straight run such as 1234"
            " or 9876): choose another"
        )
    return pin


def is_trivial_pin(pin: str) -> bool:
    """All one digit, or each digit one more (or one less) than the one before, wrapping 9-0."""
    steps = {(int(b) - int(a)) % 10 for a, b in zip(pin, pin[1:], strict=False)}
    return steps in ({0}, {1}, {9})


def pin_lookup(pin_key: str, pin: str) -> str:
    return hmac.new(pin_key.encode(), pin.encode(), hashlib.sha256).hexdigest()


def _seal(pin_key: str, digest: bytes) -> bytes:
    # A domain prefix keeps this HMAC apart from `pin_lookup`, which uses the same key.
    return hmac.new(pin_key.encode(), b"pin-verifier\0" + digest, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def hash_pin(pin: str, pin_key: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return f"{SEALED}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(_seal(pin_key, digest))}"


def verify_pin(pin: str, stored: str, pin_key: str) -> bool:
    try:
        scheme, n, r, p, salt, sealed = stored.split("$")
        if scheme != SEALED:
            return False
        expected = base64.b64decode(sealed)
        digest = hashlib.scrypt(
            pin.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p)
        )
    except ValueError:
        return False
    return hmac.compare_digest(expected, _seal(pin_key, digest))


async def seal_pin_hashes(store: Store, pin_key: str) -> int:
    """Seal verifiers stored before they were keyed (`scrypt$...`, testable offline by anyone
    holding the database), without anyone typing their PIN again: the seal covers the scrypt
    digest, which the old row holds. Runs where the key is: at `serve` start and in `staff`
    commands. Returns how many rows it sealed."""

    async def work(tx: Transaction) -> int:
        rows = await tx.fetch_all(
            "SELECT id, pin_hash FROM staff WHERE pin_hash LIKE ?", (f"{LEGACY}$%",)
        )
        for row in rows:
            _, n, r, p, salt, digest = row["pin_hash"].split("$")
            sealed = _b64(_seal(pin_key, base64.b64decode(digest)))
            await tx.execute(
                "UPDATE staff SET pin_hash = ? WHERE id = ?",
                (f"{SEALED}${n}${r}${p}${salt}${sealed}", row["id"]),
            )
        return len(rows)

    return await store.transact(work)


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not 1 <= len(name) <= 100:
        raise StaffError("a staff name is 1 to 100 characters")
    return name


async def add_staff(store: Store, pin_key: str, name: str, role: str, pin: str) -> Row:
    name = _clean_name(name)
    _check_role(role)
    check_pin(pin)
    hashed = await asyncio.to_thread(hash_pin, pin, pin_key)
    staff_id = new_id()

    async def work(tx: Transaction) -> Row:
        branch_id = await tx.fetch_value("SELECT id FROM branch")
        if branch_id is None:
            raise StaffError("the device is not provisioned: run 'restai-edge provision' first")
        # Names are how people pick a colleague on the CLI and the staff page: one per person.
        names = await tx.fetch_all("SELECT name FROM staff")
        if any(row["name"].casefold() == name.casefold() for row in names):
            raise StaffError(
                f"a staff member named {name!r} already exists: give the new one a name that"
                " tells them apart (e.g. with a surname)"
            )
        try:
            await tx.execute(
                "INSERT INTO staff (id, branch_id, name, role, pin_lookup, pin_hash, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (staff_id, branch_id, name, role, pin_lookup(pin_key, pin), hashed, now_iso()),
            )
        except sqlite3.IntegrityError:
            raise StaffError(PIN_IN_USE) from None
        return {"id": staff_id, "name": name, "role": role}

    return await store.transact(work)


def _check_role(role: str) -> None:
    if role not in STAFF_ROLES:
        raise StaffError(f"role must be one of: {', '.join(STAFF_ROLES)}")


async def list_staff(store: Store) -> list[Row]:
    return await store.fetch_all("SELECT id, name, role, created_at FROM staff ORDER BY name, id")


async def _one_staff_id(tx: Transaction, who: str) -> str:
    """Find a staff member by id or by exact name (names are unique since they are checked at
    `add`; a device that has two of one name from before needs the id)."""
    rows = await tx.fetch_all("SELECT id FROM staff WHERE id = ? OR name = ?", (who, who))
    if not rows:
        raise StaffError(f"no staff member with id or name {who!r}")
    if len(rows) > 1:
        raise StaffError(
            f"several staff members are named {who!r}: use the id ('restai-edge staff list'"
            " shows them)"
        )
    return str(rows[0]["id"])


async def remove_staff(store: Store, who: str) -> str:
    """Remove a staff member; their tokens stop working at once (checked on every request) and
    their open sockets are dropped within seconds by the serving process."""

    async def work(tx: Transaction) -> str:
        staff_id = await _one_staff_id(tx, who)
        await tx.execute("DELETE FROM staff WHERE id = ?", (staff_id,))
        return staff_id

    return await store.transact(work)


async def set_pin(store: Store, pin_key: str, who: str, pin: str) -> str:
    """Change a PIN; every token issued under the old one stops working."""
    check_pin(pin)
    hashed = await asyncio.to_thread(hash_pin, pin, pin_key)

    async def work(tx: Transaction) -> str:
        staff_id = await _one_staff_id(tx, who)
        try:
            await tx.execute(
                "UPDATE staff SET pin_lookup = ?, pin_hash = ?, auth_version = auth_version + 1"
                " WHERE id = ?",
                (pin_lookup(pin_key, pin), hashed, staff_id),
            )
        except sqlite3.IntegrityError:
            raise StaffError(PIN_IN_USE) from None
        return staff_id

    return await store.transact(work)


async def set_role(store: Store, who: str, role: str) -> str:
    """Change a role; every token issued under the old one stops working."""
    _check_role(role)

    async def work(tx: Transaction) -> str:
        staff_id = await _one_staff_id(tx, who)
        await tx.execute(
            "UPDATE staff SET role = ?, auth_version = auth_version + 1 WHERE id = ? AND role != ?",
            (role, staff_id, role),
        )
        return staff_id

    return await store.transact(work)


async def login(ctx: EdgeContext, pin: str, client: str) -> LoginResult:
    """Check a PIN; five wrong ones from one address lock that address out for five minutes.

    The attempt is counted before the first await, so a burst of guesses sent at once meets
    the same limit as guesses sent one by one.
    """
    wait = ctx.login_lockout.reserve(client)
    if wait:
        raise RateLimited(wait)
    try:
        row = await ctx.store.fetch_one(
            "SELECT s.id, s.name, s.role, s.pin_hash, s.auth_version, b.id AS branch_id, b.slug,"
            " b.name AS branch_name FROM staff s JOIN branch b ON b.id = s.branch_id"
            " WHERE s.pin_lookup = ?",
            (pin_lookup(ctx.pin_key, pin),),
        )
        right = row is not None and await asyncio.to_thread(
            verify_pin, pin, row["pin_hash"], ctx.pin_key
        )
    except BaseException:
        # Not a wrong PIN: the check itself did not finish (store error, cancelled request).
        ctx.login_lockout.succeed(client)
        raise
    if not right or row is None:
        ctx.login_lockout.fail(client)
        raise InvalidCredentials()
    ctx.login_lockout.succeed(client)
    token = ctx.tokens.issue_staff(row["id"], row["role"], row["branch_id"], row["auth_version"])
    return LoginResult(
        token=token,
        staff={"id": row["id"], "name": row["name"], "role": row["role"]},
        branch={"id": row["branch_id"], "slug": row["slug"], "name": row["branch_name"]},
    )


async def logout(ctx: EdgeContext, claims: StaffClaims) -> None:
    """End this one token (the staff member's other tablets stay logged in)."""

    async def work(tx: Transaction) -> None:
        # Revoked tokens past their expiry would be refused anyway: no need to keep them.
        await tx.execute("DELETE FROM revoked_tokens WHERE expires_at < ?", (time.time(),))
        await tx.execute(
            "INSERT OR IGNORE INTO revoked_tokens (jti, expires_at) VALUES (?, ?)",
            (claims.jti, claims.expires_at),
        )

    await ctx.store.transact(work)
