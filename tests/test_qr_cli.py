"""`restai-edge qr`: every printed code is decoded back (pyzbar) to the exact table URL."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import SLUG
from tests.test_provision_cli import error_line, invoke, new_device, restai, rows, snapshot
from tests.test_qr import _decode, _needs, _pdf_text, _rasterise_pdf

pytest.importorskip("pyzbar.pyzbar", reason="needs libzbar0 (Debian) for pyzbar")

LAN = "http://192.168.1.20:8000"


@pytest.fixture(scope="module")
def device(tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("qr") / "data"
    new_device(data_dir, 14, "--base-url", LAN)
    return data_dir


def table_rows(data_dir: Path) -> dict[int, tuple[str, str]]:
    """Table number -> (code with its key, as the QR carries them; short code)."""
    found = rows(data_dir / "edge.db", "SELECT number, code, short_code, table_key FROM tables")
    return {int(n): (f"{code}?k={key}", str(short)) for n, code, short, key in found}  # type: ignore[call-overload]


def test_pdf_sheet_of_every_table_decodes_to_the_branch_urls(device, tmp_path):
    out = tmp_path / "print" / "mesas.pdf"

    done = restai(device, "qr", "--out", str(out))

    assert done.returncode == 0, done.stderr
    assert f"Wrote 14 table QR codes (2 pages) to {out}" in done.stdout
    assert "Drawing QR codes" in done.stderr
    tables = table_rows(device)
    pages = [_decode(page) for page in _rasterise_pdf(out, tmp_path)]
    assert [len(urls) for urls in pages] == [12, 2]
    decoded = sorted(url for urls in pages for url in urls)
    assert decoded == sorted(f"{LAN}/{SLUG}/{code}" for code, _ in tables.values())
    text = _pdf_text(out)
    for number, (_, short_code) in tables.items():
        assert f"Mesa {number}" in text
        assert short_code in text
    assert "Downtown Lima" in text


def test_files_for_chosen_tables_with_another_base_url(device, tmp_path):
    out = tmp_path / "qr"
    rsvg = _needs("rsvg-convert", "librsvg2-bin")

    result = invoke(
        device,
        "qr",
        "--out",
        str(out),
        "--tables",
        "2-3,14",
        "--base-url",
        "https://app.restai.com/",
    )

    assert result.exit_code == 0, result.output
    assert f"Wrote 3 table QR codes (6 files) to {out}" in result.stdout
    assert sorted(path.name for path in out.iterdir()) == [
        f"mesa-{n:03d}.{ext}" for n in (2, 3, 14) for ext in ("png", "svg")
    ]
    tables = table_rows(device)
    for number in (2, 3, 14):
        code, short_code = tables[number]
        url = f"https://app.restai.com/{SLUG}/{code}"
        with Image.open(out / f"mesa-{number:03d}.png") as png:
            assert _decode(png) == [url]
        raster = tmp_path / f"svg-{number}.png"
        svg = out / f"mesa-{number:03d}.svg"
        subprocess.run(
            [rsvg, "--zoom", "2", "-o", str(raster), str(svg)], check=True, capture_output=True
        )
        with Image.open(raster) as image:
            assert _decode(image) == [url]
        assert short_code in svg.read_text(encoding="utf-8")
    status = json.loads(invoke(device, "status", "--json").stdout)
    assert status["base_url"] == LAN, "--base-url of qr must not change the branch"


def test_new_tables_get_codes_too(tmp_path):
    data_dir = tmp_path / "data"
    new_device(data_dir, 2, "--base-url", LAN)
    assert restai(data_dir, "provision", "--branch-slug", SLUG, "--tables", "4").returncode == 0
    out = tmp_path / "new"

    done = restai(data_dir, "qr", "--out", str(out), "--tables", "3-4")

    assert done.returncode == 0, done.stderr
    tables = table_rows(data_dir)
    for number in (3, 4):
        with Image.open(out / f"mesa-{number:03d}.png") as png:
            assert _decode(png) == [f"{LAN}/{SLUG}/{tables[number][0]}"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tables", "15"], "--tables: Table 15 in '15' does not exist"),
        (["--tables", "0-3"], "--tables: Invalid table number 0"),
        (["--tables", "5-2"], "--tables: Reversed range '5-2'"),
        (["--tables", "uno"], "--tables: Invalid table selection 'uno'"),
        (["--tables", ""], "--tables: No tables given"),
        (["--base-url", "192.168.1.20"], "--base-url must be an absolute http(s) URL"),
        (["--base-url", "http://192.168.1.20:0"], "--base-url has an invalid port"),
    ],
)
@pytest.mark.parametrize("target", ["mesas.pdf", "mesas"])
def test_bad_selection_or_url_writes_nothing(device, tmp_path, args, message, target):
    out = tmp_path / "out" / target
    before = snapshot(device)

    done = restai(device, "qr", "--out", str(out), *args)

    assert done.returncode == 1
    assert message in error_line(done.stderr)
    assert not (tmp_path / "out").exists()
    assert snapshot(device) == before


def test_out_that_is_neither_a_pdf_nor_a_directory(device, tmp_path):
    not_a_dir = tmp_path / "mesas.txt"
    not_a_dir.write_text("keep me")
    a_dir = tmp_path / "sheet.pdf"
    a_dir.mkdir()

    as_file = invoke(device, "qr", "--out", str(not_a_dir))
    as_dir = invoke(device, "qr", "--out", str(a_dir))

    assert as_file.exit_code == 1
    assert f"--out {not_a_dir} is an existing file" in error_line(as_file.stderr)
    assert not_a_dir.read_text() == "keep me"
    assert as_dir.exit_code == 1
    assert f"--out {a_dir} is a directory, not a PDF file name" in error_line(as_dir.stderr)
    assert list(a_dir.iterdir()) == []


def test_qr_before_provisioning(tmp_path):
    done = restai(tmp_path / "data", "qr", "--out", str(tmp_path / "mesas.pdf"))

    assert done.returncode == 1
    assert "no device store in" in error_line(done.stderr)
    assert not (tmp_path / "mesas.pdf").exists()


def test_out_with_an_extension_other_than_pdf_is_refused(device, tmp_path):
    out = tmp_path / "qr.png"

    done = restai(device, "qr", "--out", str(out))

    assert done.returncode == 1
    assert f"--out {out} looks like a file name" in error_line(done.stderr)
    assert not out.exists()


def test_an_existing_sheet_is_overwritten_only_with_force(device, tmp_path):
    out = tmp_path / "mesas.pdf"
    out.write_bytes(b"%PDF-1.4 the sheet printed last month")

    refused = restai(device, "qr", "--out", str(out), "--tables", "1")
    assert refused.returncode == 1
    assert f"--out {out} exists: use --force" in error_line(refused.stderr)
    assert out.read_bytes() == b"%PDF-1.4 the sheet printed last month"

    forced = restai(device, "qr", "--out", str(out), "--tables", "1", "--force")
    assert forced.returncode == 0, forced.stderr
    assert [len(urls) for urls in map(_decode, _rasterise_pdf(out, tmp_path))] == [1]


def test_progress_shows_as_lines_when_not_on_a_terminal(device, tmp_path):
    done = restai(device, "qr", "--out", str(tmp_path / "mesas.pdf"))

    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert "Drawing QR codes: 0/14" in lines
    assert "Drawing QR codes: 14/14 (100%)" in lines
