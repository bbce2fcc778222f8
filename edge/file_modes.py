"""Who may read the device's files: the data dir is 0700, and the store, its WAL and
shared-memory files, backups, kept `.bak` stores and secrets are 0600, all owned by the user
that runs the device.

A loose mode is tightened with a warning rather than refused: an unattended branch keeps
serving, the exposure ends at once, and the warning in the journal says which files others could
read (a secret that may have been read should be rotated). A file owned by someone else is
refused: the device cannot fix it, and someone else controls it.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("restai_edge.files")

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
STORE_SIDECARS = ("", "-wal", "-shm", "-journal")


class FileModeError(RuntimeError):
    """A file or directory the device cannot make private; the message says what to do."""


def _not_ours(path: Path, owner: int) -> FileModeError:
    return FileModeError(
        f"{path} belongs to uid {owner}, not to the user running restai-edge"
        f" (uid {os.geteuid()}): run restai-edge as its owner, or chown it"
    )


def make_private(path: Path, mode: int = PRIVATE_FILE) -> bool:
    """Narrow `path` to `mode` (with a warning if it was wider); False if it does not exist."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return False
    if info.st_uid != os.geteuid():
        raise _not_ours(path, info.st_uid)
    current = stat.S_IMODE(info.st_mode)
    if current & ~mode:
        try:
            os.chmod(path, mode)
        except OSError as exc:
            raise FileModeError(f"cannot make {path} private: {exc.strerror}") from None
        log.warning(
            "%s was mode %04o, readable by others: tightened to %04o (rotate anything secret"
            " in it if others may have read it)",
            path,
            current,
            mode,
        )
    return True


def check_data_dir(data_dir: Path) -> None:
    """The data dir, if it exists, is ours and private (0700)."""
    if data_dir.exists() and not data_dir.is_dir():
        raise FileModeError(f"the data dir {data_dir} is not a directory")
    make_private(data_dir, PRIVATE_DIR)


def tighten_store_files(db_path: Path) -> None:
    """The store and every file SQLite keeps beside it; new sidecars inherit the store's mode."""
    for suffix in STORE_SIDECARS:
        make_private(db_path.with_name(db_path.name + suffix))
