"""`restai-edge printer add/list/remove/test`: set-up mistakes are one `Error:` line that changes
nothing, and `printer test` prints a sample a person can read, accents included."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from provisioning.cli import cli
from provisioning.printer_dev import DevPrinter, decode
from provisioning.server_process import free_port
from tests.conftest import provision_device
from tests.test_printing import load_menu


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("device") / "data"
    provision_device(path, 5)
    load_menu(path)
    return path


@pytest.fixture
def printer() -> Iterator[DevPrinter]:
    device = DevPrinter(port=free_port()).start()
    yield device
    device.stop()


def run(data_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--data-dir", str(data_dir), "printer", *args])


def printer_rows(data_dir: Path) -> list[tuple[str, ...]]:
    with sqlite3.connect(data_dir / "edge.db") as db:
        return db.execute("SELECT name, host, port, width, categories FROM printers").fetchall()


def assert_refused(result: Result, message: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert message in lines[0], lines[0]


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--host", "not a host"], "--host 'not a host': not an IP address or a host name"),
        (["--host", "999.1.1.1"], "not an IP address or a host name"),
        (["--host", ""], "not an IP address or a host name"),
        (["--host", "10.0.0.9", "--port", "0"], "--port 0: expected a TCP port from 1 to 65535"),
        (["--host", "10.0.0.9", "--port", "70000"], "--port 70000"),
        (["--host", "10.0.0.9", "--port", "nine"], "--port 'nine': expected a whole number"),
        (["--host", "10.0.0.9", "--width", "10"], "--width 10: expected 24 to 64 characters"),
        (["--host", "10.0.0.9", "--width", "-4"], "--width '-4': expected a whole number"),
        (
            ["--host", "10.0.0.9", "--categories", "Fondos,Sopas"],
            "unknown category 'Sopas' (menu categories: Fondos, Bebidas)",
        ),
    ],
)
def test_a_bad_printer_is_one_clear_line_and_nothing_is_written(
    data_dir: Path, flags: list[str], message: str
) -> None:
    before = printer_rows(data_dir)
    assert_refused(run(data_dir, "add", "--name", "Cocina", *flags), message)
    assert printer_rows(data_dir) == before


def test_add_list_and_remove_printers(data_dir: Path) -> None:
    added = run(data_dir, "add", "--name", "Barra", "--host", "bar-printer.local",
                "--port", "9101", "--categories", " bebidas ", "--width", "32")  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "Added printer Barra at bar-printer.local:9101, 32 columns" in added.output
    assert_refused(
        run(data_dir, "add", "--name", "Barra", "--host", "10.0.0.2"),
        "a printer named 'Barra' already exists",
    )
    assert run(data_dir, "add", "--name", "Todo", "--host", "fe80::1").exit_code == 0

    listed = run(data_dir, "list", "--json")
    rows = {row["name"]: row for row in json.loads(listed.output)}
    assert rows["Barra"]["categories"] == ["Bebidas"] and rows["Barra"]["width"] == 32
    assert rows["Todo"]["categories"] is None and rows["Todo"]["port"] == 9100
    assert rows["Todo"]["status"] == "up" and rows["Todo"]["queue_depth"] == 0
    text = run(data_dir, "list").output
    assert "bar-printer.local:9101" in text and "[fe80::1]:9100" in text

    assert_refused(run(data_dir, "remove", "Cocinita"), "no printer named 'Cocinita'")
    removed = run(data_dir, "remove", "Barra")
    assert removed.exit_code == 0 and "Removed printer Barra" in removed.output
    assert run(data_dir, "remove", "Todo").exit_code == 0
    assert "No printers yet" in run(data_dir, "list").output


def test_printer_test_prints_a_sample_with_accents_for_real(
    data_dir: Path, printer: DevPrinter
) -> None:
    """Run the installed command as a process, as an installer would."""

    def cli_run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "provisioning", "--data-dir", str(data_dir), "printer", *args],
            capture_output=True,
            text=True,
        )

    added = cli_run("add", "--name", "Prueba", "--host", "127.0.0.1", "--port", str(printer.port))
    assert added.returncode == 0, added.stderr
    try:
        done = cli_run("test", "Prueba")
        assert done.returncode == 0, done.stderr
        assert "Printed a test ticket on Prueba" in done.stdout
        (connection,) = printer.connections
        (ticket,) = decode(connection)
        assert ticket.cut
        assert "Acentos: á é í ó ú Á É Í Ó Ú" in ticket.text
        assert "Eñes: ñ Ñ Diéresis: ü Ü" in ticket.text
        assert "¿Se lee bien? ¡Sí, perfecto!" in ticket.text
        assert "2 x Ají de gallina" in ticket.text

        printer.stop()
        off = cli_run("test", "Prueba")
        assert off.returncode == 1
        assert off.stderr.strip().splitlines() == [
            f"Error: printer Prueba: 127.0.0.1:{printer.port} refused the connection"
            " (not a printer port?)"
        ]
        assert_refused(run(data_dir, "test", "Nadie"), "no printer named 'Nadie'")
    finally:
        run(data_dir, "remove", "Prueba")
