"""Kitchen tickets as the bytes an ESC/POS printer prints, built with python-escpos.

python-escpos's `Dummy` printer collects the commands (reset, code page, alignment, bold,
double size, feed and cut) into bytes; the device sends them itself (`transport.py`), to keep
timeouts and delivery confirmation under its control. Text goes out in code page 850 (PC850
Multilingual, ESC t 2), which Epson TM printers and the common clones have and which holds
á é í ó ú ñ ¿ ¡ ü in both cases; a character it lacks prints as "?".

Importing python-escpos takes about half a second (it parses its printer database), so it is
imported on first use, which the print worker does off the event loop (`warm_up`).
"""

from __future__ import annotations

import logging
import textwrap
from datetime import datetime
from typing import Any

CODE_PAGE = "CP850"
# The codec a reader of the bytes decodes text with; `tests` decode tickets with it.
CODEC = "cp850"
REPRINT_BANNER = "*** REIMPRESIÓN ***"


def _dummy_printer() -> Any:
    """python-escpos's `Dummy` printer class, imported on first use.

    Importing python-escpos calls `logging.basicConfig()`, which would give the root logger a
    handler of its own and print every record of Sanic and the others a second time; the
    device configures its own logging, so that handler is taken off again.
    """
    root = logging.getLogger()
    before = list(root.handlers)
    from escpos.printer import Dummy

    for handler in root.handlers[:]:
        if handler not in before:
            root.removeHandler(handler)
    return Dummy


def warm_up() -> None:
    """Import python-escpos now (slow, blocking); call it from a thread."""
    _dummy_printer()


def _clean(text: Any) -> str:
    """One line of printable text: a diner's note must never smuggle printer commands (ESC,
    GS, DLE: a cut, a cash drawer kick) onto the kitchen's printer."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in str(text)).split())


def _local_time(iso_utc: str) -> str:
    when = datetime.fromisoformat(iso_utc.replace("Z", "+00:00")).astimezone()
    return when.strftime("%H:%M  %d/%m/%Y")


class _Ticket:
    def __init__(self, width: int) -> None:
        self.width = width
        self.out = _dummy_printer()()
        self.out.hw("INIT")
        self.out.charcode(CODE_PAGE)

    def style(self, *, align: str = "left", bold: bool = False, size: str = "normal") -> None:
        self.out.set(
            align=align,
            bold=bold,
            normal_textsize=size == "normal",
            double_height=size in ("tall", "big"),
            double_width=size == "big",
        )

    def line(self, text: str, *, indent: str = "", width: int | None = None) -> None:
        for row in textwrap.wrap(
            _clean(text),
            width or self.width,
            initial_indent=indent,
            subsequent_indent=indent + "  ",
        ) or [""]:
            self.out.textln(row)

    def rule(self) -> None:
        self.style()
        self.out.textln("-" * self.width)

    def cut(self) -> bytes:
        self.out.cut()
        data: bytes = self.out.output
        return data


def render(ticket: dict[str, Any], width: int) -> bytes:
    """The bytes of one ticket: an order's lines for one station, or `printer test`'s sample."""
    if ticket["kind"] == "test":
        return render_test(ticket, width)
    out = _Ticket(width)
    if ticket.get("reprint"):
        out.style(align="center", bold=True)
        out.line(REPRINT_BANNER)
    out.style(align="center", bold=True)
    out.line(ticket["branch"])
    out.style(align="center", bold=True, size="big")
    out.line(f"MESA {ticket['table_number']}", width=width // 2)
    out.line(f"Pedido #{ticket['order_number']}", width=width // 2)
    out.style()
    out.line(f"Hora: {_local_time(ticket['created_at'])}")
    out.line(f"Cliente: {ticket['diner']}")
    out.line(f"Estación: {ticket['station']}")
    out.rule()
    for item in ticket["lines"]:
        out.style(bold=True, size="tall")
        out.line(f"{item['quantity']} x {item['name']}")
        out.style()
        for modifier in item["modifiers"]:
            out.line(f"+ {modifier}", indent="    ")
        if item["notes"]:
            out.line(f"Nota: {item['notes']}", indent="    ")
    out.rule()
    if ticket["notes"]:
        out.style(bold=True)
        out.line(f"Nota del pedido: {ticket['notes']}")
    return out.cut()


def render_test(ticket: dict[str, Any], width: int) -> bytes:
    out = _Ticket(width)
    out.style(align="center", bold=True, size="big")
    out.line("PRUEBA", width=width // 2)
    out.style(align="center", bold=True)
    out.line(f"Impresora: {ticket['station']}")
    out.style()
    out.line(f"Dirección: {ticket['address']}")
    out.line(f"Ancho: {width} caracteres")
    out.rule()
    out.line("Acentos: á é í ó ú  Á É Í Ó Ú")
    out.line("Eñes: ñ Ñ   Diéresis: ü Ü")
    out.line("¿Se lee bien? ¡Sí, perfecto!")
    out.style(bold=True, size="tall")
    out.line("2 x Ají de gallina")
    out.style()
    out.line("+ Sin picante, añadir limón", indent="    ")
    out.rule()
    out.line("".join(str(column % 10) for column in range(1, width + 1)))
    return out.cut()
