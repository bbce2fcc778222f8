"""Copying the store out while the device serves, and putting such a copy back in its place.

A backup is one self-contained SQLite file (no write-ahead log beside it), made with SQLite's
backup API from a read transaction, so it is a snapshot even while sessions are being written.
It holds no secrets: staff PINs are keyed with the data dir's `pin.key`, which stays behind.

A restore never touches a store that a server has open (the data dir's lock says so), checks the
file before anything moves, keeps the replaced store beside it, and removes the old store's
write-ahead log, which SQLite would otherwise replay into the restored file and corrupt it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from edge.file_modes import make_private
from edge.secret_files import DEVICE_ID, read_optional_secret
from edge.store import Store
from provisioning.device_lock import device_lock, ensure_free

STORE_FILE = "edge.db"
REQUIRED_TABLES = ("schema_migrations", "branch", "tables", "sessions")
MOVED_SIDECARS = ("-wal", "-journal")  # hold committed or rollback data of the replaced store
DROPPED_SIDECARS = ("-shm",)  # an index SQLite rebuilds from the log


class BackupError(ValueError):
    """A backup or restore that cannot be done; the message names the file and the problem."""


@dataclass(frozen=True)
class StoreInfo:
    branch_slug: str
    branch_name: str
    device_id: str
    schema_version: int
    sessions: int


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    size: int
    store: StoreInfo


@dataclass(frozen=True)
class RestoreSummary:
    source: Path
    store: StoreInfo
    replaced: Path | None  # where the previous store was kept, if there was one
    # False: staff PINs were keyed with another device's pin.key; None: cannot tell.
    same_device: bool | None


def latest_schema_version() -> int:
    names = [e.name for e in resources.files("edge.migrations").iterdir()]
    return max(int(name.split("_", 1)[0]) for name in names if name.endswith(".sql"))


def _sidecar(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def inspect_store(path: Path, shown: Path) -> StoreInfo:
    """Make `path` a single-file store and check it is a sound RestAI Edge store.

    `shown` is the file as the user named it, for messages. Raises BackupError.
    """
    try:
        conn = sqlite3.connect(path, isolation_level=None)
    except sqlite3.Error as exc:
        raise BackupError(f"{shown}: cannot open it ({exc})") from None
    try:
        # Rollback-journal mode: the file then carries everything itself and opens anywhere.
        conn.execute("PRAGMA journal_mode = DELETE")
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check(5)")]
        if problems != ["ok"]:
            raise BackupError(f"{shown} is damaged: {'; '.join(problems)}")
        found = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")
        }
        missing = [name for name in REQUIRED_TABLES if name not in found]
        if missing:
            raise BackupError(f"{shown} is not a RestAI Edge store (no {', '.join(missing)} table)")
        version = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] or 0
        if version > latest_schema_version():
            raise BackupError(
                f"{shown} comes from a newer RestAI Edge (schema {version}; this one knows up to"
                f" {latest_schema_version()}): upgrade this device first"
            )
        branch = conn.execute("SELECT slug, name, device_id FROM branch").fetchall()
        if len(branch) != 1:
            raise BackupError(f"{shown} holds no provisioned branch")
        sessions = conn.execute("SELECT count(*) FROM sessions").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{shown} is not a usable SQLite database ({exc})") from None
    finally:
        conn.close()
    slug, name, device_id = branch[0]
    return StoreInfo(slug, name, device_id, version, sessions)


def _check_backup_target(db_path: Path, out: Path, force: bool) -> None:
    if out.is_dir():
        raise BackupError(f"--out {out} is a directory: give the backup's file name")
    if not out.parent.is_dir():
        raise BackupError(f"--out {out}: directory {out.parent} does not exist")
    own = {_sidecar(db_path, suffix).resolve() for suffix in ("", "-wal", "-shm", "-journal")}
    if out.resolve() in own:
        raise BackupError(f"--out {out} is the device's own store: back up to another file")
    if out.exists() and not force:
        raise BackupError(f"--out {out} already exists: pass --force to overwrite it")


async def backup(db_path: Path, out: Path, *, force: bool = False) -> BackupSummary:
    """Copy the store at `db_path` to `out` (mode 0600); works while a server writes to it."""
    _check_backup_target(db_path, out, force)
    # Built beside `out` and renamed over it when complete, so a failed backup leaves no half
    # file and --force never destroys the previous backup before the new one is whole.
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        raise BackupError(f"--out {out}: cannot write there ({exc.strerror})") from None
    try:
        try:
            async with Store(db_path) as store:
                await store.backup_to(partial)
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"cannot read the store {db_path}: {exc}") from None
        info = inspect_store(partial, db_path)
        _fsync(partial)
        if out.exists() and not force:
            raise BackupError(f"--out {out} appeared while backing up: pass --force to overwrite")
        os.replace(partial, out)
    except BaseException:
        for leftover in (partial, _sidecar(partial, "-journal")):
            leftover.unlink(missing_ok=True)
        raise
    _fsync(out.parent)
    return BackupSummary(out, out.stat().st_size, info)


def _settle(store: Path) -> str | None:
    """Fold the write-ahead log into the store, so the kept copy is one file, and return the
    store's device id; best effort, as a damaged store is kept as it is with its log beside it.
    """
    if not store.exists():
        return None
    try:
        conn = sqlite3.connect(store, isolation_level=None)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            row = conn.execute("SELECT device_id FROM branch").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return None if row is None else str(row[0])


def _kept_name(store: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    kept = store.with_name(f"{store.name}.bak-{stamp}")
    number = 1
    while kept.exists():
        number += 1
        kept = store.with_name(f"{store.name}.bak-{stamp}-{number}")
    return kept


def _set_aside(store: Path) -> Path | None:
    """Move the current store and its log out of the way; returns where the store went."""
    kept = None
    if store.exists():
        kept = _kept_name(store)
        os.rename(store, kept)
        make_private(kept)
    for suffix in MOVED_SIDECARS:
        side = _sidecar(store, suffix)
        if side.exists():
            if kept is not None and side.stat().st_size > 0:
                os.rename(side, _sidecar(kept, suffix))
                make_private(_sidecar(kept, suffix))
            else:
                side.unlink()
    for suffix in DROPPED_SIDECARS:
        _sidecar(store, suffix).unlink(missing_ok=True)
    return kept


def _check_source(source: Path, store: Path) -> None:
    if not source.exists():
        raise BackupError(f"{source} does not exist")
    if not source.is_file():
        raise BackupError(f"{source} is not a file")
    if store.exists() and source.samefile(store):
        raise BackupError(f"{source} is this device's own store")
    log = _sidecar(source, "-wal")
    if log.exists() and log.stat().st_size > 0:
        raise BackupError(
            f"{source} has a write-ahead log beside it ({log.name}), so it is a live store, not"
            " a backup: make one with 'restai-edge backup'"
        )


def restore(data_dir: Path, source: Path) -> RestoreSummary:
    """Replace the data dir's store with the backup `source`; refuses while a server runs."""
    if not data_dir.is_dir():
        raise BackupError(
            f"no data dir {data_dir}: provision the device first, then restore into it"
        )
    store = data_dir / STORE_FILE
    _check_source(source, store)
    # Refused before the copy, and the lock itself taken only for the swap, so a refused
    # restore leaves the data dir exactly as it was.
    ensure_free(data_dir)
    incoming = data_dir / f"{STORE_FILE}.restoring-{os.getpid()}"
    try:
        fd = os.open(incoming, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(fd, "wb") as dest, open(source, "rb") as src:
            shutil.copyfileobj(src, dest)
            dest.flush()
            os.fsync(dest.fileno())
        # Checked as copied, so what is installed is exactly what passed the checks.
        info = inspect_store(incoming, source)
        with device_lock(data_dir, "restoring"):
            # The data dir's own device (whose pin.key is here) if it was recorded; else the
            # device of the store being replaced, if that can still be read.
            own = read_optional_secret(data_dir, DEVICE_ID)
            replaced = _settle(store)
            own = own or replaced
            same_device = None if own is None else own == info.device_id
            kept = _set_aside(store)
            try:
                os.replace(incoming, store)
            except OSError:
                if kept is not None:
                    os.rename(kept, store)
                raise
            _fsync(data_dir)
    except OSError as exc:
        raise BackupError(f"cannot restore {source}: {exc}") from None
    finally:
        for leftover in ("", "-journal", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                _sidecar(incoming, leftover).unlink()
    return RestoreSummary(source, info, kept, same_device)
