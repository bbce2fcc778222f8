"""Secrets kept as files in the data dir, readable by the device's user only (mode 0600)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

JWT_SECRET = "jwt.secret"
PIN_KEY = "pin.key"
DEVICE_TOKEN = "device.token"


class SecretMissing(RuntimeError):
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
    if not value:
        raise SecretMissing(f"{path} is empty")
    return value


def read_optional_secret(data_dir: Path, name: str) -> str | None:
    try:
        return read_secret(data_dir, name)
    except SecretMissing:
        return None
