"""One lock per data dir, held by `serve` for its whole life and by `restore` while it swaps.

An advisory `flock` on `device.lock` in the data dir: the kernel drops it when its holder exits,
even on `kill -9` or a power cut, so it never goes stale the way a pid file does. The holder
writes its pid and purpose into the file so whoever is refused can say who is in the way.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = "device.lock"
TAKE_WAIT = 1.0  # seconds


class DeviceBusy(RuntimeError):
    """The data dir cannot be taken (another process holds it); the message says what to do."""


def _holder(data_dir: Path) -> str:
    try:
        text = (data_dir / LOCK_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        text = ""
    return text or "another process"


def _busy(data_dir: Path) -> DeviceBusy:
    return DeviceBusy(
        f"the device in {data_dir} is in use ({_holder(data_dir)}):"
        " stop it first (e.g. systemctl stop restai-edge)"
    )


def _take(fd: int, data_dir: Path) -> None:
    # A short wait, because `status` takes the lock for an instant to see whether it is free.
    deadline = time.monotonic() + TAKE_WAIT
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise _busy(data_dir) from None
            time.sleep(0.05)


@contextmanager
def device_lock(data_dir: Path, purpose: str) -> Iterator[None]:
    """Hold the data dir's lock, or raise DeviceBusy if another process keeps holding it."""
    path = data_dir / LOCK_FILE
    try:
        # 0644: the pid is no secret, and `status` run by another user can still probe the lock.
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise DeviceBusy(f"cannot lock the device in {data_dir}: {exc.strerror}") from None
    try:
        _take(fd, data_dir)
        os.ftruncate(fd, 0)
        # Only a note for whoever is refused; the lock itself is the flock. A full disk must
        # not keep the device from starting (it serves reads until space returns).
        with contextlib.suppress(OSError):
            os.write(fd, f"{purpose}, pid {os.getpid()}".encode())
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)


def running_holder(data_dir: Path) -> str | None:
    """What holds the data dir's lock right now ("serving, pid 123"), or None if nothing does."""
    path = data_dir / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _holder(data_dir)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def ensure_free(data_dir: Path) -> None:
    """Raise DeviceBusy if a process holds the data dir now; takes and creates nothing."""
    if running_holder(data_dir) is not None:
        raise _busy(data_dir)
