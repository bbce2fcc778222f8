"""A full disk (#14 point 3) and the write-ahead log (point 4), on a small tmpfs the test mounts.

While the disk is full every write answers 503 `STORAGE_FULL` with a Spanish message and
`Retry-After`, `/healthz` answers 503 "degraded", and the log says so once, not once per
request. When space returns the device takes writes again by itself, without a restart and
without waiting for a write to find out. The WAL never takes the disk for itself, and an idle
device keeps none.
"""

from __future__ import annotations

import concurrent.futures
import errno
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import MANAGER_PIN, SLUG, EdgeServer, auth, provision_device

TABLES = 60
RECOVERY_WITHIN = 15.0


def _mount_tmpfs(where: Path, size: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs for a full disk needs root")
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (no full-disk test): {done.stderr.strip()}")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 6 MB file system of its own: the device's data dir is its root, its log is elsewhere."""
    disk = tmp_path / "disk"
    _mount_tmpfs(disk, "6m")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(path: Path) -> None:
    """Take every free byte of the file system `path` is on."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for chunk in (1 << 20, 1 << 16, 1 << 12, 1 << 9, 1):
            block = b"\0" * chunk
            while True:
                try:
                    os.write(fd, block)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)


def _open_and_reject(client: httpx.Client, server: EdgeServer, token: str, n: int) -> int:
    """One session opened and turned down; the status of the first write that is not a 2xx."""
    created = client.post(
        server.customer_url(f"{SLUG}-{n % TABLES + 1}", "session"),
        json={"customerName": f"Comensal {n}"},
    )
    if created.status_code != 201:
        return created.status_code
    rejected = client.patch(
        f"{server.url}/api/tables/sessions/{created.json()['data']['sessionId']}/reject",
        headers=auth(token),
    )
    return 200 if rejected.status_code == 200 else rejected.status_code


def _assert_storage_full(answer: httpx.Response) -> None:
    assert answer.status_code == 503, answer.text
    error = answer.json()["error"]
    assert answer.json()["success"] is False
    assert error["code"] == "STORAGE_FULL"
    assert "espacio" in error["message"]
    assert int(answer.headers["Retry-After"]) > 0


def test_full_disk_answers_503_logs_once_and_recovers_by_itself(small_disk: Path) -> None:
    provision_device(small_disk, tables=TABLES)
    server = EdgeServer(small_disk, {"RESTAI_EDGE_MAINTENANCE_INTERVAL": "1"}).start()
    try:
        token = server.staff_token(MANAGER_PIN)
        filler = small_disk / "filler"
        fill(filler)
        with httpx.Client(timeout=10) as client:
            statuses = [_open_and_reject(client, server, token, n) for n in range(400)]
            first_failure = next((s for s in statuses if s not in (200, 201)), None)
            assert first_failure == 503, f"writes on a full disk answered {set(statuses)}"

            def attempt(n: int) -> httpx.Response:
                return client.post(
                    server.customer_url(f"{SLUG}-{n % TABLES + 1}", "session"),
                    json={"customerName": f"Comensal {n}"},
                )

            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(attempt, range(1000, 1200)))
            for answer in answers:
                if answer.status_code != 409:  # a table left open by the first loop
                    _assert_storage_full(answer)
            health = client.get(f"{server.url}/healthz")
            assert health.status_code == 503, health.text
            assert health.json()["data"]["status"] == "degraded"
            assert health.json()["data"]["storage"]["writable"] is False

            wal = small_disk / "edge.db-wal"
            assert not wal.exists() or wal.stat().st_size <= 2 * 1024 * 1024 + 64 * 1024

            filler.unlink()
            deadline = time.monotonic() + RECOVERY_WITHIN
            while client.get(f"{server.url}/healthz").status_code != 200:
                assert time.monotonic() < deadline, "still degraded after space returned"
                time.sleep(0.2)
            assert _open_and_reject(client, server, token, 2000) == 200
    finally:
        server.stop()
    log = server.log()
    assert "Traceback" not in log, log[-5000:]
    full_lines = [
        line for line in log.splitlines() if "disk is full" in line or "disk full" in line
    ]
    assert 1 <= len(full_lines) <= 2, "\n".join(full_lines[:10])
    assert "Store writes work again" in log
    assert len(log.splitlines()) < 20, log[-5000:]


def test_a_transaction_that_writes_nothing_does_not_end_a_full_disk(small_disk: Path) -> None:
    """Scheduled jobs often find nothing to do (no request to expire every 5 s): such a commit
    writes no page, so it says nothing about the disk, and the device stays degraded."""
    provision_device(small_disk, tables=TABLES)
    server = EdgeServer(small_disk, {}).start()
    try:
        token = server.staff_token(MANAGER_PIN)
        fill(small_disk / "filler")
        with httpx.Client(timeout=10) as client:
            statuses = [_open_and_reject(client, server, token, n) for n in range(400)]
            assert next(s for s in statuses if s not in (200, 201)) == 503
            watched_until = time.monotonic() + 7  # past the pending requests' 5 s expiry job
            while time.monotonic() < watched_until:
                health = client.get(f"{server.url}/healthz")
                assert health.status_code == 503, health.text
                time.sleep(0.1)
    finally:
        server.stop()


def test_the_wal_leaves_room_for_the_store_on_a_small_disk(small_disk: Path) -> None:
    """With SQLite's default checkpoint every 1,000 pages, a WAL on a disk with less than 4 MB
    free took all of it, and a checkpoint could then never move a page into the store."""
    provision_device(small_disk, tables=TABLES)
    server = EdgeServer(small_disk, {}).start()
    try:
        token = server.staff_token(MANAGER_PIN)
        with httpx.Client(timeout=10) as client:
            # About 3,000 open-and-reject cycles fill it; twice that leaves room for leaner rows.
            for n in range(6000):
                if _open_and_reject(client, server, token, n) != 200:
                    break
            else:
                pytest.fail("6 MB never filled up")
        wal = (small_disk / "edge.db-wal").stat().st_size
        store = (small_disk / "edge.db").stat().st_size
        assert wal <= 1.5 * 1024 * 1024, f"WAL {wal} bytes beside a store of {store} bytes"
    finally:
        server.stop()


def test_an_idle_device_keeps_no_wal(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    provision_device(data_dir, tables=TABLES)
    server = EdgeServer(data_dir, {"RESTAI_EDGE_MAINTENANCE_INTERVAL": "1"}).start()
    try:
        token = server.staff_token(MANAGER_PIN)
        with httpx.Client(timeout=10) as client:
            for n in range(150):
                assert _open_and_reject(client, server, token, n) == 200
        wal = data_dir / "edge.db-wal"
        assert wal.stat().st_size > 0
        deadline = time.monotonic() + 10
        while wal.exists() and wal.stat().st_size > 0:
            assert time.monotonic() < deadline, f"WAL still {wal.stat().st_size} bytes when idle"
            time.sleep(0.2)
    finally:
        server.stop()


def test_a_device_restarted_on_a_full_disk_serves_reads_and_recovers(small_disk: Path) -> None:
    """A box whose disk filled up while it served, then lost power, comes back up (rather than
    failing until systemd gives up): reads work, writes answer 503, freed space is noticed."""
    provision_device(small_disk, tables=TABLES)
    before = EdgeServer(small_disk, {}).start()
    created = httpx.post(before.customer_url(f"{SLUG}-1", "session"), json={"customerName": "Ana"})
    assert created.status_code == 201, created.text
    before.kill()  # the power cut: the WAL and its index stay beside the store
    filler = small_disk / "filler"
    fill(filler)
    server = EdgeServer(small_disk, {"RESTAI_EDGE_MAINTENANCE_INTERVAL": "1"})
    assert server.log_path is not None
    # Started by hand: EdgeServer.start waits for a healthy 200, which a full disk never gives.
    with open(server.log_path, "ab") as output:
        server.process = subprocess.Popen(
            [*server.argv, "--port", str(server.port)],
            env={**os.environ, **server.env},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.process.poll() is None, server.log()
            try:
                health = httpx.get(f"{server.url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, server.log()
                time.sleep(0.2)
        # The start-up write probe may still find room in the WAL the power cut left; the
        # first write that needs a new page of disk tells.
        assert health.status_code in (200, 503), health.text
        status = httpx.get(server.customer_url(f"{SLUG}-1", "check-session"))
        assert status.status_code == 200 and status.json()["data"]["hasSession"], status.text
        token = server.staff_token(MANAGER_PIN)
        with httpx.Client(timeout=10) as client:
            statuses = [_open_and_reject(client, server, token, n) for n in range(2, 400)]
        assert next(s for s in statuses if s not in (200, 201)) == 503, set(statuses)
        health = httpx.get(f"{server.url}/healthz")
        assert health.status_code == 503, health.text
        _assert_storage_full(
            httpx.post(server.customer_url(f"{SLUG}-2", "session"), json={"customerName": "Ana"})
        )
        # Two rounds of the maintenance job: its checkpoint cuts the WAL, which gives back a few
        # kilobytes, room for its one-page probe on a disk that is still full. Still degraded.
        time.sleep(2.5)
        health = httpx.get(f"{server.url}/healthz")
        assert health.status_code == 503, health.text
        filler.unlink()
        deadline = time.monotonic() + RECOVERY_WITHIN
        while httpx.get(f"{server.url}/healthz").status_code != 200:
            assert time.monotonic() < deadline, "still degraded after space returned"
            time.sleep(0.2)
        created = httpx.post(
            server.customer_url(f"{SLUG}-2", "session"), json={"customerName": "Ana"}
        )
        assert created.status_code == 201, created.text
    finally:
        server.stop()
    assert "Traceback" not in server.log()


def test_a_cleanly_stopped_device_on_a_full_disk_says_so(small_disk: Path) -> None:
    """A store closed cleanly has no WAL index beside it, and SQLite needs room to make one:
    then the device cannot open it, and says why in one line."""
    provision_device(small_disk, tables=TABLES)
    fill(small_disk / "filler")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "provisioning",
            "--data-dir",
            str(small_disk),
            "serve",
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        line for line in done.stderr.strip().splitlines() if line.startswith("Error:")
    ], done.stderr
    assert "disk holding it is full" in done.stderr, done.stderr
