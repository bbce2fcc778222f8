"""Raw TCP to an ESC/POS printer (port 9100), with one deadline and a delivery confirmation.

python-escpos's `Network` printer sends with a blocking socket and a per-call timeout, and
counts a ticket as sent once the bytes are in this machine's kernel. The device needs more: an
attempt that can never outlive its deadline whatever the printer does (off, unplugged, out of
paper and no longer reading, or accepting and never reading), nothing left open afterwards, and
a ticket counted as printed only once the printer has it. So the device sends the bytes itself:

1. connect, write everything, and wait until the printer's TCP stack has acknowledged every
   byte (the socket's unacknowledged output queue, `TIOCOUTQ`, is empty): only then is the
   ticket in the printer and the job done;
2. any failure before that (refused, unreachable, deadline) leaves the job waiting, and the
   connection is aborted (RST) rather than closed, so nothing lingers with unsent bytes.

The one case TCP cannot tell: the connection is lost after the printer received the bytes but
before its acknowledgement reached the device. The device then sends the ticket again, and the
kitchen gets it twice (preferred to a ticket lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import socket
import struct
import termios
from collections.abc import AsyncIterator

# How often the output queue is checked once everything was written.
ACK_POLL = 0.002


class PrintFailed(Exception):
    """The printer did not take the ticket; the message says why, for people."""


def _unacknowledged(sock: socket.socket) -> int:
    """Bytes written to `sock` that the peer has not acknowledged yet (Linux)."""
    raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
    return int(struct.unpack("i", raw)[0])


async def _send(host: str, port: int, data: bytes) -> None:
    _, writer = await asyncio.open_connection(host, port)
    delivered = False
    try:
        # With no buffer of its own, drain() returns only once the kernel holds every byte.
        writer.transport.set_write_buffer_limits(0)
        writer.write(data)
        await writer.drain()
        sock = writer.get_extra_info("socket")
        while _unacknowledged(sock) > 0:
            if writer.transport.is_closing():
                raise ConnectionResetError("the printer closed the connection")
            await asyncio.sleep(ACK_POLL)
        delivered = True
    finally:
        if delivered:
            # Everything is acknowledged: a plain FIN, so the printer reads it all to the end.
            writer.close()
        else:
            # A printer that stopped reading must not keep a socket lingering with our bytes.
            writer.transport.abort()
        # Not waiting for the close: the deadline must never turn a delivered ticket into a
        # failure (and a resend); the transport finishes closing on its own.


@contextlib.asynccontextmanager
async def _attempt(host: str, port: int, deadline: float) -> AsyncIterator[None]:
    """One deadline over the block; any failure becomes `PrintFailed` saying why, for people."""
    try:
        async with asyncio.timeout(deadline):
            yield
    except TimeoutError:
        raise PrintFailed(
            f"no answer from {host}:{port} within {deadline:g} s"
            " (switched off, out of paper or unreachable?)"
        ) from None
    except ConnectionRefusedError:
        raise PrintFailed(f"{host}:{port} refused the connection (not a printer port?)") from None
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise PrintFailed(f"{host}:{port}: {reason}") from None


async def deliver(host: str, port: int, data: bytes, deadline: float) -> None:
    """Send `data` to the printer and return once it has all of it, within `deadline` seconds;
    raises `PrintFailed` otherwise."""
    async with _attempt(host, port, deadline):
        await _send(host, port, data)


async def reachable(host: str, port: int, deadline: float) -> None:
    """Open a connection to the printer and close it again, sending nothing (nothing prints);
    raises `PrintFailed` if it cannot be opened within `deadline` seconds."""
    async with _attempt(host, port, deadline):
        _, writer = await asyncio.open_connection(host, port)
    writer.close()
