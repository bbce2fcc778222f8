"""Device settings: declared once, resolved from flags, then the environment, then defaults.

Branch-level behaviour that staff change while the device runs (auto-approve, join policy, pending
TTL) is not here: it lives in the store (`edge.branch`) so the `settings` command can change it
without a restart.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_PREFIX = "RESTAI_EDGE_"


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the setting and the value."""


@dataclass(frozen=True)
class RateLimit:
    """At most `count` requests per `seconds`; `count == 0` turns the limit off."""

    count: int
    seconds: int

    @property
    def enabled(self) -> bool:
        return self.count > 0

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        text = text.strip()
        if text == "0":
            return cls(0, 0)
        match = re.fullmatch(r"(\d+)/(\d+)", text)
        if not match or int(match.group(1)) < 1 or int(match.group(2)) < 1:
            raise ValueError("expected N/SECONDS with positive integers (e.g. 5/600), or 0 for off")
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return "0" if not self.enabled else f"{self.count}/{self.seconds}"


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be a positive integer")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must be 0 or a positive integer")
    return value


def _optional_path(text: str) -> Path | None:
    return Path(text) if text.strip() else None


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError("must be between 0 and 65535")
    return value


def parse_bool(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true or false")


def _log_level(text: str) -> str:
    level = text.strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
    return level


@dataclass(frozen=True)
class Setting:
    """A named value with its parser, default and help (device and branch settings alike)."""

    name: str
    parse: Callable[[Any], Any]
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("data_dir", Path, "./var", "Directory holding the store and the secret files"),
    Setting("host", str, "0.0.0.0", "Address the server listens on"),
    Setting("port", _port, "8000", "Port of the HTTP API, pages and Socket.IO"),
    Setting(
        "tls_port", _port, "8443", "Port of the HTTPS listener for staff tablets (when TLS is set)"
    ),
    Setting(
        "tls_cert",
        _optional_path,
        "",
        "PEM certificate (chain) for the HTTPS listener [default: the data dir's tls.crt, if any]",
    ),
    Setting(
        "tls_key",
        _optional_path,
        "",
        "PEM key (unencrypted) for the HTTPS listener [default: the data dir's tls.key, if any]",
    ),
    Setting(
        "session_rate_limit",
        RateLimit.parse,
        "5/600",
        "Session creations allowed per client address, as N/SECONDS (0 turns it off)",
    ),
    Setting(
        "pending_per_address",
        _count,
        "1",
        "Table requests one client address may have waiting for approval at once (0 turns it off)",
    ),
    Setting("customer_token_ttl", _positive_int, "14400", "Lifetime of diner tokens, seconds"),
    Setting("staff_token_ttl", _positive_int, "43200", "Lifetime of staff tokens, seconds"),
    Setting("sync_interval", _positive_int, "15", "Seconds between upstream sync passes"),
    Setting("sync_backoff_cap", _positive_int, "300", "Longest wait between failed syncs, seconds"),
    Setting("catalog_interval", _positive_int, "60", "Seconds between catalog pulls"),
    Setting("sync_retention", _positive_int, "604800", "Seconds acknowledged outbox rows are kept"),
    Setting(
        "event_retention", _positive_int, "900", "Seconds realtime events are kept for catch-up"
    ),
    Setting("print_timeout", _positive_int, "10", "Seconds one attempt to print a ticket may take"),
    Setting("print_retry_cap", _positive_int, "30", "Longest wait between failed prints, seconds"),
    Setting(
        "retention_days",
        _positive_int,
        "90",
        "Days a finished session is kept (then removed once the central has it)",
    ),
    Setting(
        "maintenance_interval",
        _positive_int,
        "10",
        "Seconds between store upkeep runs (WAL cut when idle, free-space probe on a full disk)",
    ),
    Setting("access_log", parse_bool, "false", "Log every HTTP request"),
    Setting("log_level", _log_level, "INFO", "Logging level"),
)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    host: str
    port: int
    tls_port: int
    tls_cert: Path | None
    tls_key: Path | None
    session_rate_limit: RateLimit
    pending_per_address: int
    customer_token_ttl: int
    staff_token_ttl: int
    sync_interval: int
    sync_backoff_cap: int
    catalog_interval: int
    sync_retention: int
    event_retention: int
    print_timeout: int
    print_retry_cap: int
    retention_days: int
    maintenance_interval: int
    access_log: bool
    log_level: str

    @property
    def db_path(self) -> Path:
        return self.data_dir / "edge.db"

    @classmethod
    def resolve(
        cls, flags: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Flags win over `RESTAI_EDGE_*` variables, which win over defaults.

        A flag given as None counts as not given, so click options can be passed straight in.
        """
        flags = flags or {}
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            flag = flags.get(setting.name)
            if flag is not None and not isinstance(flag, str):
                values[setting.name] = flag
                continue
            env_name = ENV_PREFIX + setting.name.upper()
            if flag is not None:
                raw, source = flag, f"--{setting.name.replace('_', '-')}"
            elif environ.get(env_name, "").strip():
                raw, source = environ[env_name], env_name
            else:
                raw, source = setting.default, f"default of {setting.name}"
            try:
                values[setting.name] = setting.parse(raw)
            except ValueError as exc:
                raise SettingsError(f"{source}={raw!r}: {exc}") from None
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)
