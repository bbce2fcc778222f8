"""`restai-edge staff add|list|remove|set-pin|set-role`, at rest and on a serving device."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from provisioning.cli import cli
from tests.conftest import MANAGER_PIN, WAITER_PIN, auth, provision_device
from tests.test_provision_cli import error_line, invoke, restai, rows, snapshot


@pytest.fixture
def device(tmp_path) -> Path:
    """A provisioned data dir with the four conftest staff members."""
    data_dir = tmp_path / "data"
    provision_device(data_dir, tables=5)
    return data_dir


def staff_rows(data_dir: Path) -> list[tuple[object, ...]]:
    return rows(data_dir / "edge.db", "SELECT id, name, role FROM staff ORDER BY name")


def listed(data_dir: Path) -> list[dict[str, str]]:
    result = invoke(data_dir, "staff", "list", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def login(url: str, pin: str) -> httpx.Response:
    return httpx.post(f"{url}/api/auth/staff/login", json={"pin": pin})


def test_add_list_set_pin_remove(device):
    added = invoke(
        device, "staff", "add", "--name", " Luis Cashier ", "--role", "cashier", "--pin", "90210"
    )

    assert added.exit_code == 0, added.output
    (luis,) = [row for row in staff_rows(device) if row[1] == "Luis Cashier"]
    assert added.stdout == f"Added Luis Cashier (cashier) with id {luis[0]}\n"
    assert [(row["name"], row["role"]) for row in listed(device)] == [
        ("Ana Manager", "manager"),
        ("Cata Cashier", "cashier"),
        ("Kira Kitchen", "kitchen"),
        ("Luis Cashier", "cashier"),
        ("Walter Waiter", "waiter"),
    ]
    text = invoke(device, "staff", "list")
    assert f"{luis[0]}  cashier  Luis Cashier\n" in text.stdout

    changed = invoke(device, "staff", "set-pin", "Luis Cashier", "--pin", "11223344")
    assert changed.exit_code == 0, changed.output
    assert changed.stdout == f"Changed the PIN of staff member {luis[0]}\n"

    removed = invoke(device, "staff", "remove", str(luis[0]))
    assert removed.exit_code == 0, removed.output
    assert removed.stdout == f"Removed staff member {luis[0]}\n"
    assert "Luis Cashier" not in {row[1] for row in staff_rows(device)}


def test_list_on_a_device_without_staff(tmp_path):
    data_dir = tmp_path / "data"
    done = restai(
        data_dir, "provision", "--branch-slug", "x", "--branch-name", "X", "--tables", "1"
    )
    assert done.returncode == 0, done.stderr

    assert invoke(data_dir, "staff", "list").stdout == (
        "No staff yet: add one with 'restai-edge staff add'\n"
    )
    assert invoke(data_dir, "staff", "list", "--json").stdout == "[]\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["add", "--name", "Otra", "--role", "waiter", "--pin", MANAGER_PIN],
            "that PIN is already in use",
        ),
        (["add", "--name", "Otra", "--role", "waiter", "--pin", "123"], "a PIN is 4 to 8 digits"),
        (
            ["add", "--name", "Otra", "--role", "waiter", "--pin", "123456789"],
            "a PIN is 4 to 8 digits",
        ),
        (["add", "--name", "Otra", "--role", "waiter", "--pin", "12a4"], "a PIN is 4 to 8 digits"),
        (
            ["add", "--name", "   ", "--role", "waiter", "--pin", "5555"],
            "a staff name is 1 to 100 characters",
        ),
        (["remove", "Nadie"], "no staff member with id or name 'Nadie'"),
        (["set-pin", "Nadie", "--pin", "5831"], "no staff member with id or name 'Nadie'"),
        (["set-role", "Nadie", "waiter"], "no staff member with id or name 'Nadie'"),
        (["add", "--name", "Otra", "--role", "waiter", "--pin", "1234"], "too easy to guess"),
        (["add", "--name", "Otra", "--role", "waiter", "--pin", "0000"], "too easy to guess"),
        (["add", "--name", "Otra", "--role", "waiter", "--pin", "98765"], "too easy to guess"),
        (["add", "--name", "Otra", "--role", "waiter", "--pin", "777777"], "too easy to guess"),
        (["add", "--name", "Otra", "--role", "waiter", "--pin", "89012"], "too easy to guess"),
        (["set-pin", "Ana Manager", "--pin", "4321"], "too easy to guess"),
        (["set-pin", "Ana Manager", "--pin", "01234567"], "too easy to guess"),
        (
            ["add", "--name", "ana  MANAGER", "--role", "waiter", "--pin", "5831"],
            "a staff member named 'ana MANAGER' already exists",
        ),
        (["set-pin", "Ana Manager", "--pin", WAITER_PIN], "that PIN is already in use"),
        (["set-pin", "Ana Manager", "--pin", "12"], "a PIN is 4 to 8 digits"),
    ],
)
def test_bad_staff_input_is_one_line_and_changes_nothing(device, args, message):
    before = snapshot(device)

    done = restai(device, "staff", *args)

    assert done.returncode == 1
    assert message in error_line(done.stderr)
    assert snapshot(device) == before


def test_unknown_role_is_a_usage_error(device):
    before = snapshot(device)

    result = invoke(device, "staff", "add", "--name", "Otra", "--role", "chef", "--pin", "5555")

    assert result.exit_code == 2
    assert "Invalid value for '--role': 'chef' is not one of" in result.stderr
    assert snapshot(device) == before


def test_two_people_with_one_name_need_the_id(device):
    # Names are refused twice at `add` (see above); a device may hold two from before that.
    added = invoke(device, "staff", "add", "--name", "Rosa", "--role", "waiter", "--pin", "5551")
    assert added.exit_code == 0, added.output
    with sqlite3.connect(device / "edge.db") as conn:
        conn.execute(
            "INSERT INTO staff (id, branch_id, name, role, pin_lookup, pin_hash, created_at)"
            " SELECT 'b0b0b0b0-0000-4000-8000-000000000000', branch_id, name, role, 'x', 'x',"
            " created_at FROM staff WHERE name = 'Rosa'"
        )
    conn.close()
    before = snapshot(device)

    ambiguous = invoke(device, "staff", "remove", "Rosa")

    assert ambiguous.exit_code == 1
    assert (
        "several staff members are named 'Rosa': use the id ('restai-edge staff list' shows them)"
        in error_line(ambiguous.stderr)
    )
    assert snapshot(device) == before
    first = next(row for row in staff_rows(device) if row[1] == "Rosa")
    assert invoke(device, "staff", "remove", str(first[0])).exit_code == 0
    assert [row[1] for row in staff_rows(device)].count("Rosa") == 1


def test_a_pin_left_out_is_asked_for_without_echo(device):
    result = CliRunner().invoke(
        cli,
        ["--data-dir", str(device), "staff", "add", "--name", "Pia", "--role", "waiter"],
        input="583190\n583190\n",
    )
    assert result.exit_code == 0, result.output
    assert "583190" not in result.output, "the PIN was echoed"
    assert "PIN:" in result.output
    assert "Added Pia (waiter)" in result.output
    mismatch = CliRunner().invoke(
        cli,
        ["--data-dir", str(device), "staff", "set-pin", "Pia"],
        input="583190\n583191\n583192\n583192\n",
    )
    assert mismatch.exit_code == 0, mismatch.output
    assert "do not match" in mismatch.output.lower()
    assert login_check(device, "583192")


def login_check(device: Path, pin: str) -> bool:
    """The PIN verifies against the stored row, through the device's own code and key."""
    from edge.secret_files import PIN_KEY, read_secret
    from edge.staff import pin_lookup, verify_pin

    key = read_secret(device, PIN_KEY)
    found = rows(
        device / "edge.db",
        "SELECT pin_hash FROM staff WHERE pin_lookup = ?",
        (pin_lookup(key, pin),),
    )
    return len(found) == 1 and verify_pin(pin, str(found[0][0]), key)


def test_set_role_changes_the_role(device):
    changed = invoke(device, "staff", "set-role", "Walter Waiter", "cashier")
    assert changed.exit_code == 0, changed.output
    (walter,) = [row for row in staff_rows(device) if row[1] == "Walter Waiter"]
    assert changed.stdout == f"Changed the role of staff member {walter[0]} to cashier\n"
    assert walter[2] == "cashier"


def test_staff_commands_before_provisioning(tmp_path):
    data_dir = tmp_path / "data"
    for args in (["list"], ["add", "--name", "A", "--role", "waiter", "--pin", "5555"]):
        done = restai(data_dir, "staff", *args)
        assert done.returncode == 1
        assert "no device store in" in error_line(done.stderr)
    assert not data_dir.exists()


def test_changes_reach_a_serving_device_at_once(make_server):
    server = make_server(tables=5)
    waiter_token = server.staff_token(WAITER_PIN)

    added = restai(
        server.data_dir,
        "staff",
        "add",
        "--name",
        "Nina Waiter",
        "--role",
        "waiter",
        "--pin",
        "60606",
    )
    assert added.returncode == 0, added.stderr
    first = login(server.url, "60606")
    assert first.status_code == 200, first.text
    assert first.json()["data"]["staff"]["name"] == "Nina Waiter"

    changed = restai(server.data_dir, "staff", "set-pin", "Nina Waiter", "--pin", "70707")
    assert changed.returncode == 0, changed.stderr
    assert login(server.url, "60606").status_code == 401
    assert login(server.url, "70707").status_code == 200

    tables = httpx.get(f"{server.url}/api/tables", headers=auth(waiter_token))
    assert tables.status_code == 200, tables.text
    removed = restai(server.data_dir, "staff", "remove", "Walter Waiter")
    assert removed.returncode == 0, removed.stderr
    assert login(server.url, WAITER_PIN).status_code == 401
    refused = httpx.get(f"{server.url}/api/tables", headers=auth(waiter_token))
    assert refused.status_code == 401, "a removed waiter's tablet still works"
