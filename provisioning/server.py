"""Running the device's server in this process.

Everything that can stop a device from serving is checked before the server starts (data dir,
store, secrets, port), so that a broken device stops at once with one sentence and a non-zero
status, for systemd to flag and restart, instead of a traceback from inside the server and a
process that stays up with nothing listening.
"""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from edge.app import create_app
from edge.file_modes import check_data_dir
from edge.logs import configure_logging
from edge.settings import Settings
from edge.store_check import check_store
from edge.tls import TlsListener, fingerprint, resolve_files, server_context
from provisioning.device_lock import device_lock
from provisioning.listener import listen

log = logging.getLogger("restai_edge")

# How long the loop may keep the interpreter from a thread that wants it back (Python's default
# is 5 ms). The store's writer thread needs it twice per group commit, to start the COMMIT and to
# hand its outcome back, and the next group waits for both; under load the loop always has
# Python to run, so those waits ran to the full interval.
SWITCH_INTERVAL = 0.0001


@contextmanager
def _tls_listener(settings: Settings) -> Iterator[TlsListener | None]:
    """The staff tablets' HTTPS listener, when a certificate is set (edge.tls), bound and
    loaded before serving so a bad file or a taken port is one clear line."""
    files = resolve_files(settings.data_dir, settings.tls_cert, settings.tls_key)
    if files is None:
        yield None
        return
    context = server_context(files)
    with listen(settings.host, settings.tls_port) as sock:
        log.info(
            "Serving HTTPS for staff tablets on port %d (certificate %s, %s)",
            settings.tls_port,
            files.cert,
            fingerprint(files.cert.read_bytes()),
        )
        yield TlsListener(sock, context)


def serve(settings: Settings, listener: socket.socket | None = None) -> None:
    """Serve until stopped. One process: rooms, rate limits and the single writer live in it."""
    configure_logging(settings.log_level, access_log=settings.access_log)
    sys.setswitchinterval(SWITCH_INTERVAL)
    data_dir: Path = settings.data_dir
    check_data_dir(data_dir)
    # Held while serving, so `restore` and a second `serve` see the device is in use.
    with device_lock(data_dir, "serving"):
        report = check_store(settings.db_path, thorough=True)
        listener = listener or listen(settings.host, settings.port)
        with listener, _tls_listener(settings) as tls:
            app = create_app(settings, tls)
            if not report.writable:
                # Served all the same: reads work, and writes come back when space does.
                app.ctx.store.health.failed("the write probe at start-up")
            app.run(
                sock=listener,
                single_process=True,
                access_log=settings.access_log,
                motd=False,
            )
