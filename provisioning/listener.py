"""The server's listening socket, bound before anything else so a taken port is reported first
(and `demo` says so before it prints its banner)."""

from __future__ import annotations

import socket

LISTEN_BACKLOG = 1024


class ListenError(RuntimeError):
    """The server cannot listen where it was told to."""


def listen(host: str, port: int) -> socket.socket:
    try:
        return socket.create_server(
            (host, port),
            family=socket.AF_INET6 if ":" in host else socket.AF_INET,
            backlog=LISTEN_BACKLOG,
        )
    except OSError as exc:
        # The words "address already in use" are kept: provisioning.server_process retries a
        # lost race for a free port when it reads them.
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
