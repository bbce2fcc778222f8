"""One log format for the device and every library in it, at levels that keep a healthy box
quiet.

Left alone, each library logs its own way: Sanic with its own formatter (and an INFO line per
closed websocket), APScheduler as bare messages through Python's last-resort handler (no time,
no level), engine.io through a handler of its own, httpx a line per request. Here every logger
propagates to one handler on the root logger with our format; our own loggers (`restai_edge.*`)
log at the configured level, libraries only at WARNING and above, and the two warnings that
APScheduler gives for outcomes we chose (`coalesce=True, max_instances=1`: a run skipped while
the previous one is still going, or folded after a stall) are demoted to DEBUG.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from edge.write_health import is_storage_full

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
OURS = "restai_edge"
# Libraries whose INFO lines are per request, per connection or per job run.
LIBRARIES = ("sanic", "apscheduler", "engineio", "socketio", "httpx", "httpcore", "websockets")
ACCESS = "sanic.access"
# APScheduler's words for a run skipped or folded by design (see the module docstring).
EXPECTED_SCHEDULER_WARNINGS = ("maximum number of running instances reached", "was missed by")


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a record is emitted (click's test runner swaps
    it), like Python's own last-resort handler."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


class DeviceFormatter(logging.Formatter):
    """Our format; Sanic's access records carry their details as extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        if record.name == ACCESS:
            fields = (getattr(record, name, "") for name in ("host", "request", "status", "byte"))
            words = [record.getMessage(), *(str(field).strip() for field in fields)]
            record = logging.makeLogRecord(record.__dict__)
            record.msg, record.args = " ".join(word for word in words if word), ()
        return super().format(record)


class StorageFullTracebacks(logging.Filter):
    """A full disk fails every write in every loop (requests, sync, printing, jobs); the store
    logs the condition once a minute (`edge.write_health`), so each failure's own traceback is
    dropped rather than written, by thousands, to the disk that is full."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and is_storage_full(record.exc_info[1]))  # type: ignore[arg-type]


class ExpectedSchedulerWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and any(
            words in record.getMessage() for words in EXPECTED_SCHEDULER_WARNINGS
        ):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(OURS).isEnabledFor(logging.DEBUG)
        return True


def configure_logging(level: str, *, access_log: bool = False) -> None:
    """Route every logger through one handler in our format; safe to call again."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _CurrentStderr):
            root.removeHandler(handler)
    handler = _CurrentStderr()
    handler.setFormatter(DeviceFormatter(FORMAT))
    handler.addFilter(ExpectedSchedulerWarnings())
    handler.addFilter(StorageFullTracebacks())
    root.addHandler(handler)
    root.setLevel(logging.WARNING)

    ours = logging.getLogger(OURS)
    ours.setLevel(level)
    ours.propagate = True
    for handler in list(ours.handlers):
        ours.removeHandler(handler)
    library_level = max(logging.WARNING, logging.getLevelName(level))
    for name in LIBRARIES:
        library = logging.getLogger(name)
        # A level set before engine.io builds its server also stops it adding its own handler.
        library.setLevel(library_level)
        library.propagate = True
    logging.getLogger(ACCESS).setLevel(logging.INFO if access_log else logging.WARNING)
    logging.captureWarnings(True)
