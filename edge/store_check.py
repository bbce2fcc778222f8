"""Whether a store file may be served, and bringing an older one to the current schema.

A device nobody watches must not serve a broken store behind a green health check, nor paper
over one: a store that is missing, empty, not SQLite, damaged, missing a table, column or index
its migrations made, never provisioned, not writable, or from a newer release is refused with
one sentence saying what is wrong and what to do. Only `provision` creates a store (`create`).

The upgrade path: a provisioned store whose applied migrations are all ones this release ships,
and which holds exactly what those migrations made, is brought forward by applying the missing
ones in order, each in a transaction of its own. That is what happens when the installer
restarts the service on a new release; the check before it is what tells an older store from a
damaged one.

These run with the standard library's sqlite3 on a connection of their own that is always
closed, so a refused store leaves no thread behind to keep the process alive.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from urllib.parse import quote

from edge.file_modes import tighten_store_files

log = logging.getLogger("restai_edge.store")

SQLITE_HEADER = b"SQLite format 3\x00"
# PRAGMA auto_vacuum value that lets retention hand freed pages back to the file system.
AUTO_VACUUM_INCREMENTAL = 2
# VACUUM writes a whole copy of the store beside it before it replaces it.
VACUUM_SPACE_FACTOR = 1.2
CORRUPTION = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
# Less free space than the WAL index and a few pages need: the disk counts as full.
FULL_DISK_BYTES = 256 * 1024


class StoreError(RuntimeError):
    """The store cannot be served; the message names the file, the problem and the remedy."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


@dataclass(frozen=True)
class StoreReport:
    version: int
    upgraded_from: int | None  # the version before this open brought it forward
    writable: bool  # False: the disk is full (writes answer 503 until space returns)


@cache
def migrations() -> tuple[Migration, ...]:
    found = []
    for entry in resources.files("edge.migrations").iterdir():
        if entry.name.endswith(".sql"):
            number = int(entry.name.split("_", 1)[0])
            found.append(Migration(number, entry.name, entry.read_text(encoding="utf-8")))
    return tuple(sorted(found, key=lambda m: m.version))


def latest_version() -> int:
    return migrations()[-1].version


SCHEMA_MIGRATIONS = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
    " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')))"
)


def _apply(conn: sqlite3.Connection, migration: Migration) -> None:
    # executescript cannot take parameters; version and name come from our own files.
    script = (
        f"BEGIN IMMEDIATE;\n{migration.sql}\n;"
        "INSERT INTO schema_migrations (version, name)"
        f" VALUES ({migration.version}, '{migration.name}');"
        "COMMIT;"
    )
    try:
        conn.executescript(script)
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


Schema = dict[str, tuple[str, frozenset[str]]]  # name -> (type, columns)


def _schema(conn: sqlite3.Connection) -> Schema:
    found: Schema = {}
    rows = conn.execute(
        "SELECT type, name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'"
        " AND type IN ('table', 'index', 'view', 'trigger')"
    ).fetchall()
    for kind, name in rows:
        columns: frozenset[str] = frozenset()
        if kind == "table":
            columns = frozenset(row[1] for row in conn.execute(f"PRAGMA table_info('{name}')"))
        found[name] = (kind, columns)
    return found


@cache
def expected_schema(applied: frozenset[int]) -> Schema:
    """What a store holds once exactly the migrations `applied` have run."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        conn.execute(SCHEMA_MIGRATIONS)
        for migration in migrations():
            if migration.version in applied:
                _apply(conn, migration)
        return _schema(conn)
    finally:
        conn.close()


def _missing(expected: Schema, actual: Schema) -> list[str]:
    problems = []
    for name, (kind, columns) in expected.items():
        if name not in actual or actual[name][0] != kind:
            problems.append(f"{kind} {name}")
        elif columns - actual[name][1]:
            problems.append(f"column(s) {', '.join(sorted(columns - actual[name][1]))} of {name}")
    return problems


def _read_header(path: Path) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read(len(SQLITE_HEADER))
    except IsADirectoryError:
        raise StoreError(f"{path} is a directory, not a store") from None
    except PermissionError:
        raise StoreError(
            f"cannot read {path}: permission denied (it must belong to the user running"
            " restai-edge)"
        ) from None


def _check_file(path: Path) -> None:
    if not path.exists():
        raise StoreError(f"no device store at {path}: run 'restai-edge provision' first")
    header = _read_header(path)
    if not header:
        raise StoreError(
            f"{path} is empty (0 bytes), so it is not a provisioned store: restore a backup"
            " ('restai-edge restore FILE'), or move it away and run 'restai-edge provision'"
        )
    if header != SQLITE_HEADER:
        raise StoreError(
            f"{path} is not an SQLite database: restore a backup ('restai-edge restore FILE')"
        )


def _damaged(path: Path, detail: str) -> StoreError:
    return StoreError(
        f"{path} is damaged ({detail}): restore a backup ('restai-edge restore FILE');"
        " keep the damaged file for inspection"
    )


def _applied_versions(conn: sqlite3.Connection, path: Path) -> frozenset[int]:
    has_table = conn.execute(
        "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if not has_table:
        raise StoreError(
            f"{path} holds no RestAI Edge schema: restore a backup, or move it away and run"
            " 'restai-edge provision'"
        )
    applied = frozenset(row[0] for row in conn.execute("SELECT version FROM schema_migrations"))
    known = {m.version for m in migrations()}
    if applied and max(applied) > latest_version():
        raise StoreError(
            f"{path} comes from a newer RestAI Edge (schema {max(applied)}; this one knows up to"
            f" {latest_version()}): install that release again"
        )
    if applied - known:
        raise StoreError(
            f"{path} has migrations this release does not ship"
            f" ({', '.join(map(str, sorted(applied - known)))}): install the release that made it"
        )
    if 1 not in applied:
        raise StoreError(f"{path} holds no RestAI Edge schema: run 'restai-edge provision'")
    return applied


def _probe_write(conn: sqlite3.Connection, path: Path) -> bool:
    """Write one page; False if the disk is full. SQLite opens a file it may not write read-only
    without a word, so only a real write tells."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.execute(f"PRAGMA user_version = {int(version)}")
        conn.execute("COMMIT")
    except sqlite3.OperationalError as exc:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        if exc.sqlite_errorcode == sqlite3.SQLITE_FULL:
            return False
        raise StoreError(
            f"cannot write {path} ({exc}): the store and its directory must be writable by the"
            " user running restai-edge"
        ) from None
    return True


def _convert_to_incremental_vacuum(conn: sqlite3.Connection, path: Path) -> None:
    """Stores made before retention cannot give space back; VACUUM once to change that."""
    if conn.execute("PRAGMA auto_vacuum").fetchone()[0] == AUTO_VACUUM_INCREMENTAL:
        return
    size = path.stat().st_size
    if shutil.disk_usage(path.parent).free < size * VACUUM_SPACE_FACTOR:
        log.warning(
            "Not enough free space to convert %s to incremental vacuum (needs %d MB);"
            " retention still reuses freed pages, the conversion is tried at the next start",
            path,
            int(size * VACUUM_SPACE_FACTOR) >> 20,
        )
        return
    started = time.monotonic()
    conn.execute(f"PRAGMA auto_vacuum = {AUTO_VACUUM_INCREMENTAL}")
    conn.execute("VACUUM")
    log.info("Converted %s to incremental vacuum, once (%.1f s)", path, time.monotonic() - started)


def store_uri(path: Path) -> str:
    """The store as an SQLite URI that opens it read-write and never creates it."""
    return f"file:{quote(str(path))}?mode=rw"


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(store_uri(path), uri=True, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


def truncate_wal(path: Path) -> bool:
    """`PRAGMA wal_checkpoint(TRUNCATE)` on a connection of its own that waits at most a moment
    for others; True if the WAL is now empty."""
    try:
        conn = sqlite3.connect(store_uri(path), uri=True, isolation_level=None, timeout=0.1)
    except sqlite3.Error:
        return False
    try:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return bool(busy == 0)
    except sqlite3.Error:
        return False
    finally:
        conn.close()


def create_store(path: Path) -> None:
    """A new, empty store with the whole schema; only `provision` makes one."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    try:
        conn = _connect(path)
        try:
            # Must precede the first table: retention then gives space back without a VACUUM.
            conn.execute(f"PRAGMA auto_vacuum = {AUTO_VACUUM_INCREMENTAL}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(SCHEMA_MIGRATIONS)
            for migration in migrations():
                _apply(conn, migration)
        finally:
            conn.close()
    except BaseException:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        raise


def check_store(path: Path, *, thorough: bool = False, provisioning: bool = False) -> StoreReport:
    """Refuse a store that cannot be served; bring an older one to the current schema.

    `thorough` (what `serve` runs before it listens) adds `PRAGMA quick_check`, a write probe
    and the one-time conversion to incremental vacuum; every other open runs the cheap checks.
    `provisioning` accepts a store with no branch yet (the one `provision` is filling in).
    """
    _check_file(path)
    tighten_store_files(path)
    try:
        conn = _connect(path)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {path}: {exc}") from None
    try:
        return _check(conn, path, thorough, provisioning)
    except sqlite3.DatabaseError as exc:
        if exc.sqlite_errorcode in CORRUPTION:
            raise _damaged(path, str(exc)) from None
        if _disk_full(exc, path):
            raise StoreError(
                f"cannot open {path}: the disk holding it is full, with no room for the files"
                " SQLite keeps beside the store; free some space, then start again"
            ) from None
        raise StoreError(f"cannot use {path}: {exc}") from None
    finally:
        conn.close()
        tighten_store_files(path)


def disk_full(directory: Path) -> bool:
    """Whether the disk holding `directory` has less room than a write of the store needs."""
    return shutil.disk_usage(directory).free < FULL_DISK_BYTES


def _disk_full(exc: sqlite3.Error, path: Path) -> bool:
    """Whether an error opening the store is the disk being full. SQLite says "disk I/O error"
    when it cannot create the WAL's shared-memory index (a store closed cleanly has none)."""
    if exc.sqlite_errorcode == sqlite3.SQLITE_FULL:
        return True
    io_error = (
        exc.sqlite_errorcode is not None and exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_IOERR
    )
    return io_error and disk_full(path.parent)


def _check(conn: sqlite3.Connection, path: Path, thorough: bool, provisioning: bool) -> StoreReport:
    conn.execute("PRAGMA journal_mode = WAL")
    if thorough:
        problems = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
        if problems != ["ok"]:
            raise _damaged(path, "; ".join(problems))
    applied = _applied_versions(conn, path)
    missing = _missing(expected_schema(applied), _schema(conn))
    if missing:
        raise _damaged(path, f"missing {', '.join(missing)}")
    if not provisioning and conn.execute("SELECT count(*) FROM branch").fetchone()[0] != 1:
        raise StoreError(
            f"{path} holds no provisioned branch: run 'restai-edge provision' for this data dir"
        )
    writable = _probe_write(conn, path) if thorough else True
    pending = [m for m in migrations() if m.version not in applied]
    if pending:
        before = max(applied)
        log.info(
            "Upgrading store schema from %d to %d (%s)",
            before,
            latest_version(),
            ", ".join(m.name for m in pending),
        )
        current = before
        for migration in pending:
            try:
                _apply(conn, migration)
            except sqlite3.OperationalError as exc:
                raise StoreError(
                    f"cannot upgrade {path} to schema {migration.version} ({exc}); it stays at"
                    f" schema {current}"
                ) from None
            current = migration.version
        everything = frozenset(m.version for m in migrations())
        missing = _missing(expected_schema(everything), _schema(conn))
        if missing:
            raise _damaged(path, f"missing {', '.join(missing)} after the upgrade")
    if thorough and writable:
        _convert_to_incremental_vacuum(conn, path)
    return StoreReport(latest_version(), max(applied) if pending else None, writable)
