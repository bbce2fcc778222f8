"""What every `restai-edge` command shares: the data dir it works on, and one way to run async
work that turns a user's mistake into one clear `Error:` line.

Its own module so that `cli.py` (which assembles the groups) and each `*_cli.py` (which define
them) both import it, and neither imports the other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from edge.file_modes import FileModeError, check_data_dir
from edge.printing.printers import PrinterError
from edge.secret_files import SecretError
from edge.settings import Settings, SettingsError
from edge.staff import StaffError
from edge.store import Store
from edge.store_check import StoreError
from edge.tls import TlsError
from provisioning.backup import BackupError
from provisioning.device_lock import DeviceBusy
from provisioning.listener import ListenError
from provisioning.provision import ProvisionError

T = TypeVar("T")

USER_ERRORS: tuple[type[Exception], ...] = (
    BackupError,
    DeviceBusy,
    FileModeError,
    ListenError,
    PrinterError,
    ProvisionError,
    SecretError,
    SettingsError,
    StaffError,
    StoreError,
    TlsError,
)


def run(coro: Awaitable[T]) -> T:
    """Run a coroutine for a command, turning user mistakes into one clear line."""
    try:
        return asyncio.run(coro)  # type: ignore[arg-type]
    except USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from None


async def with_store(store: Store, work: Callable[[Store], Awaitable[T]]) -> T:
    """Open `store`, run `work` on it, close it."""
    async with store:
        return await work(store)


class Obj:
    """What the group hands its commands: the data dir as given (flag, env or default)."""

    def __init__(self, data_dir: str | None) -> None:
        self._data_dir = data_dir

    def settings(self, **flags: Any) -> Settings:
        try:
            return Settings.resolve({"data_dir": self._data_dir, **flags})
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from None

    @property
    def data_dir(self) -> Path:
        return self.settings().data_dir

    def provisioned_store(self) -> Store:
        try:
            check_data_dir(self.data_dir)
        except FileModeError as exc:
            raise click.ClickException(str(exc)) from None
        db = self.data_dir / "edge.db"
        if not db.exists():
            raise click.ClickException(
                f"no device store in {self.data_dir}: run 'restai-edge provision' first"
            )
        return Store(db)


pass_obj = click.make_pass_decorator(Obj)


def last_upstream_error(error: dict[str, Any] | None) -> str:
    """The last failed exchange with the central as `sync status` and `menu status` show it."""
    if error is None:
        return "none"
    code = f"HTTP {error['status']}" if error["status"] is not None else "no answer"
    return f"{error['at']} ({code}) {error['message']}"
