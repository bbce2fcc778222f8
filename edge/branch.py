"""The branch this device serves: its identity, its tables and the settings staff may change.

`BranchDirectory` keeps the branch and its tables in memory because every diner request starts
by resolving `/:branchSlug/:tableCode`. The store stays the truth: a table missing from memory
is looked up with one indexed query (tables added by `provision` while serving), and `refresh`
(a periodic job) re-reads the branch row and its settings, which is how a `restai-edge settings`
change from another process reaches a running device.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from edge.errors import BranchNotFound, TableNotFound
from edge.settings import Setting, parse_bool
from edge.store import Row, Store, Transaction

SLUG_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
SLUG_MAX = 64
SHORT_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
JOIN_POLICIES = ("key", "open", "closed")


def _join_policy(value: Any) -> str:
    if value not in JOIN_POLICIES:
        raise ValueError(f"expected one of {', '.join(JOIN_POLICIES)}")
    return str(value)


def _ttl(value: Any) -> int:
    expected = "expected a whole number of seconds between 5 and 86400 (e.g. 600)"
    if isinstance(value, bool):
        raise ValueError(expected)
    try:
        number = int(value)
    except (TypeError, ValueError):
        # int() would say "invalid literal for int() with base 10: '1e3'".
        raise ValueError(expected) from None
    if not 5 <= number <= 86400:
        raise ValueError(expected)
    return number


def _print_on(value: Any) -> str:
    if value not in ("new", "confirmed"):
        raise ValueError("expected new or confirmed")
    return str(value)


BRANCH_SETTINGS: tuple[Setting, ...] = (
    Setting("auto_approve", parse_bool, False, "Sessions start active, no approval"),
    Setting(
        "join_policy",
        _join_policy,
        "key",
        "key: joining an active table needs its QR code; open: anyone may join; closed: nobody",
    ),
    Setting("pending_ttl", _ttl, 600, "Seconds a request waits before it expires"),
    Setting("print_on", _print_on, "confirmed", "Tickets print when staff confirm (or: new)"),
)
BRANCH_SETTINGS_BY_NAME = {setting.name: setting for setting in BRANCH_SETTINGS}


@dataclass(frozen=True)
class BranchSettings:
    auto_approve: bool = False
    join_policy: str = "key"
    pending_ttl: int = 600
    print_on: str = "confirmed"


def parse_branch_setting(name: str, raw: Any) -> Any:
    """Validate a value for a branch setting; raises KeyError or ValueError with a clear message."""
    if name not in BRANCH_SETTINGS_BY_NAME:
        known = ", ".join(BRANCH_SETTINGS_BY_NAME)
        raise KeyError(f"unknown setting {name!r} (known: {known})")
    return BRANCH_SETTINGS_BY_NAME[name].parse(raw)


async def read_branch_settings(store: Store) -> BranchSettings:
    rows = await store.fetch_all("SELECT key, value FROM branch_settings")
    values = {}
    for row in rows:
        if row["key"] in BRANCH_SETTINGS_BY_NAME:
            values[row["key"]] = parse_branch_setting(row["key"], json.loads(row["value"]))
    return BranchSettings(**values)


async def write_branch_setting(store: Store, name: str, raw: Any) -> Any:
    value = parse_branch_setting(name, raw)

    async def work(tx: Transaction) -> None:
        await tx.execute(
            "INSERT INTO branch_settings (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (name, json.dumps(value)),
        )

    await store.transact(work)
    return value


async def load_branch(store: Store) -> Row | None:
    return await store.fetch_one("SELECT * FROM branch LIMIT 1")


class BranchDirectory:
    """In-memory view of the branch, its tables and its settings."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.branch: Row | None = None
        self.settings = BranchSettings()
        self._tables_by_code: dict[str, Row] = {}
        self._tables_by_short_code: dict[str, Row] = {}
        self._tables_by_id: dict[str, Row] = {}

    async def load(self) -> None:
        """Read the branch, its settings and every table (at start-up)."""
        await self.refresh()
        tables = await self._store.fetch_all(
            "SELECT id, branch_id, number, code, short_code FROM tables ORDER BY number"
        )
        self._tables_by_code, self._tables_by_short_code, self._tables_by_id = {}, {}, {}
        for table in tables:
            self._remember(table)

    async def refresh(self) -> None:
        """Re-read the branch and its settings; tables only ever grow and load on a miss."""
        self.branch = await load_branch(self._store)
        self.settings = await read_branch_settings(self._store)

    def require_branch(self, slug: str) -> Row:
        if self.branch is None or slug != self.branch["slug"]:
            raise BranchNotFound()
        return self.branch

    async def table(self, branch_slug: str, table_code: str) -> tuple[Row, Row]:
        """The branch and table a diner URL names, or the seed's 404."""
        branch = self.require_branch(branch_slug)
        table = self._tables_by_code.get(table_code)
        if table is None:
            table = await self._load_table("code", table_code)
        return branch, table

    async def table_by_short_code(self, branch_slug: str, short_code: str) -> Row:
        self.require_branch(branch_slug)
        short_code = short_code.strip().upper()
        table = self._tables_by_short_code.get(short_code)
        if table is None:
            table = await self._load_table("short_code", short_code)
        return table

    async def _load_table(self, column: str, value: str) -> Row:
        """One indexed lookup on a cache miss: tables provisioned while serving appear at once."""
        table = await self._store.fetch_one(
            f"SELECT id, branch_id, number, code, short_code FROM tables WHERE {column} = ?",
            (value,),
        )
        if table is None:
            raise TableNotFound()
        self._remember(table)
        return table

    def _remember(self, table: Row) -> None:
        self._tables_by_code[table["code"]] = table
        self._tables_by_short_code[table["short_code"]] = table
        self._tables_by_id[table["id"]] = table

    def table_by_id(self, table_id: str) -> Row | None:
        return self._tables_by_id.get(table_id)

    def tables(self) -> list[Row]:
        return list(self._tables_by_id.values())
