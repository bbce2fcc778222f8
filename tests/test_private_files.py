"""The device's files are its own (#13 point 5): data dir 0700; store, WAL, shared memory,
backups and kept `.bak` stores 0600, whatever the umask of whoever runs the command; and a
restore knows its own device's backup even when the store it replaces is unreadable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.test_provision_cli import mode, new_device, restai

OPEN_UMASK = 0o000  # the worst a shell could hand us


@pytest.fixture
def device(tmp_path: Path) -> Path:
    data_dir = tmp_path / "data"
    new_device(data_dir, 2)
    return data_dir


def test_provision_makes_the_store_private_under_any_umask(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    done = restai(
        data_dir,
        "provision",
        "--branch-slug",
        "downtown-lima",
        "--branch-name",
        "Downtown Lima",
        "--tables",
        "2",
        umask=OPEN_UMASK,
    )
    assert done.returncode == 0, done.stderr
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "edge.db") == 0o600


def test_provision_tightens_an_existing_open_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    data_dir.chmod(0o777)
    new_device(data_dir, 2)
    assert mode(data_dir) == 0o700


def test_backup_and_the_kept_store_are_private(device: Path, tmp_path: Path) -> None:
    # A store an older release left world-readable.
    (device / "edge.db").chmod(0o644)
    backup = tmp_path / "copy.db"
    done = restai(device, "backup", "--out", str(backup), umask=OPEN_UMASK)
    assert done.returncode == 0, done.stderr
    assert mode(backup) == 0o600
    assert mode(device / "edge.db") == 0o600

    (device / "edge.db").chmod(0o644)
    done = restai(device, "restore", str(backup), umask=OPEN_UMASK)
    assert done.returncode == 0, done.stderr
    (kept,) = [p for p in device.iterdir() if p.name.startswith("edge.db.bak-")]
    assert mode(kept) == 0o600
    assert mode(device / "edge.db") == 0o600


def test_restoring_the_own_backup_over_a_damaged_store_is_not_another_device(
    device: Path, tmp_path: Path
) -> None:
    """Restoring is what one does when the store is damaged: the note about another device's
    PINs must not appear then, as the device's own pin.key is still here."""
    backup = tmp_path / "copy.db"
    assert restai(device, "backup", "--out", str(backup)).returncode == 0
    (device / "edge.db").write_bytes(os.urandom(8192))

    done = restai(device, "restore", str(backup))

    assert done.returncode == 0, done.stderr
    assert "another device" not in done.stdout, done.stdout


def test_restoring_the_own_backup_after_another_devices_is_not_another_device(
    device: Path, tmp_path: Path
) -> None:
    own = tmp_path / "own.db"
    assert restai(device, "backup", "--out", str(own)).returncode == 0
    other_dir = tmp_path / "other"
    new_device(other_dir, 2)
    other = tmp_path / "other.db"
    assert restai(other_dir, "backup", "--out", str(other)).returncode == 0

    first = restai(device, "restore", str(other))
    assert "this backup comes from another device" in first.stdout
    second = restai(device, "restore", str(own))
    assert second.returncode == 0, second.stderr
    assert "another device" not in second.stdout, second.stdout
