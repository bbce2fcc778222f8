"""A pretend network printer for the demo and the tests, and a reader of what it received.

`DevPrinter` listens on raw TCP like a kitchen printer (port 9100) and keeps the bytes of every
connection; it can be switched off (connections refused) and on again, or made to accept
connections and never read (a printer out of paper). `decode` reads ESC/POS the way a printer
would, independently of the library that wrote it: text in the selected code page, bold and
double size per line, feeds and the paper cut. Commands it does not know are an error, so a
ticket carrying anything unexpected (a diner's note smuggling a cash-drawer kick) fails loudly.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

ESC, GS = 0x1B, 0x1D
CODE_PAGES = {0: "cp437", 2: "cp850", 16: "cp1252", 19: "cp858"}
ALIGN = {0: "left", 1: "center", 2: "right", 48: "left", 49: "center", 50: "right"}


class DecodeError(ValueError):
    pass


@dataclass
class Line:
    text: str
    bold: bool = False
    tall: bool = False
    wide: bool = False
    align: str = "left"


@dataclass
class Ticket:
    """What one stretch of paper shows, up to and including its cut (`cut` False: no cut)."""

    lines: list[Line] = field(default_factory=list)
    cut: bool = False

    @property
    def text(self) -> list[str]:
        return [line.text for line in self.lines]


def decode(data: bytes) -> list[Ticket]:
    """The tickets `data` prints, split at each paper cut (a trailing uncut piece included)."""
    tickets, current = [], Ticket()
    codec, bold, tall, wide, align = "cp437", False, False, False, "left"
    text = bytearray()
    line_style: tuple[bool, bool, bool, str] | None = None
    i = 0

    def end_line() -> None:
        nonlocal text, line_style
        style = line_style or (bold, tall, wide, align)
        current.lines.append(Line(text.decode(codec), *style))
        text, line_style = bytearray(), None

    while i < len(data):
        byte = data[i]
        if byte == 0x0A:
            end_line()
            i += 1
        elif byte == ESC:
            command = data[i + 1 : i + 2]
            if command == b"@":
                codec, bold, tall, wide, align = "cp437", False, False, False, "left"
                i += 2
            elif command == b"t":
                number = data[i + 2]
                if number not in CODE_PAGES:
                    raise DecodeError(f"unknown code page {number}")
                codec = CODE_PAGES[number]
                i += 3
            elif command == b"!":
                mode = data[i + 2]
                bold, tall, wide = bool(mode & 0x08), bool(mode & 0x10), bool(mode & 0x20)
                i += 3
            elif command == b"E":
                bold = bool(data[i + 2] & 1)
                i += 3
            elif command == b"a":
                align = ALIGN[data[i + 2]]
                i += 3
            elif command == b"d":
                for _ in range(data[i + 2]):
                    end_line()
                i += 3
            else:
                raise DecodeError(f"unexpected ESC {command!r} at byte {i}")
        elif byte == GS:
            command = data[i + 1 : i + 2]
            if command == b"V":
                mode = data[i + 2]
                i += 4 if mode in (65, 66) else 3
                if text:
                    end_line()
                current.cut = True
                tickets.append(current)
                current = Ticket()
            elif command == b"!":
                size = data[i + 2]
                wide, tall = bool(size & 0xF0), bool(size & 0x0F)
                i += 3
            else:
                raise DecodeError(f"unexpected GS {command!r} at byte {i}")
        elif byte < 0x20:
            raise DecodeError(f"unexpected control byte {byte:#04x} at byte {i}")
        else:
            if not text:
                line_style = (bold, tall, wide, align)
            text.append(byte)
            i += 1
    if text:
        end_line()
    if current.lines:
        tickets.append(current)
    return tickets


def printed_text(ticket: Ticket) -> str:
    """A ticket as a person reads it: its lines, blank feed lines dropped at the end."""
    lines = ticket.text
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


class DevPrinter:
    """A raw-TCP printer on 127.0.0.1 (port 0: a free one) recording every connection."""

    def __init__(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        on_ticket: Callable[[Ticket], None] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._on_ticket = on_ticket
        self._lock = threading.Lock()
        self._connections: list[bytes] = []
        self._listener: socket.socket | None = None
        self._stuck: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self.reading = True

    # ----------------------------------------------------------------- power

    def start(self, *, reading: bool = True) -> DevPrinter:
        """Switch on; `reading=False`: accept connections but never read (out of paper)."""
        self.reading = reading
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if not reading:
            # A printer's buffer is small: its receive window closes after a few kilobytes.
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        listener.bind((self.host, self.port))
        self.port = listener.getsockname()[1]
        listener.listen(16)
        self._listener = listener
        thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Switch off: connections are refused from now on."""
        listener, self._listener = self._listener, None
        if listener is not None:
            # shutdown wakes the thread blocked in accept(); close alone would leave it listening.
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for conn in self._stuck:
            conn.close()
        self._stuck.clear()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    # ----------------------------------------------------------------- paper

    @property
    def connections(self) -> list[bytes]:
        with self._lock:
            return list(self._connections)

    def tickets(self) -> list[Ticket]:
        return [ticket for data in self.connections for ticket in decode(data)]

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            if not self.reading:
                self._stuck.append(conn)
                continue
            # One job at a time, in the order the connections came, as a printer on port 9100
            # works: tickets are recorded in the order they were sent.
            self._read(conn)

    def _read(self, conn: socket.socket) -> None:
        chunks = []
        with conn:
            conn.settimeout(30)
            while True:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
        data = b"".join(chunks)
        if not data:
            return
        with self._lock:
            self._connections.append(data)
        if self._on_ticket is not None:
            for ticket in decode(data):
                self._on_ticket(ticket)
