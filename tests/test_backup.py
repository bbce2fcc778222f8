"""`restai-edge backup` while the device takes writes, and `restai-edge restore` of its copies."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import SERVER_TABLES, SLUG, EdgeServer, auth, provision_device
from tests.test_provision_cli import error_line, invoke, mode, restai, rows, snapshot


def session_ids(db: Path) -> set[str]:
    return {str(row[0]) for row in rows(db, "SELECT id FROM sessions")}


def integrity(db: Path) -> list[tuple[object, ...]]:
    return rows(db, "PRAGMA integrity_check")


class SessionWriter(threading.Thread):
    """Opens a session on one table after another and rejects it, until stopped.

    `written` holds each session id as soon as the device has answered 201 for it.
    """

    def __init__(self, server: EdgeServer, tables: int = SERVER_TABLES) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.tables = tables
        self.token = server.staff_token()
        self.written: list[str] = []
        self.failure: str | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        number = 0
        with httpx.Client(timeout=10) as client:
            while not self._halt.is_set():
                table = f"{SLUG}-{number % self.tables + 1}"
                number += 1
                created = client.post(
                    self.server.customer_url(table, "session"),
                    json={"customerName": f"Comensal {number}"},
                )
                if created.status_code != 201:
                    self.failure = created.text
                    return
                session_id = created.json()["data"]["sessionId"]
                self.written.append(session_id)
                rejected = client.patch(
                    f"{self.server.url}/api/tables/sessions/{session_id}/reject",
                    headers=auth(self.token),
                )
                if rejected.status_code != 200:
                    self.failure = rejected.text
                    return

    def wait_for(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.written) < count:
            assert self.failure is None, self.failure
            assert time.monotonic() < deadline, f"only {len(self.written)} sessions written"
            time.sleep(0.01)

    def stop(self) -> None:
        self._halt.set()
        self.join(30)
        assert self.failure is None, self.failure


@pytest.fixture
def device(tmp_path) -> Path:
    data_dir = tmp_path / "data"
    provision_device(data_dir, tables=5)
    return data_dir


# --------------------------------------------------------------------------- backup


def test_backup_while_serving_restores_every_session_written_before_it(make_server, tmp_path):
    server = make_server()
    writer = SessionWriter(server)
    writer.start()
    writer.wait_for(25)
    out = tmp_path / "backups" / "edge-backup.db"
    out.parent.mkdir()

    before = set(writer.written)
    done = restai(server.data_dir, "backup", "--out", str(out), umask=0)
    during = len(writer.written) - len(before)
    writer.wait_for(len(writer.written) + 10)
    writer.stop()

    assert done.returncode == 0, done.stderr
    assert during > 0, "the writer was idle while the backup ran: this proves nothing"
    assert f"Backed up branch {SLUG}" in done.stdout
    assert mode(out) == 0o600
    assert list(out.parent.iterdir()) == [out], "the backup left a partial or log file behind"
    assert integrity(out) == [("ok",)]
    copied = session_ids(out)
    assert before <= copied
    assert copied < set(writer.written), "every session is in the copy: it was not taken live"
    # One transaction finishes a session and queues it: a snapshot never holds one without the
    # other.
    assert rows(
        out,
        "SELECT count(*) FROM sessions s LEFT JOIN outbox o ON o.session_id = s.id"
        " WHERE (s.status = 'rejected') != (o.session_id IS NOT NULL)",
    ) == [(0,)]

    refused = restai(server.data_dir, "restore", str(out))
    assert refused.returncode == 1
    assert f"the device in {server.data_dir} is in use (serving, pid {server.process.pid})" in (
        error_line(refused.stderr)
    )

    server.stop()
    restored = restai(server.data_dir, "restore", str(out))

    assert restored.returncode == 0, restored.stderr
    store = server.data_dir / "edge.db"
    assert integrity(store) == [("ok",)]
    assert session_ids(store) == copied
    assert not (server.data_dir / "edge.db-wal").exists()
    kept = [p for p in server.data_dir.iterdir() if p.name.startswith("edge.db.bak-")]
    assert len(kept) == 1
    assert session_ids(kept[0]) == set(writer.written)
    assert f"previous store kept as {kept[0]}" in restored.stdout
    assert "another device" not in restored.stdout

    again = EdgeServer(server.data_dir, {}).start()
    try:
        answer = httpx.get(f"{again.url}/api/tables", headers=auth(again.staff_token()))
        assert answer.status_code == 200, answer.text
    finally:
        again.stop()
    again.assert_clean_log()


def test_backup_never_overwrites_without_force(device, tmp_path):
    out = tmp_path / "edge-backup.db"
    out.write_text("last week's backup")

    refused = invoke(device, "backup", "--out", str(out))

    assert refused.exit_code == 1
    assert f"--out {out} already exists: pass --force to overwrite it" in error_line(refused.stderr)
    assert out.read_text() == "last week's backup"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "edge-backup.db"]

    out.chmod(0o644)
    forced = invoke(device, "backup", "--out", str(out), "--force")

    assert forced.exit_code == 0, forced.output
    assert mode(out) == 0o600
    assert integrity(out) == [("ok",)]
    assert rows(out, "SELECT slug FROM branch") == [(SLUG,)]
    assert rows(out, "SELECT count(*) FROM staff") == [(4,)]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("missing-dir/edge.db", "directory {tmp}/missing-dir does not exist"),
        (".", "is a directory: give the backup's file name"),
        ("data/edge.db", "is the device's own store"),
        ("data/edge.db-wal", "is the device's own store"),
    ],
)
def test_bad_backup_target(device, tmp_path, target, message):
    out = tmp_path / target
    before = snapshot(tmp_path)

    done = restai(device, "backup", "--out", str(out), "--force")

    assert done.returncode == 1
    assert message.format(tmp=tmp_path) in error_line(done.stderr)
    assert snapshot(tmp_path) == before


def test_backup_before_provisioning(tmp_path):
    done = restai(tmp_path / "data", "backup", "--out", str(tmp_path / "b.db"))

    assert done.returncode == 1
    assert "no device store in" in error_line(done.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- restore


@pytest.fixture
def good_backup(device, tmp_path) -> Path:
    out = tmp_path / "good.db"
    assert invoke(device, "backup", "--out", str(out)).exit_code == 0
    return out


def _corrupt(path: Path) -> None:
    data = bytearray(path.read_bytes())
    page = 4096
    data[page * 2 : page * 6] = bytes(range(256)) * (page * 4 // 256)
    path.write_bytes(bytes(data))


def _plain_sqlite(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.commit()
    conn.close()


def _newer_schema(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_migrations (version, name) VALUES (999, '0999_future.sql')")
    conn.commit()
    conn.close()


def _no_branch(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("DELETE FROM branch")
    conn.commit()
    conn.close()


def _live_log(path: Path) -> None:
    path.with_name(path.name + "-wal").write_bytes(b"\x37\x7f\x06\x82" + b"\0" * 28)


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda p: p.unlink(), "{file} does not exist"),
        (lambda p: (p.unlink(), p.mkdir()), "{file} is not a file"),
        (lambda p: p.write_text("menu del dia\n" * 400), "{file} is not a usable SQLite database"),
        (lambda p: p.write_bytes(b""), "{file} is not a RestAI Edge store"),
        (lambda p: (p.unlink(), _plain_sqlite(p)), "{file} is not a RestAI Edge store (no"),
        (_corrupt, "{file} "),
        (_newer_schema, "{file} comes from a newer RestAI Edge (schema 999"),
        (_no_branch, "{file} holds no provisioned branch"),
        (_live_log, "{file} has a write-ahead log beside it"),
    ],
)
def test_restore_refuses_a_bad_file_and_changes_nothing(device, good_backup, spoil, message):
    spoil(good_backup)
    before = snapshot(device)

    done = restai(device, "restore", str(good_backup))

    assert done.returncode == 1
    assert message.format(file=good_backup) in error_line(done.stderr)
    assert snapshot(device) == before


def test_corrupt_backup_is_reported_as_damaged(device, good_backup):
    _corrupt(good_backup)

    done = restai(device, "restore", str(good_backup))

    assert done.returncode == 1
    line = error_line(done.stderr)
    assert "is damaged" in line or "malformed" in line, line


def test_restore_the_store_onto_itself(device):
    done = restai(device, "restore", str(device / "edge.db"))

    assert done.returncode == 1
    assert "is this device's own store" in error_line(done.stderr)


def test_restore_without_a_data_dir(tmp_path, good_backup):
    done = restai(tmp_path / "elsewhere", "restore", str(good_backup))

    assert done.returncode == 1
    assert "no data dir" in error_line(done.stderr)
    assert not (tmp_path / "elsewhere").exists()


def test_restore_after_a_crash_drops_the_stale_log_and_keeps_its_data(make_server, tmp_path):
    server = make_server(tables=10)
    out = tmp_path / "early.db"
    assert restai(server.data_dir, "backup", "--out", str(out)).returncode == 0
    writer = SessionWriter(server, tables=10)
    writer.start()
    writer.wait_for(15)
    writer.stop()
    server.kill()  # no checkpoint: the sessions are only in edge.db-wal
    log = server.data_dir / "edge.db-wal"
    assert log.exists() and log.stat().st_size > 0

    done = restai(server.data_dir, "restore", str(out))

    assert done.returncode == 0, done.stderr
    store = server.data_dir / "edge.db"
    assert session_ids(store) == set()
    assert integrity(store) == [("ok",)]
    for sidecar in ("edge.db-wal", "edge.db-shm", "edge.db-journal"):
        assert not (server.data_dir / sidecar).exists(), f"stale {sidecar} left beside the store"
    (kept,) = [p for p in server.data_dir.iterdir() if p.name.startswith("edge.db.bak-")]
    # The kept store is whole on its own: copied elsewhere without any log, it has every session.
    alone = tmp_path / "kept-alone.db"
    shutil.copyfile(kept, alone)
    assert session_ids(alone) == set(writer.written)
    assert "another device" not in done.stdout


def test_restore_onto_another_device_warns_about_pins(device, good_backup, tmp_path):
    other = tmp_path / "other"
    provision_device(other, tables=2)

    done = restai(other, "restore", str(good_backup))

    assert done.returncode == 0, done.stderr
    assert "this backup comes from another device" in done.stdout
    assert rows(other / "edge.db", "SELECT count(*) FROM tables") == [(5,)]


def test_a_second_server_on_one_data_dir_is_refused(make_server):
    server = make_server(tables=2)
    second = EdgeServer(server.data_dir, {})

    with pytest.raises(RuntimeError, match="is in use"):
        second.start(timeout=10)
    assert f"serving, pid {server.process.pid}" in second.log()
    assert httpx.get(f"{server.url}/healthz").status_code == 200
