"""Printable table QR codes: an A4 PDF sheet of cut-out cards, or one PNG + SVG per table."""

from __future__ import annotations

import functools
import os
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import zxingcpp
from PIL import Image, ImageDraw, ImageFont, ImageOps
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas

T = TypeVar("T")
R = TypeVar("R")

QUIET_ZONE = 4  # modules; the minimum the QR spec asks for
INSTRUCTION = "Escanea para pedir desde tu mesa"
CODE_LABEL = "Código:"

# PDF layout, in points. Cards touch each other so one straight cut separates two cards.
PAGE_W, PAGE_H = A4
COLS, ROWS = 3, 4
PER_PAGE = COLS * ROWS
MARGIN = 28  # ~10 mm: clear of the unprintable border of office printers
CARD_W = (PAGE_W - 2 * MARGIN) / COLS
CARD_H = (PAGE_H - 2 * MARGIN) / ROWS
CARD_PAD = 6
MARK_LEN = 8
LABEL_BLOCK = 62  # height reserved under the code for the four text lines

# PNG layout, in pixels at PNG_DPI.
PNG_DPI = 300
PNG_BOX = 16  # px per module: ~1.35 mm, comfortably scannable from a table
PNG_MIN_W = 900
PNG_PAD = 40

# SVG layout, in millimetres.
SVG_MODULE = Decimal("1.5")
SVG_MIN_W = Decimal(75)
SVG_PAD = Decimal(4)


@dataclass(frozen=True)
class QrTable:
    number: int
    code: str  # e.g. "downtown-lima-15"
    short_code: str  # 5 chars from 23456789ABCDEFGHJKMNPQRSTVWXYZ
    url: str  # e.g. "https://app.restai.com/downtown-lima/downtown-lima-15?k=7KQ2M9XH4P"


def table_url(base_url: str, branch_slug: str, table_code: str, table_key: str) -> str:
    """What a table's QR code opens; the key proves presence when joining an open table."""
    return f"{base_url.rstrip('/')}/{branch_slug}/{table_code}?k={table_key}"


_RANGE_ITEM = re.compile(r"\s*([0-9]+)\s*(?:-\s*([0-9]+)\s*)?")


def parse_table_ranges(spec: str, max_number: int) -> list[int]:
    """Parse "1-5,9" into [1, 2, 3, 4, 5, 9] (sorted, duplicates merged)."""
    if max_number < 1:
        raise ValueError(
            f"This branch has no tables to print (maximum table number is {max_number})."
        )
    if not spec or not spec.strip():
        raise ValueError("No tables given: use numbers and ranges such as '1-5,9'.")
    numbers: set[int] = set()
    for item in spec.split(","):
        match = _RANGE_ITEM.fullmatch(item)
        if match is None:
            shown = item.strip() or "(empty)"
            raise ValueError(
                f"Invalid table selection '{shown}' in '{spec}': "
                "use a number like 7 or a range like 1-5, separated by commas."
            )
        start = int(match.group(1))
        end = int(match.group(2)) if match.group(2) is not None else start
        shown = item.strip()
        if start > end:
            raise ValueError(
                f"Reversed range '{shown}': the first number must not be larger"
                f" (did you mean {end}-{start}?)."
            )
        if start < 1:
            raise ValueError(f"Invalid table number 0 in '{shown}': table numbers start at 1.")
        if end > max_number:
            raise ValueError(
                f"Table {end} in '{shown}' does not exist:"
                f" the highest table number is {max_number}."
            )
        numbers.update(range(start, end + 1))
    return sorted(numbers)


def _matrix(url: str) -> tuple[int, bytes]:
    """The code's side in modules and its modules row by row (0 dark, 255 light), without the
    quiet zone. Error correction M: a code on a table survives a stain or a scratch."""
    code = zxingcpp.create_barcode(url, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    image = code.to_image(scale=1, add_quiet_zones=False)
    # The image is a buffer of one byte per module; zxing-cpp's stubs do not declare it.
    return int(image.shape[0]), bytes(image)  # type: ignore[call-overload]


# Below this many codes a pool of processes costs more to start than it saves.
PARALLEL_FROM = 48
CHUNK = 32


def _in_parallel(function: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
    """`map(function, items)`, in order, on every core: a branch may print 10,000 codes, and
    the sheet is drawn on this core while the others encode."""
    workers = len(os.sched_getaffinity(0))
    if len(items) < PARALLEL_FROM or workers < 2:
        yield from map(function, items)
        return
    with ProcessPoolExecutor(workers) as pool:
        yield from pool.map(function, items, chunksize=CHUNK)


def _check_unique(tables: Sequence[QrTable]) -> None:
    if not tables:
        raise ValueError("No tables to print.")
    seen: set[int] = set()
    for t in tables:
        if t.number in seen:
            raise ValueError(f"Table {t.number} appears twice.")
        seen.add(t.number)


# --------------------------------------------------------------------------- PDF


def _pdf_safe(text: str) -> str:
    # The built-in PDF fonts only cover cp1252; anything else would print as black boxes.
    out = []
    for ch in text:
        try:
            ch.encode("cp1252")
            out.append(ch)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", ch).encode("cp1252", "ignore").decode("cp1252")
            out.append(base or "?")
    return "".join(out)


def _fit(
    text: str, width: Callable[[str, float], float], size: float, min_size: float, max_w: float
) -> tuple[str, float]:
    """Shrink down to min_size, then truncate with an ellipsis, so text never leaves its box."""
    while size > min_size and width(text, size) > max_w:
        size = max(min_size, size - 0.5)
    if width(text, size) <= max_w:
        return text, size
    while text and width(text.rstrip() + "…", size) > max_w:
        text = text[:-1]
    return text.rstrip() + "…", size


Runs = list[tuple[int, int, int]]


_DARK_RUN = re.compile(rb"\x00+")


def _dark_runs(url: str) -> tuple[int, Runs]:
    """The code's side in modules and its dark modules as horizontal runs (row, start, length):
    one path of runs draws with fewer objects and no hairline seams between modules."""
    n, modules = _matrix(url)
    runs = [
        (row, found.start() - row * n, found.end() - found.start())
        for row in range(n)
        for found in _DARK_RUN.finditer(modules, row * n, (row + 1) * n)
    ]
    return n, runs


def _pdf_outline(url: str) -> tuple[int, str]:
    """The code's side in modules and its dark modules as PDF path operators in module units
    (row 0 at the top), filled: made on another core, so the sheet's own core only places it."""
    n, runs = _dark_runs(url)
    return n, " ".join(f"{start} {row} {length} 1 re" for row, start, length in runs) + " f"


def _draw_card(
    c: canvas.Canvas, table: QrTable, symbol: tuple[int, str], branch: str, x: float, y: float
) -> None:
    """Draw one card with its bottom-left corner at (x, y)."""
    n, outline = symbol
    total = n + 2 * QUIET_ZONE
    side = min(CARD_W - 2 * CARD_PAD, CARD_H - 2 * CARD_PAD - LABEL_BLOCK)
    module = side / total
    qx = x + (CARD_W - side) / 2 + QUIET_ZONE * module
    qtop = y + CARD_H - CARD_PAD - QUIET_ZONE * module

    # One filled path of the code's dark runs, drawn in modules: reportlab's path object
    # would format ~350 rectangles per code here, which is most of a 10,000-table sheet's time.
    c.saveState()
    c.setFillGray(0)
    c.transform(module, 0, 0, -module, qx, qtop)
    c.addLiteral(outline)
    c.restoreState()

    cx = x + CARD_W / 2
    max_w = CARD_W - 2 * CARD_PAD
    line = y + CARD_H - CARD_PAD - side  # bottom of the quiet zone

    line -= 17
    c.setFont("Helvetica-Bold", 17)
    c.drawCentredString(cx, line, f"Mesa {table.number}")

    name, size = _fit(_pdf_safe(branch), lambda s, z: stringWidth(s, "Helvetica", z), 10, 7, max_w)
    line -= 12
    c.setFont("Helvetica", size)
    c.drawCentredString(cx, line, name)

    line -= 17
    label = CODE_LABEL + " "
    code = _pdf_safe(table.short_code)
    lw = stringWidth(label, "Helvetica", 9)
    cw = stringWidth(code, "Courier-Bold", 16)
    left = cx - (lw + cw) / 2
    c.setFont("Helvetica", 9)
    c.drawString(left, line, label)
    c.setFont("Courier-Bold", 16)
    c.drawString(left + lw, line, code)

    line -= 11
    c.setFont("Helvetica-Oblique", 7.5)
    c.drawCentredString(cx, line, INSTRUCTION)


def _draw_cut_marks(c: canvas.Canvas, corners: set[tuple[float, float]]) -> None:
    # A cross at every card corner: outside the grid it is a classic crop mark, inside it
    # sits on the shared cut line, so every card shows all four corners to cut along.
    c.setLineWidth(0.3)
    c.setStrokeGray(0)
    for px, py in corners:
        c.line(px - MARK_LEN, py, px + MARK_LEN, py)
        c.line(px, py - MARK_LEN, px, py + MARK_LEN)


def write_pdf_sheet(
    tables: Sequence[QrTable],
    branch_name: str,
    out: Path,
    progress: Callable[[int], None] | None = None,
) -> int:
    _check_unique(tables)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    c = canvas.Canvas(str(out), pagesize=A4)
    c.setTitle(_pdf_safe(f"Códigos QR de mesas - {branch_name}"))
    c.setCreator("RestAI Edge")
    pages = 0
    codes = _in_parallel(_pdf_outline, [table.url for table in tables])
    for first in range(0, len(tables), PER_PAGE):
        corners: set[tuple[float, float]] = set()
        for i, table in enumerate(tables[first : first + PER_PAGE]):
            col, row = i % COLS, i // COLS
            x = MARGIN + col * CARD_W
            y = PAGE_H - MARGIN - (row + 1) * CARD_H
            _draw_card(c, table, next(codes), branch_name, x, y)
            corners.update({(x, y), (x + CARD_W, y), (x, y + CARD_H), (x + CARD_W, y + CARD_H)})
            if progress:
                progress(1)
        _draw_cut_marks(c, corners)
        c.showPage()
        pages += 1
    c.save()
    return pages


# --------------------------------------------------------------------------- PNG / SVG


# Pillow's bundled font has no accented glyphs ("Código" would print a box), so prefer
# a system TrueType font (Debian: fonts-dejavu-core) and fold text to ASCII without one.
_TTF = {
    (False, False): ("DejaVuSans.ttf", "LiberationSans-Regular.ttf"),
    (True, False): ("DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf"),
    (True, True): ("DejaVuSansMono-Bold.ttf", "LiberationMono-Bold.ttf"),
}


@functools.lru_cache(maxsize=64)
def _font(
    size: int, bold: bool = False, mono: bool = False
) -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, bool]:
    """Return (font, covers_latin1)."""
    for name in _TTF[(bold or mono, mono)]:
        try:
            return ImageFont.truetype(name, size), True
        except OSError:
            continue
    return ImageFont.load_default(size=size), False


def _ascii(text: str) -> str:
    text = text.replace("\u2014", "-").replace("\u2013", "-")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _pil_text(
    text: str, size: int, bold: bool = False, mono: bool = False
) -> tuple[str, ImageFont.FreeTypeFont | ImageFont.ImageFont]:
    font, latin = _font(size, bold, mono)
    return (text if latin else _ascii(text)), font


def _png(table: QrTable, branch: str, path: Path) -> None:
    n, modules = _matrix(table.url)
    symbol = ImageOps.expand(Image.frombytes("L", (n, n), modules), QUIET_ZONE, fill=255)
    side = symbol.width * PNG_BOX
    qr_img = symbol.resize((side, side), Image.Resampling.NEAREST)
    width = max(PNG_MIN_W, qr_img.width + 2 * PNG_PAD)
    measure = ImageDraw.Draw(Image.new("L", (1, 1)))

    def text_w(s: str, size: float, bold: bool = False, mono: bool = False) -> float:
        s, font = _pil_text(s, int(size), bold, mono)
        return measure.textlength(s, font=font)

    name, name_size = _fit(branch, text_w, 44, 24, width - 2 * PNG_PAD)
    label, code = CODE_LABEL + " ", table.short_code
    lw, cw = text_w(label, 40), text_w(code, 72, mono=True)
    # (pieces of (x, text, size, bold, mono, anchor), line height)
    lines = [
        ([(width / 2, f"Mesa {table.number}", 84, True, False, "ms")], 100),
        ([(width / 2, name, int(name_size), False, False, "ms")], 64),
        (
            [
                ((width - lw - cw) / 2, label, 40, False, False, "ls"),
                ((width - lw - cw) / 2 + lw, code, 72, False, True, "ls"),
            ],
            84,
        ),
        ([(width / 2, INSTRUCTION, 34, False, False, "ms")], 50),
    ]
    height = PNG_PAD + qr_img.height + sum(h for _, h in lines) + PNG_PAD
    img = Image.new("L", (width, height), 255)
    img.paste(qr_img, ((width - qr_img.width) // 2, PNG_PAD))
    draw = ImageDraw.Draw(img)
    y = PNG_PAD + qr_img.height
    for pieces, h in lines:
        for x, text, size, bold, mono, anchor in pieces:
            text, font = _pil_text(text, size, bold, mono)
            draw.text((x, y + h * 0.8), text, font=font, fill=0, anchor=anchor)
        y += h
    # Light cut guide around the whole label; far outside the quiet zone.
    draw.rectangle((0, 0, width - 1, height - 1), outline=190, width=2)
    img.save(path, dpi=(PNG_DPI, PNG_DPI))


def _svg(table: QrTable, branch: str, path: Path) -> None:
    n, runs = _dark_runs(table.url)
    qr_side = (n + 2 * QUIET_ZONE) * SVG_MODULE
    width = max(SVG_MIN_W, qr_side + 2 * SVG_PAD)
    max_w = float(width - 2 * SVG_PAD)

    # SVG text cannot be measured here, so estimate with an average glyph width of 0.55 em.
    name, name_size = _fit(branch, lambda s, z: len(s) * z * 0.55, 4.5, 3.0, max_w)
    rows = [
        (f"Mesa {table.number}", 8, "bold", 11),
        (name, name_size, "normal", 7),
        (CODE_LABEL + " ", 3.8, "normal", 9),  # the short code follows as a monospace tspan
        (INSTRUCTION, 3.4, "normal", 6),
    ]
    height = SVG_PAD + qr_side + sum(Decimal(r[3]) for r in rows) + SVG_PAD

    root = ET.Element(
        "svg",
        xmlns="http://www.w3.org/2000/svg",
        version="1.1",
        width=f"{width}mm",
        height=f"{height}mm",
        viewBox=f"0 0 {width} {height}",
    )
    ET.SubElement(root, "rect", x="0", y="0", width="100%", height="100%", fill="white")
    group = ET.SubElement(root, "g", transform=f"translate({(width - qr_side) / 2},{SVG_PAD})")
    # Drawn in modules and scaled once: one rectangle per run of dark modules.
    scale = f"scale({SVG_MODULE}) translate({QUIET_ZONE},{QUIET_ZONE})"
    outline = "".join(f"M{start},{row}h{length}v1h-{length}z" for row, start, length in runs)
    ET.SubElement(group, "path", {"d": outline, "fill": "#000", "transform": scale})
    y = SVG_PAD + qr_side
    for text, size, weight, h in rows:
        y += Decimal(h)
        node = ET.SubElement(
            root,
            "text",
            {
                "x": f"{width / 2}",
                "y": f"{y - Decimal(h) * Decimal('0.25')}",
                "text-anchor": "middle",
                "font-size": f"{size}",
                "font-weight": weight,
                "font-family": "Helvetica, Arial, DejaVu Sans, sans-serif",
            },
        )
        node.text = text
        if text == CODE_LABEL + " ":
            code = ET.SubElement(
                node,
                "tspan",
                {
                    "font-size": "6.5",
                    "font-weight": "bold",
                    "font-family": "DejaVu Sans Mono, Courier New, monospace",
                },
            )
            code.text = table.short_code
    ET.ElementTree(root).write(path, encoding="UTF-8", xml_declaration=True)


def write_table_files(
    tables: Sequence[QrTable],
    branch_name: str,
    out_dir: Path,
    progress: Callable[[int], None] | None = None,
) -> list[Path]:
    _check_unique(tables)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    jobs = [(table, branch_name, out_dir) for table in tables]
    for files in _in_parallel(_table_files, jobs):
        written += files
        if progress:
            progress(1)
    return written


def _table_files(job: tuple[QrTable, str, Path]) -> list[Path]:
    table, branch_name, out_dir = job
    png = out_dir / f"mesa-{table.number:03d}.png"
    svg = out_dir / f"mesa-{table.number:03d}.svg"
    _png(table, branch_name, png)
    _svg(table, branch_name, svg)
    return [png, svg]
