"""Setting a device up for its branch: the branch row, its tables and the device's secrets.

Provisioning is idempotent: running it again may rename the branch, change URLs or add tables,
but never drops, renumbers or re-keys a table, because table QR codes (which carry the key) are
already printed and stuck on.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from edge.branch import SHORT_CODE_ALPHABET, SLUG_MAX, SLUG_PATTERN
from edge.clock import now_iso
from edge.file_modes import check_data_dir
from edge.ids import new_id
from edge.secret_files import (
    DEVICE_ID,
    DEVICE_TOKEN,
    JWT_SECRET,
    PIN_KEY,
    ensure_secret,
    read_secret,
    write_secret,
)
from edge.staff import add_staff
from edge.store import Store, Transaction
from edge.table_keys import new_key

MAX_TABLES = 10_000
DEFAULT_BASE_URL = "https://app.restai.com"
CURRENCY_PATTERN = re.compile(r"[A-Z]{3}")


class ProvisionError(ValueError):
    """A provisioning request that cannot be carried out; the message names the problem."""


@dataclass(frozen=True)
class ProvisionRequest:
    branch_slug: str
    branch_name: str | None = None
    tables: int | None = None
    base_url: str | None = None
    central_url: str | None = None
    device_token: str | None = None
    currency: str | None = None
    tax_rate: int | None = None


@dataclass(frozen=True)
class ProvisionSummary:
    branch_id: str
    branch_slug: str
    branch_name: str
    tables: int
    tables_added: int
    base_url: str
    central_url: str | None
    created: bool
    device_id: str


def check_url(value: str, flag: str) -> str:
    parts = urlsplit(value)
    try:
        port_ok = parts.port != 0  # urlsplit raises on a port that is not a number to 65535
    except ValueError:
        port_ok = False
    if not port_ok:
        raise ProvisionError(f"{flag} has an invalid port, got {value!r}")
    if (
        parts.scheme not in {"http", "https"}
        or not parts.hostname
        or any(ch.isspace() for ch in value)
    ):
        raise ProvisionError(f"{flag} must be an absolute http(s) URL, got {value!r}")
    if parts.query or parts.fragment:
        raise ProvisionError(f"{flag} must not have a query or fragment, got {value!r}")
    return value.rstrip("/")


def validate(request: ProvisionRequest, max_tables: int = MAX_TABLES) -> ProvisionRequest:
    """Check every field before anything touches the disk. `max_tables` is a branch's limit;
    only the write benchmark asks for more (a fresh table per created session)."""
    slug = request.branch_slug
    if len(slug) > SLUG_MAX or not SLUG_PATTERN.fullmatch(slug):
        raise ProvisionError(
            f"--branch-slug {slug!r} must be lowercase letters and digits separated by single"
            f" hyphens, at most {SLUG_MAX} characters (e.g. downtown-lima)"
        )
    name = request.branch_name
    if name is not None:
        name = " ".join(name.split())
        if not 1 <= len(name) <= 100:
            raise ProvisionError("--branch-name must be 1 to 100 characters")
    if request.tables is not None and not 1 <= request.tables <= max_tables:
        raise ProvisionError(f"--tables must be between 1 and {max_tables}, got {request.tables}")
    # `is not None`, not truthiness: an empty flag is a mistake to report, not a flag left out.
    base_url = None if request.base_url is None else check_url(request.base_url, "--base-url")
    central_url = (
        None if request.central_url is None else check_url(request.central_url, "--central-url")
    )
    if (request.central_url is None) != (request.device_token is None):
        raise ProvisionError("--central-url and --device-token go together: give both or neither")
    token = request.device_token
    if token is not None and (len(token) < 16 or any(ch.isspace() for ch in token)):
        raise ProvisionError("--device-token must be at least 16 characters with no spaces")
    currency = request.currency
    if currency is not None and not CURRENCY_PATTERN.fullmatch(currency):
        raise ProvisionError(f"--currency must be an ISO 4217 code like PEN, got {currency!r}")
    if request.tax_rate is not None and not 0 <= request.tax_rate <= 10000:
        raise ProvisionError("--tax-rate is in hundredths of a percent, 0 to 10000 (1800 = 18%)")
    return ProvisionRequest(
        slug, name, request.tables, base_url, central_url, token, currency, request.tax_rate
    )


def _short_code() -> str:
    return "".join(secrets.choice(SHORT_CODE_ALPHABET) for _ in range(5))


async def _add_tables(tx: Transaction, branch_id: str, slug: str, first: int, last: int) -> None:
    taken = {row["short_code"] for row in await tx.fetch_all("SELECT short_code FROM tables")}
    rows = []
    created = now_iso()
    for number in range(first, last + 1):
        code = _short_code()
        while code in taken:
            code = _short_code()
        taken.add(code)
        rows.append((new_id(), branch_id, number, f"{slug}-{number}", code, new_key(), created))
    await tx.executemany(
        "INSERT INTO tables (id, branch_id, number, code, short_code, table_key, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


async def provision(
    data_dir: Path, request: ProvisionRequest, max_tables: int = MAX_TABLES
) -> ProvisionSummary:
    request = validate(request, max_tables)
    store = Store(data_dir / "edge.db", create=True)
    if not (data_dir / "edge.db").exists() and (request.branch_name is None or not request.tables):
        raise ProvisionError("a new device needs --branch-name and --tables")
    try:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ProvisionError(f"cannot use {data_dir} as the data dir: {exc.strerror}") from None
    check_data_dir(data_dir)

    async def work(tx: Transaction) -> ProvisionSummary:
        branch = await tx.fetch_one("SELECT * FROM branch")
        created = branch is None
        if branch is None:
            if request.branch_name is None or not request.tables:
                raise ProvisionError("a new device needs --branch-name and --tables")
            branch_id = new_id()
            await tx.execute(
                "INSERT INTO branch (id, slug, name, currency, tax_rate, base_url, central_url,"
                " device_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    branch_id,
                    request.branch_slug,
                    request.branch_name,
                    request.currency or "PEN",
                    1800 if request.tax_rate is None else request.tax_rate,
                    request.base_url or DEFAULT_BASE_URL,
                    request.central_url,
                    new_id(),
                    now_iso(),
                ),
            )
        else:
            branch_id = branch["id"]
            if branch["slug"] != request.branch_slug:
                raise ProvisionError(
                    f"this device is provisioned for branch {branch['slug']!r}; a device serves"
                    " one branch (use a new --data-dir for another)"
                )
            await tx.execute(
                "UPDATE branch SET name = coalesce(?, name), currency = coalesce(?, currency),"
                " tax_rate = coalesce(?, tax_rate), base_url = coalesce(?, base_url),"
                " central_url = coalesce(?, central_url) WHERE id = ?",
                (
                    request.branch_name,
                    request.currency,
                    request.tax_rate,
                    request.base_url,
                    request.central_url,
                    branch_id,
                ),
            )
        existing = await tx.fetch_value("SELECT coalesce(max(number), 0) FROM tables")
        wanted = request.tables or existing
        if wanted > existing:
            await _add_tables(tx, branch_id, request.branch_slug, existing + 1, wanted)
        final = await tx.fetch_one("SELECT * FROM branch WHERE id = ?", (branch_id,))
        assert final is not None
        return ProvisionSummary(
            branch_id=branch_id,
            branch_slug=final["slug"],
            branch_name=final["name"],
            tables=max(wanted, existing),
            tables_added=max(0, wanted - existing),
            base_url=final["base_url"],
            central_url=final["central_url"],
            created=created,
            device_id=final["device_id"],
        )

    try:
        async with store:
            summary = await store.transact(work)
    except sqlite3.DatabaseError as exc:
        raise ProvisionError(f"cannot use the store in {data_dir}: {exc}") from None
    ensure_secret(data_dir, JWT_SECRET)
    ensure_secret(data_dir, PIN_KEY)
    if not (data_dir / DEVICE_ID).exists():
        write_secret(data_dir, DEVICE_ID, summary.device_id)
    if request.device_token is not None:
        write_secret(data_dir, DEVICE_TOKEN, request.device_token)
    return summary


async def provision_with_staff(
    data_dir: Path,
    request: ProvisionRequest,
    staff: Iterable[tuple[str, str, str]],
    max_tables: int = MAX_TABLES,
) -> ProvisionSummary:
    """Provision, then add staff as (name, role, PIN): a branch ready to serve, as the demo,
    the tests and the benchmarks need one."""
    summary = await provision(data_dir, request, max_tables)
    key = read_secret(data_dir, PIN_KEY)
    async with Store(data_dir / "edge.db") as store:
        for name, role, pin in staff:
            await add_staff(store, key, name, role, pin)
    return summary
