"""`serve` and `demo` meeting a broken device at start-up: a damaged, empty, incomplete, newer or
unwritable store, a data dir or secret it cannot use, a port already taken.

Each case runs the real `restai-edge serve` and expects what systemd needs to restart or flag
the service: the process ends within seconds with a non-zero status, and says what is wrong in
one `Error:` line, with no traceback. A store that is merely from an older release is brought
forward and served.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import httpx
import pytest

from edge.store_check import check_store
from provisioning.server_process import ServerProcess, free_port
from tests.conftest import SLUG, provision_device

# A start-up failure must be reported this fast (the interpreter itself takes about a second).
EXIT_WITHIN = 15.0
NOBODY = 65534
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) \S+: ")


@dataclass
class Run:
    returncode: int
    output: str
    seconds: float

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.output.splitlines() if line.startswith("Error:")]


def run_cli(*args: str, user: int | None = None, timeout: float = 20) -> Run:
    """Run `restai-edge ARGS` for real (as `user` if given), however long it stays up."""
    argv = [sys.executable, "-m", "provisioning", *args]
    if user is not None:
        argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *argv]
    started = time.monotonic()
    process = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail(
            f"`restai-edge {' '.join(args)}` was still running after {timeout} s:\n"
            + output.decode(errors="replace")[-3000:]
        )
    return Run(process.returncode, output.decode(errors="replace"), time.monotonic() - started)


def serve(data_dir: Path, *, user: int | None = None, port: int | None = None) -> Run:
    port = free_port() if port is None else port
    return run_cli(
        "--data-dir", str(data_dir), "serve", "--host", "127.0.0.1", "--port", str(port), user=user
    )


def assert_refused(run: Run, *words: str) -> str:
    """Exited non-zero, promptly, with one `Error:` line naming `words`, and nothing else but
    log lines in the device's format."""
    assert "Traceback" not in run.output, run.output
    assert run.returncode != 0, f"exit status 0:\n{run.output}"
    assert run.seconds < EXIT_WITHIN, f"took {run.seconds:.1f} s to give up:\n{run.output}"
    assert len(run.error_lines) == 1, run.output
    for line in run.output.splitlines():
        assert line.startswith("Error:") or LOG_LINE.match(line), f"stray line {line!r}"
    error = run.error_lines[0]
    for word in words:
        assert word.lower() in error.lower(), error
    return error


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("provisioned") / "data"
    provision_device(data_dir, tables=3)
    return data_dir


@pytest.fixture
def device(provisioned: Path, tmp_path: Path) -> Path:
    """A provisioned data dir of this test's own."""
    data_dir = tmp_path / "data"
    shutil.copytree(provisioned, data_dir)
    return data_dir


def _sql(db: Path, *statements: str) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        for statement in statements:
            conn.execute(statement)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def _checkpointed(data_dir: Path) -> Path:
    db = data_dir / "edge.db"
    _sql(db)
    return db


# --------------------------------------------------------------------------- broken stores


def test_truncated_store_is_refused(device: Path) -> None:
    db = _checkpointed(device)
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 3])
    assert_refused(serve(device), "edge.db", "damaged")


def test_garbage_store_is_refused(device: Path) -> None:
    db = _checkpointed(device)
    db.write_bytes(os.urandom(64 * 1024))
    assert_refused(serve(device), "edge.db", "not an sqlite database")


def test_empty_store_is_refused_and_left_as_found(device: Path) -> None:
    """A 0-byte store is evidence of something gone wrong; rebuilding it empty would hide it
    (and a later provision would mint a new device id)."""
    db = _checkpointed(device)
    db.write_bytes(b"")
    assert_refused(serve(device), "edge.db", "empty")
    assert db.stat().st_size == 0
    assert not (device / "edge.db-wal").exists() or (device / "edge.db-wal").stat().st_size == 0


@pytest.mark.parametrize("table", ["events", "orders"])
def test_store_missing_a_table_is_refused(device: Path, table: str) -> None:
    _sql(device / "edge.db", f"DROP TABLE {table}")
    assert_refused(serve(device), "edge.db", table)


def test_store_missing_an_index_is_refused(device: Path) -> None:
    """The index that allows one live session per table is an invariant, not an optimisation."""
    _sql(device / "edge.db", "DROP INDEX sessions_one_live_per_table")
    assert_refused(serve(device), "sessions_one_live_per_table")


def test_store_from_a_newer_release_is_refused(device: Path) -> None:
    _sql(
        device / "edge.db",
        "INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future.sql')",
    )
    assert_refused(serve(device), "newer")


def test_missing_store_is_refused(device: Path) -> None:
    for name in ("edge.db", "edge.db-wal", "edge.db-shm"):
        (device / name).unlink(missing_ok=True)
    assert_refused(serve(device), "provision")
    assert not (device / "edge.db").exists()


def test_store_never_provisioned_is_refused(device: Path) -> None:
    """A store with the schema but no branch (the schema alone is not a provisioned device)."""
    data_dir = device
    _sql(
        data_dir / "edge.db",
        "PRAGMA foreign_keys = OFF",
        "DELETE FROM staff",
        "DELETE FROM tables",
        "DELETE FROM branch",
    )
    assert_refused(serve(data_dir), "provision")


def _older_release_store(data_dir: Path, up_to: int) -> None:
    """A store exactly as an older release provisioned it: migrations 1..up_to, one branch."""
    data_dir.mkdir(mode=0o700)
    scripts = sorted(
        (entry.name, entry.read_text())
        for entry in resources.files("edge.migrations").iterdir()
        if entry.name.endswith(".sql") and int(entry.name.split("_")[0]) <= up_to
    )
    conn = sqlite3.connect(data_dir / "edge.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
        " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')))"
    )
    for name, sql in scripts:
        conn.executescript(sql)
        conn.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
            (int(name.split("_")[0]), name),
        )
    conn.execute(
        "INSERT INTO branch (id, slug, name, base_url, device_id, created_at) VALUES"
        " ('b1', ?, 'Old', 'http://x', 'dev-1', '2024-01-01T00:00:00Z')",
        (SLUG,),
    )
    conn.execute(
        "INSERT INTO tables (id, branch_id, number, code, short_code, created_at) VALUES"
        " ('t1', 'b1', 1, ?, 'ABCDE', '2024-01-01T00:00:00Z')",
        (f"{SLUG}-1",),
    )
    conn.close()
    for name in ("jwt.secret", "pin.key"):
        path = data_dir / name
        path.write_text(os.urandom(24).hex())
        path.chmod(0o600)
    (data_dir / "edge.db").chmod(0o600)


def test_store_from_an_older_release_is_brought_forward(tmp_path: Path) -> None:
    """The upgrade path: the installer restarts the service on the new release, which applies
    the migrations the store lacks and serves it."""
    data_dir = tmp_path / "data"
    _older_release_store(data_dir, up_to=2)
    server = ServerProcess(
        [sys.executable, "-m", "provisioning", "--data-dir", str(data_dir), "serve"],
        log_path=tmp_path / "serve.log",
    ).start()
    try:
        answer = httpx.get(f"{server.url}/api/customer/{SLUG}/{SLUG}-1/check-session")
        assert answer.status_code == 200, answer.text
    finally:
        server.stop()
    assert "Traceback" not in server.log()
    conn = sqlite3.connect(data_dir / "edge.db")
    versions = [row[0] for row in conn.execute("SELECT version FROM schema_migrations")]
    device = conn.execute("SELECT device_id FROM branch").fetchone()[0]
    conn.close()
    latest = max(
        int(e.name.split("_")[0])
        for e in resources.files("edge.migrations").iterdir()
        if e.name.endswith(".sql")
    )
    assert max(versions) == latest
    assert device == "dev-1"
    assert f"schema from 2 to {latest}" in server.log(), server.log()


def test_rebuilding_sessions_and_orders_keeps_every_row_as_it_was(tmp_path: Path) -> None:
    """Migration 12 rebuilds both tables to rewrite their status rules: every row comes through
    with its rowid (retention deletes by rowid), the rows that refer to them still resolve, and
    a status outside the rules is refused as before."""
    data_dir = tmp_path / "data"
    _older_release_store(data_dir, up_to=11)
    db = data_dir / "edge.db"
    _sql(
        db,
        "INSERT INTO sessions (rowid, id, branch_id, table_id, customer_name, status, started_at,"
        " ended_at) VALUES (7, 's1', 'b1', 't1', 'Ana', 'completed', '2024-01-01T00:00:00Z',"
        " '2024-01-01T01:00:00Z')",
        "INSERT INTO diners (id, session_id, name, joined_at)"
        " VALUES ('d1', 's1', 'Ana', '2024-01-01T00:00:00Z')",
        "INSERT INTO orders (rowid, id, branch_id, session_id, table_id, diner_id, order_number,"
        " status, subtotal, tax, total, created_at, updated_at) VALUES (9, 'o1', 'b1', 's1',"
        " 't1', 'd1', 1, 'served', 1000, 180, 1180, '2024-01-01T00:10:00Z',"
        " '2024-01-01T00:20:00Z')",
    )
    conn = sqlite3.connect(db)
    before = [
        conn.execute(f"SELECT rowid, * FROM {table}").fetchall() for table in ("sessions", "orders")
    ]
    conn.close()

    assert check_store(db).upgraded_from == 11

    conn = sqlite3.connect(db)
    try:
        after = [
            conn.execute(f"SELECT rowid, * FROM {table}").fetchall()
            for table in ("sessions", "orders")
        ]
        assert after == before
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        for table in ("sessions", "orders"):
            with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
                conn.execute(f"UPDATE {table} SET status = 'lost'")
    finally:
        conn.close()


def test_provision_does_not_rebuild_an_empty_store(device: Path) -> None:
    db = _checkpointed(device)
    db.write_bytes(b"")
    run = run_cli("--data-dir", str(device), "provision", "--branch-slug", SLUG)
    assert_refused(run, "empty")
    assert db.stat().st_size == 0


# --------------------------------------------------------------------------- port


def test_port_in_use_is_one_error_line(device: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        error = assert_refused(serve(device, port=port), str(port))
    # provisioning.server_process recognises a lost port race by these words.
    assert "address already in use" in error.lower()


def test_demo_with_port_in_use_fails_before_its_banner() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = run_cli("demo", "--port", str(port))
    assert_refused(run, "address already in use")
    assert "PIN" not in run.output


# --------------------------------------------------------------------------- secrets, data dir


def test_secret_that_is_a_directory_is_one_error_line(device: Path) -> None:
    (device / "jwt.secret").unlink()
    (device / "jwt.secret").mkdir()
    assert_refused(serve(device), "jwt.secret", "directory")


def test_empty_secret_is_one_error_line(device: Path) -> None:
    (device / "pin.key").write_text("")
    assert_refused(serve(device), "pin.key", "empty")


def test_loose_permissions_are_tightened_with_a_warning(device: Path) -> None:
    """Tightened rather than refused: an unattended branch keeps serving, the exposure ends at
    once, and the warning in the journal says which secrets may need rotating."""
    device.chmod(0o755)
    (device / "jwt.secret").chmod(0o644)
    (device / "pin.key").chmod(0o640)
    (device / "edge.db").chmod(0o644)
    server = ServerProcess(
        [sys.executable, "-m", "provisioning", "--data-dir", str(device), "serve"],
        log_path=device.parent / "serve.log",
    ).start()
    server.stop()
    log = server.log()
    assert "Traceback" not in log
    for path, mode in [
        (device, 0o700),
        (device / "jwt.secret", 0o600),
        (device / "pin.key", 0o600),
        (device / "edge.db", 0o600),
    ]:
        assert path.stat().st_mode & 0o777 == mode, f"{path} is {path.stat().st_mode & 0o777:o}"
    warnings = [line for line in log.splitlines() if " WARNING " in line]
    for name in ("jwt.secret", "pin.key", str(device)):
        assert any(name in line for line in warnings), log


def test_store_and_its_sidecars_are_private(device: Path) -> None:
    """#13 point 5: the store, its WAL and shared-memory files are the owner's alone."""
    server = ServerProcess(
        [sys.executable, "-m", "provisioning", "--data-dir", str(device), "serve"],
        log_path=device.parent / "serve.log",
    ).start()
    try:
        httpx.post(
            f"{server.url}/api/customer/{SLUG}/{SLUG}-1/session",
            json={"customerName": "Carlos Rodriguez"},
        )
        for name in ("edge.db", "edge.db-wal", "edge.db-shm"):
            mode = (device / name).stat().st_mode & 0o777
            assert mode == 0o600, f"{name} is {mode:o}"
    finally:
        server.stop()


# --------------------------------------------------------------------------- another user


@pytest.fixture
def nobody_dir(provisioned: Path) -> Iterator[Path]:
    """A data dir under /tmp that the unprivileged user can reach (pytest's tmp is root's)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run the device as another user")
    base = Path(tempfile.mkdtemp(prefix="restai-edge-nobody-"))
    base.chmod(0o755)
    try:
        data_dir = base / "data"
        shutil.copytree(provisioned, data_dir)
        yield data_dir
    finally:
        shutil.rmtree(base)


def _chown_tree(path: Path, uid: int) -> None:
    os.chown(path, uid, uid)
    for child in path.iterdir():
        os.chown(child, uid, uid)


def test_data_dir_of_another_user_is_refused(nobody_dir: Path) -> None:
    """The service user cannot use a data dir someone else owns (say, provisioned as root)."""
    nobody_dir.chmod(0o755)
    assert_refused(serve(nobody_dir, user=NOBODY), str(nobody_dir), "uid 0")


def test_store_the_service_user_cannot_write_is_refused(nobody_dir: Path) -> None:
    """SQLite opens a store it may not write read-only, without a word: every write would then
    fail with a 500 behind a green health check."""
    _chown_tree(nobody_dir, NOBODY)
    (nobody_dir / "edge.db").chmod(0o400)
    assert_refused(serve(nobody_dir, user=NOBODY), "edge.db", "write")


def test_unreadable_secret_is_one_error_line(nobody_dir: Path) -> None:
    _chown_tree(nobody_dir, NOBODY)
    os.chown(nobody_dir / "jwt.secret", 0, 0)
    assert_refused(serve(nobody_dir, user=NOBODY), "jwt.secret")
