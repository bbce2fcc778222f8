"""`restai-edge provision` and `status`, run for real: as a subprocess and through CliRunner.

The helpers at the top (`restai`, `invoke`, `snapshot`, `rows`) are shared by the other CLI test
modules.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from provisioning.cli import cli
from tests.conftest import SLUG, auth, open_session

SHORT_CODE = set("23456789ABCDEFGHJKMNPQRSTVWXYZ")


def restai(
    data_dir: Path, *args: str, umask: int | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `restai-edge --data-dir DIR ARGS...` in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "provisioning", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=None if umask is None else lambda: os.umask(umask),
    )


def invoke(data_dir: Path, *args: str) -> Result:
    """Run the same command in this process with click's CliRunner."""
    return CliRunner().invoke(cli, ["--data-dir", str(data_dir), *args], prog_name="restai-edge")


def error_line(stderr: str) -> str:
    """The one line a user mistake prints; fails if there is more (a traceback, a usage dump)."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one error line, got:\n{stderr}"
    assert lines[0].startswith("Error: "), stderr
    return lines[0]


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under `root` with its mode and bytes, to prove a command changed nothing."""
    if not root.exists():
        return {}
    files = {".": (root.stat().st_mode, b"")}
    for path in sorted(root.rglob("*")):
        content = path.read_bytes() if path.is_file() else b""
        files[str(path.relative_to(root))] = (path.stat().st_mode, content)
    return files


def rows(db: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def new_device(data_dir: Path, tables: int = 12, *extra: str) -> subprocess.CompletedProcess[str]:
    done = restai(
        data_dir,
        "provision",
        "--branch-slug",
        SLUG,
        "--branch-name",
        "Downtown Lima",
        "--tables",
        str(tables),
        *extra,
    )
    assert done.returncode == 0, done.stderr
    return done


def tables_of(data_dir: Path) -> list[tuple[object, ...]]:
    return rows(
        data_dir / "edge.db", "SELECT id, number, code, short_code FROM tables ORDER BY number"
    )


# --------------------------------------------------------------------------- provision


def test_first_provision_sets_up_branch_tables_and_private_secrets(tmp_path):
    data_dir = tmp_path / "srv" / "data"
    # umask 0: the modes must come from the code, not from a careful shell.
    done = restai(
        data_dir,
        "provision",
        "--branch-slug",
        SLUG,
        "--branch-name",
        "  Downtown   Lima ",
        "--tables",
        "12",
        "--base-url",
        "http://192.168.1.20:8000/",
        umask=0,
    )

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert f"Provisioned branch {SLUG} (Downtown Lima) in {data_dir}" in done.stdout
    assert "tables:      12 (12 added)" in done.stdout
    assert "base URL:    http://192.168.1.20:8000\n" in done.stdout
    assert "central URL: (none: sync disabled)" in done.stdout

    assert mode(data_dir) == 0o700
    secrets = {}
    for name in ("jwt.secret", "pin.key"):
        path = data_dir / name
        assert mode(path) == 0o600, f"{name} is readable by others"
        secrets[name] = path.read_text()
        assert len(secrets[name]) >= 32
    assert secrets["jwt.secret"] != secrets["pin.key"]
    assert not (data_dir / "device.token").exists()

    db = data_dir / "edge.db"
    assert rows(db, "SELECT slug, name, base_url, central_url, currency, tax_rate FROM branch") == [
        (SLUG, "Downtown Lima", "http://192.168.1.20:8000", None, "PEN", 1800)
    ]
    tables = tables_of(data_dir)
    assert [t[1] for t in tables] == list(range(1, 13))
    assert [t[2] for t in tables] == [f"{SLUG}-{n}" for n in range(1, 13)]
    short_codes = [str(t[3]) for t in tables]
    assert len(set(short_codes)) == 12
    assert all(len(code) == 5 and set(code) <= SHORT_CODE for code in short_codes)


def test_provisioning_twice_changes_nothing(tmp_path):
    data_dir = tmp_path / "data"
    new_device(data_dir)
    tables = tables_of(data_dir)
    branch = rows(data_dir / "edge.db", "SELECT * FROM branch")
    secrets = {name: (data_dir / name).read_bytes() for name in ("jwt.secret", "pin.key")}

    again = new_device(data_dir)

    assert f"Updated branch {SLUG} (Downtown Lima)" in again.stdout
    assert "tables:      12 (0 added)" in again.stdout
    assert tables_of(data_dir) == tables
    assert rows(data_dir / "edge.db", "SELECT * FROM branch") == branch
    assert {name: (data_dir / name).read_bytes() for name in secrets} == secrets


def test_growing_a_branch_only_adds_tables(tmp_path):
    data_dir = tmp_path / "data"
    new_device(data_dir, 12)
    first = tables_of(data_dir)

    grown = restai(data_dir, "provision", "--branch-slug", SLUG, "--tables", "30")

    assert grown.returncode == 0, grown.stderr
    assert "tables:      30 (18 added)" in grown.stdout
    after = tables_of(data_dir)
    assert after[:12] == first, "existing tables were renumbered or recoded"
    assert [t[1] for t in after] == list(range(1, 31))
    assert [t[2] for t in after[12:]] == [f"{SLUG}-{n}" for n in range(13, 31)]
    assert len({t[3] for t in after}) == 30

    shrunk = restai(data_dir, "provision", "--branch-slug", SLUG, "--tables", "5")

    assert shrunk.returncode == 0, shrunk.stderr
    assert "tables:      30 (0 added)" in shrunk.stdout
    assert "tables are never removed; keeping 30" in shrunk.stdout
    assert tables_of(data_dir) == after


def test_rerun_changes_name_and_urls_and_keeps_the_central_link(tmp_path):
    data_dir = tmp_path / "data"
    new_device(data_dir)
    token = "dev-token-0123456789abcdef"

    result = invoke(
        data_dir,
        "provision",
        "--branch-slug",
        SLUG,
        "--branch-name",
        "Lima Centro",
        "--base-url",
        "https://pedidos.example.pe",
        "--central-url",
        "https://api.restai.com/v1/",
        "--device-token",
        token,
    )

    assert result.exit_code == 0, result.output
    assert "Updated branch downtown-lima (Lima Centro)" in result.stdout
    assert "central URL: https://api.restai.com/v1" in result.stdout
    assert "device.token" in result.stdout
    assert (data_dir / "device.token").read_text() == token
    assert mode(data_dir / "device.token") == 0o600

    plain = invoke(data_dir, "provision", "--branch-slug", SLUG)

    assert plain.exit_code == 0, plain.output
    assert rows(data_dir / "edge.db", "SELECT name, base_url, central_url FROM branch") == [
        ("Lima Centro", "https://pedidos.example.pe", "https://api.restai.com/v1")
    ]
    assert (data_dir / "device.token").read_text() == token


BAD_FLAGS = [
    (["--branch-slug", "Downtown Lima"], "--branch-slug 'Downtown Lima' must be lowercase"),
    (["--branch-slug", "downtown--lima"], "--branch-slug 'downtown--lima'"),
    (["--branch-slug", "lima-"], "--branch-slug 'lima-'"),
    (["--branch-slug", "a" * 65], "at most 64 characters"),
    (["--branch-name", "   "], "--branch-name must be 1 to 100 characters"),
    (["--tables", "0"], "--tables must be between 1 and 10000, got 0"),
    (["--tables", "-4"], "--tables must be between 1 and 10000, got -4"),
    (["--tables", "10001"], "--tables must be between 1 and 10000, got 10001"),
    (["--base-url", ""], "--base-url must be an absolute http(s) URL, got ''"),
    (["--base-url", "app.restai.com"], "--base-url must be an absolute http(s) URL"),
    (["--base-url", "ftp://files.example.pe"], "--base-url must be an absolute http(s) URL"),
    (["--base-url", "http://"], "--base-url must be an absolute http(s) URL"),
    (["--base-url", "http://192.168.1.20:99999"], "--base-url has an invalid port"),
    (["--base-url", "http://local host:8000"], "--base-url must be an absolute http(s) URL"),
    (["--base-url", "https://app.restai.com/?x=1"], "--base-url must not have a query"),
    (["--central-url", "https://api.restai.com"], "--central-url and --device-token go together"),
    (["--device-token", "0123456789abcdef"], "--central-url and --device-token go together"),
    (
        ["--central-url", "", "--device-token", "0123456789abcdef"],
        "--central-url must be an absolute http(s) URL, got ''",
    ),
    (
        ["--central-url", "https://api.restai.com", "--device-token", "short"],
        "--device-token must be at least 16 characters",
    ),
    (["--currency", "pen"], "--currency must be an ISO 4217 code like PEN, got 'pen'"),
    (["--tax-rate", "10001"], "--tax-rate is in hundredths of a percent"),
    (["--tax-rate", "-1"], "--tax-rate is in hundredths of a percent"),
]


def _with_defaults(flags: list[str]) -> list[str]:
    given = dict(zip(flags[::2], flags[1::2], strict=True))
    defaults = {"--branch-slug": SLUG, "--branch-name": "Downtown Lima", "--tables": "12"}
    return [part for pair in ({**defaults, **given}).items() for part in pair]


@pytest.mark.parametrize(("flags", "message"), BAD_FLAGS)
def test_bad_flag_on_a_new_device_creates_nothing(tmp_path, flags, message):
    data_dir = tmp_path / "data"

    done = restai(data_dir, "provision", *_with_defaults(flags))

    assert done.returncode == 1
    assert message in error_line(done.stderr)
    assert done.stdout == ""
    assert not data_dir.exists()


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("existing") / "data"
    new_device(data_dir)
    return data_dir


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        *BAD_FLAGS,
        (["--branch-slug", "miraflores"], "this device is provisioned for branch 'downtown-lima'"),
    ],
)
def test_bad_flag_on_an_existing_device_changes_nothing(provisioned, flags, message):
    before = snapshot(provisioned)
    given = dict(zip(flags[::2], flags[1::2], strict=True))
    args = [part for pair in ({"--branch-slug": SLUG, **given}).items() for part in pair]

    result = invoke(provisioned, "provision", *args)

    assert result.exit_code == 1
    assert message in error_line(result.stderr)
    assert snapshot(provisioned) == before


@pytest.mark.parametrize(
    "flags",
    [["--branch-slug", SLUG, "--tables", "5"], ["--branch-slug", SLUG, "--branch-name", "X"]],
)
def test_a_new_device_needs_a_name_and_tables(tmp_path, flags):
    result = invoke(tmp_path / "data", "provision", *flags)

    assert result.exit_code == 1
    assert "a new device needs --branch-name and --tables" in error_line(result.stderr)
    assert not (tmp_path / "data").exists()


def test_data_dir_that_is_a_file_is_one_clear_line(tmp_path):
    in_the_way = tmp_path / "data"
    in_the_way.write_text("not a directory")

    done = restai(in_the_way, "provision", *_with_defaults([]))

    assert done.returncode == 1
    assert f"cannot use {in_the_way} as the data dir" in error_line(done.stderr)
    assert in_the_way.read_text() == "not a directory"


def test_a_flag_of_the_wrong_type_is_a_usage_error(tmp_path):
    done = restai(tmp_path / "data", "provision", "--branch-slug", SLUG, "--tables", "many")

    assert done.returncode == 2
    assert "Invalid value for '--tables': 'many' is not a valid integer" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists()


# --------------------------------------------------------------------------- status


def test_status_before_provisioning_is_one_clear_line(tmp_path):
    done = restai(tmp_path / "data", "status")

    assert done.returncode == 1
    assert "no device store in" in error_line(done.stderr)
    assert not (tmp_path / "data").exists()


def test_status_shows_what_the_device_is(tmp_path):
    data_dir = tmp_path / "data"
    new_device(
        data_dir,
        7,
        "--central-url",
        "https://api.restai.com",
        "--device-token",
        "dev-token-0123456789abcdef",
    )
    for name, role, pin in (("Ana", "manager", "4821"), ("Walter", "waiter", "2718")):
        added = invoke(data_dir, "staff", "add", "--name", name, "--role", role, "--pin", pin)
        assert added.exit_code == 0, added.output

    text = restai(data_dir, "status")
    as_json = restai(data_dir, "status", "--json")

    assert text.returncode == 0, text.stderr
    assert f"Branch:      {SLUG} (Downtown Lima)" in text.stdout
    assert "Tables:      7\n" in text.stdout
    assert "Staff:       2 (1 manager, 1 waiter)" in text.stdout
    assert "Base URL:    https://app.restai.com" in text.stdout
    assert "Central URL: https://api.restai.com" in text.stdout
    assert "Sync:        up to date (nothing waiting)" in text.stdout
    assert "Server:      stopped" in text.stdout

    status = json.loads(as_json.stdout)
    assert status["branch"]["slug"] == SLUG
    assert status["branch"]["name"] == "Downtown Lima"
    assert status["tables"] == 7
    assert status["staff"] == {
        "total": 2,
        "by_role": {"manager": 1, "waiter": 1, "cashier": 0, "kitchen": 0},
    }
    assert status["base_url"] == "https://app.restai.com"
    assert status["central_url"] == "https://api.restai.com"
    assert status["sync"] == {"configured": True, "queue_depth": 0}
    assert status["server"] == {"running": False, "holder": None}
    assert status["data_dir"] == str(data_dir)


def test_status_of_a_serving_device_counts_sessions_waiting_for_sync(make_server):
    server = make_server(tables=10)
    token = server.staff_token()
    finished = []
    for number in range(1, 4):
        created = open_session(server, f"{SLUG}-{number}")
        answer = httpx.patch(
            f"{server.url}/api/tables/sessions/{created['sessionId']}/reject", headers=auth(token)
        )
        assert answer.status_code == 200, answer.text
        finished.append(created["sessionId"])
    open_session(server, f"{SLUG}-9")  # live, so not in the outbox
    conn = sqlite3.connect(server.data_dir / "edge.db")
    with conn:
        conn.execute("UPDATE outbox SET acknowledged_at = 1 WHERE session_id = ?", (finished[0],))
    conn.close()

    status = json.loads(restai(server.data_dir, "status", "--json").stdout)
    text = restai(server.data_dir, "status").stdout

    assert status["sync"] == {"configured": False, "queue_depth": 2}
    assert status["tables"] == 10
    assert status["staff"]["total"] == 4
    assert status["server"]["running"] is True
    assert status["server"]["holder"] == f"serving, pid {server.process.pid}"
    assert "Sync:        off (no central URL); 2 finished sessions kept on the device" in text
    assert f"Server:      running (serving, pid {server.process.pid})" in text
