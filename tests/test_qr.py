"""QR printing: every code is decoded for real (pyzbar on rasterised output)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from provisioning.qr import (
    PARALLEL_FROM,
    QrTable,
    _dark_runs,
    _in_parallel,
    parse_table_ranges,
    table_url,
    write_pdf_sheet,
    write_table_files,
)

pyzbar = pytest.importorskip("pyzbar.pyzbar", reason="needs libzbar0 (Debian) for pyzbar")

ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


def _needs(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} not installed (Debian package {package})")
    return path


# zbar scanning a whole sheet of codes now and then fails to finish one of them (a code it reads
# at once when cropped; zxing-cpp reads it on the page too), so a large page is also read in
# overlapping windows, each wide enough to hold a whole code at 300 dpi.
WINDOW, STEP = 900, 450


def _decode(image: Image.Image) -> list[str]:
    gray = image.convert("L")
    regions = [gray]
    if max(gray.size) > 2 * WINDOW:
        regions += [
            gray.crop((left, top, left + WINDOW, top + WINDOW))
            for top in range(0, max(1, gray.height - STEP), STEP)
            for left in range(0, max(1, gray.width - STEP), STEP)
        ]
    found = {
        symbol.data.decode("utf-8")
        for region in regions
        for symbol in pyzbar.decode(region, symbols=[pyzbar.ZBarSymbol.QRCODE])
    }
    return sorted(found)


def _tables(base_url: str, slug: str, numbers) -> list[QrTable]:
    out = []
    for n in numbers:
        code = f"{slug}-{n}"
        short = "".join(ALPHABET[(n * 7 + i * 5) % len(ALPHABET)] for i in range(5))
        key = "".join(ALPHABET[(n * 11 + i * 3) % len(ALPHABET)] for i in range(10))
        out.append(QrTable(n, code, short, table_url(base_url, slug, code, key)))
    return out


def _rasterise_pdf(pdf: Path, tmp_path: Path) -> list[Image.Image]:
    pdftoppm = _needs("pdftoppm", "poppler-utils")
    subprocess.run(
        [pdftoppm, "-r", "300", "-png", str(pdf), str(tmp_path / "page")],
        check=True,
        capture_output=True,
    )
    pages = sorted(tmp_path.glob("page-*.png"))
    images = []
    for p in pages:
        with Image.open(p) as im:
            images.append(im.copy())
    return images


def _pdf_text(pdf: Path) -> str:
    pdftotext = _needs("pdftotext", "poppler-utils")
    return subprocess.run(
        [pdftotext, "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def fourteen_tables() -> list[QrTable]:
    # Mix of a LAN edge server, a cloud URL and a long slug that needs a bigger QR version.
    tables = _tables("http://192.168.1.20:8000", "downtown-lima", range(1, 11))
    tables += _tables("https://app.restai.com/", "miraflores", [11, 12])
    tables += _tables(
        "https://app.restai.com", "cevicheria-el-muelle-de-barranco-terraza", [13, 140]
    )
    return tables


# --------------------------------------------------------------------------- URLs and ranges


def test_table_url():
    assert table_url(
        "http://192.168.1.20:8000", "downtown-lima", "downtown-lima-15", "7KQ2M9XH4P"
    ) == ("http://192.168.1.20:8000/downtown-lima/downtown-lima-15?k=7KQ2M9XH4P")
    assert table_url(
        "https://app.restai.com//", "downtown-lima", "downtown-lima-15", "7KQ2M9XH4P"
    ) == ("https://app.restai.com/downtown-lima/downtown-lima-15?k=7KQ2M9XH4P")


@pytest.mark.parametrize(
    ("spec", "max_number", "expected"),
    [
        ("1-5,9", 30, [1, 2, 3, 4, 5, 9]),
        ("7", 30, [7]),
        (" 9 , 3 - 4 ,4", 30, [3, 4, 9]),
        ("1-30", 30, list(range(1, 31))),
        ("2-2", 2, [2]),
        ("10,1-3,2", 10, [1, 2, 3, 10]),
    ],
)
def test_parse_table_ranges_ok(spec, max_number, expected):
    assert parse_table_ranges(spec, max_number) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "No tables given"),
        ("   ", "No tables given"),
        ("abc", "Invalid table selection 'abc'"),
        ("1-", "Invalid table selection '1-'"),
        ("-3", "Invalid table selection '-3'"),
        ("1-2-3", "Invalid table selection"),
        ("3.5", "Invalid table selection"),
        ("1,,2", r"Invalid table selection '\(empty\)'"),
        ("1,2,", r"Invalid table selection '\(empty\)'"),
        ("٣", "Invalid table selection"),  # non-ASCII digit
        ("9-3", r"Reversed range '9-3'.*3-9"),
        ("0", "start at 1"),
        ("0-4", "start at 1"),
        ("31", "highest table number is 30"),
        ("25-40", "Table 40 .* highest table number is 30"),
    ],
)
def test_parse_table_ranges_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_table_ranges(spec, 30)


def test_parse_table_ranges_branch_without_tables():
    with pytest.raises(ValueError, match="no tables"):
        parse_table_ranges("1", 0)


# --------------------------------------------------------------------------- PDF


def test_pdf_sheet_decodes_every_table(tmp_path, fourteen_tables):
    out = tmp_path / "sheet" / "mesas.pdf"
    done: list[int] = []
    pages = write_pdf_sheet(fourteen_tables, "Downtown Lima", out, progress=done.append)

    assert pages == 2
    assert sum(done) == len(fourteen_tables)
    images = _rasterise_pdf(out, tmp_path)
    assert len(images) == 2
    per_page = [_decode(im) for im in images]
    assert [len(urls) for urls in per_page] == [12, 2]
    decoded = [u for urls in per_page for u in urls]
    assert sorted(decoded) == sorted(t.url for t in fourteen_tables)
    assert any(
        url.startswith("http://192.168.1.20:8000/downtown-lima/downtown-lima-10?k=")
        for url in decoded
    )

    text = _pdf_text(out)
    for t in fourteen_tables:
        assert f"Mesa {t.number}" in text
        assert t.short_code in text
    assert "Código:" in text
    assert "Escanea para pedir desde tu mesa" in text
    assert "Downtown Lima" in text


def test_pdf_qr_is_vector(tmp_path, fourteen_tables):
    out = tmp_path / "mesas.pdf"
    write_pdf_sheet(fourteen_tables[:3], "Downtown Lima", out)
    pdfimages = _needs("pdfimages", "poppler-utils")
    listing = subprocess.run(
        [pdfimages, "-list", str(out)], check=True, capture_output=True, text=True
    ).stdout
    # Only the two header lines: no embedded bitmaps at all.
    assert len(listing.strip().splitlines()) == 2


def test_pdf_single_page_and_exact_fill(tmp_path):
    tables = _tables("http://192.168.1.20:8000", "downtown-lima", range(1, 13))
    out = tmp_path / "mesas.pdf"
    assert write_pdf_sheet(tables, "Downtown Lima", out) == 1
    (page,) = _rasterise_pdf(out, tmp_path)
    assert set(_decode(page)) == {t.url for t in tables}


def test_pdf_long_branch_name_is_shrunk_and_still_decodes(tmp_path):
    long_name = "Cevichería El Muelle de Barranco — Terraza Principal con Vista al Mar " * 4
    tables = _tables("http://192.168.1.20:8000", "cevicheria-el-muelle", range(1, 7))
    out = tmp_path / "mesas.pdf"
    assert write_pdf_sheet(tables, long_name, out) == 1

    (page,) = _rasterise_pdf(out, tmp_path)
    assert set(_decode(page)) == {t.url for t in tables}
    text = _pdf_text(out)
    assert "Cevichería El Muelle" in text
    assert "…" in text
    assert long_name.strip() not in text


def test_pdf_branch_name_outside_latin1(tmp_path):
    tables = _tables("https://app.restai.com", "tokyo", [1])
    out = tmp_path / "mesas.pdf"
    assert write_pdf_sheet(tables, "Sucursal Kraków Śródmieście 東京", out) == 1
    (page,) = _rasterise_pdf(out, tmp_path)
    assert _decode(page) == [tables[0].url]
    assert "Sucursal Kraków Sródmiescie ??" in _pdf_text(out)


def test_rejects_empty_and_duplicate_tables(tmp_path):
    tables = _tables("http://192.168.1.20:8000", "downtown-lima", [1, 2])
    with pytest.raises(ValueError, match="No tables"):
        write_pdf_sheet([], "Downtown Lima", tmp_path / "a.pdf")
    with pytest.raises(ValueError, match="Table 2 appears twice"):
        write_pdf_sheet([*tables, tables[1]], "Downtown Lima", tmp_path / "a.pdf")
    with pytest.raises(ValueError, match="Table 1 appears twice"):
        write_table_files([*tables, tables[0]], "Downtown Lima", tmp_path / "files")


# --------------------------------------------------------------------------- PNG / SVG


def test_table_files_png_and_svg_decode(tmp_path):
    tables = _tables("http://192.168.1.20:8000", "downtown-lima", [1, 15, 120])
    tables += _tables("https://app.restai.com", "cevicheria-el-muelle-de-barranco-terraza", [7])
    out_dir = tmp_path / "qr"
    done: list[int] = []
    paths = write_table_files(tables, "Downtown Lima — Peñón " * 5, out_dir, progress=done.append)

    assert sum(done) == len(tables)
    expected_names = [f"mesa-{t.number:03d}.{ext}" for t in tables for ext in ("png", "svg")]
    assert [p.name for p in paths] == expected_names
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(expected_names)

    rsvg = _needs("rsvg-convert", "librsvg2-bin")
    for t in tables:
        png = out_dir / f"mesa-{t.number:03d}.png"
        with Image.open(png) as im:
            assert im.width >= 900
            assert _decode(im) == [t.url]

        svg = out_dir / f"mesa-{t.number:03d}.svg"
        raster = tmp_path / f"svg-{t.number}.png"
        subprocess.run(
            [rsvg, "--zoom", "2", "-o", str(raster), str(svg)], check=True, capture_output=True
        )
        with Image.open(raster) as im:
            assert _decode(im) == [t.url]
        assert f"Mesa {t.number}" in svg.read_text(encoding="utf-8")
        assert t.short_code in svg.read_text(encoding="utf-8")


def test_codes_made_on_every_core_are_the_same_and_in_order():
    # Enough codes for the pool of processes (PARALLEL_FROM); the sheets drawn from them are
    # decoded by the tests above.
    urls = [t.url for t in _tables("http://192.168.1.20:8000", "lima", range(PARALLEL_FROM + 4))]

    assert list(_in_parallel(_dark_runs, urls)) == [_dark_runs(url) for url in urls]
