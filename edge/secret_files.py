"""Secrets kept as files in the data dir, readable by the device's user only (mode 0600).

A secret the device cannot use (missing, empty, a directory, unreadable, someone else's) stops
it with one sentence naming the file; one readable by others is tightened with a warning
(`edge.file_modes` says why).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from edge.file_modes import make_private

JWT_SECRET = "jwt.secret"
PIN_KEY = "pin.key"
DEVICE_TOKEN = "device.token"
# Not a secret: names the device whose pin.key this data dir holds, so that `restore` can tell
# its own backups from another device's even when the store it replaces is unreadable.
DEVICE_ID = "device.id"


class SecretError(RuntimeError):
    """A secret file the device cannot use; the message names the file and what to do."""


class SecretMissing(SecretError):
    pass


def write_secret(data_dir: Path, name: str, value: str) -> Path:
    """Write atomically with mode 0600 from the first byte, so no reader ever sees it wider."""
    path = data_dir / name
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, value.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return path


def ensure_secret(data_dir: Path, name: str) -> str:
    """Return the secret, generating a fresh random one the first time."""
    path = data_dir / name
    if path.exists():
        return read_secret(data_dir, name)
    value = secrets.token_urlsafe(48)
    write_secret(data_dir, name, value)
    return value


def read_secret(data_dir: Path, name: str) -> str:
    path = data_dir / name
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise SecretMissing(
            f"{path} is missing: run 'restai-edge provision' for this data dir first"
        ) from None
    except IsADirectoryError:
        raise SecretError(
            f"{path} is a directory, not a secret file: move it away and run"
            " 'restai-edge provision' to make a new one"
        ) from None
    except PermissionError:
        raise SecretError(
            f"cannot read {path}: permission denied (it must belong to the user running"
            " restai-edge)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretError(f"cannot read {path}: {exc}") from None
    make_private(path)
    if not value:
        raise SecretMissing(f"{path} is empty")
    return value


def read_optional_secret(data_dir: Path, name: str) -> str | None:
    try:
        return read_secret(data_dir, name)
    except SecretMissing:
        return None
