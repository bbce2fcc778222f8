"""Kitchen tickets end to end: a real `serve` process, diners and staff over HTTP, and pretend
printers (`DevPrinter`: raw TCP on 127.0.0.1 recording every byte) whose bytes are read back the
way a printer would print them: text in the code page the ticket selected, styles, the cut.

Covers a normal order, notes, two stations splitting an order, a printer down then back, a
device killed with tickets pending, a printer that accepts and never reads, reprints, and the
ordering latency meanwhile; and, in Debian's Chromium, the staff page showing a station that is
down and reprinting an order.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import re
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from edge.catalog import apply_catalog, parse_menu_document
from edge.store import Store
from provisioning.printer_dev import DevPrinter, Ticket, printed_text
from provisioning.server_process import free_port
from tests.conftest import EdgeServer, approve, auth, open_session, provision_device
from tests.pages_browser import TABLET, Opener, board_card, screenshot, staff_login


def new_id() -> str:
    return str(uuid.uuid4())


LOMO, AJI, CHICHA, PISCO = (new_id() for _ in range(4))
FONDOS, BEBIDAS, TERMINO, EXTRAS = (new_id() for _ in range(4))
A_PUNTO, HUEVO, PLATANO = (new_id() for _ in range(3))


def _item(item_id: str, category: str, name: str, price: int, groups: list[str]) -> dict:
    return {"id": item_id, "category_id": category, "name": name, "description": None,
            "price": price, "image_url": None, "is_available": True, "sort_order": 0,
            "allergens": [], "dietary_tags": [], "spice_level": None,
            "preparation_time_min": None, "modifier_groups": groups}  # fmt: skip


def _group(group_id: str, name: str, most: int, choices: list[tuple[str, str, int]]) -> dict:
    return {"id": group_id, "name": name, "min_selections": 0, "max_selections": most,
            "modifiers": [{"id": mid, "name": label, "price": price, "is_available": True,
                           "sort_order": order} for order, (mid, label, price) in
                          enumerate(choices)]}  # fmt: skip


MENU: dict[str, Any] = {
    "version": "printing-1",
    "branch": {"name": "Downtown Lima", "currency": "PEN", "tax_rate": 1800},
    "categories": [
        {"id": FONDOS, "name": "Fondos", "sort_order": 0, "is_active": True},
        {"id": BEBIDAS, "name": "Bebidas", "sort_order": 1, "is_active": True},
    ],
    "items": [
        _item(LOMO, FONDOS, "Lomo saltado", 4200, [TERMINO, EXTRAS]),
        _item(AJI, FONDOS, "Ají de gallina", 3600, []),
        _item(CHICHA, BEBIDAS, "Chicha morada", 1025, []),
        _item(PISCO, BEBIDAS, "Pisco sour", 2200, []),
    ],
    "modifier_groups": [
        _group(TERMINO, "Término", 1, [(A_PUNTO, "A punto", 0)]),
        _group(
            EXTRAS, "Extras", 2, [(HUEVO, "Huevo frito", 300), (PLATANO, "Plátano maduro", 250)]
        ),
    ],
}
# One-second retry cap and a two-second attempt deadline keep each test short.
FAST = {"RESTAI_EDGE_PRINT_RETRY_CAP": "1", "RESTAI_EDGE_PRINT_TIMEOUT": "2"}

Device = Callable[..., EdgeServer]


def load_menu(data_dir: Path) -> None:
    async def apply() -> None:
        async with Store(data_dir / "edge.db") as store:
            await apply_catalog(
                store, parse_menu_document(json.dumps(MENU).encode()), source="file"
            )

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, apply()).result()


@pytest.fixture
def device(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Device]:
    """`device(**env)`: a provisioned device with MENU, served; all stop (log clean) at the end."""
    servers: list[EdgeServer] = []

    def make(data_dir: Path | None = None, **env: str) -> EdgeServer:
        if data_dir is None:
            data_dir = tmp_path_factory.mktemp("device") / "data"
            provision_device(data_dir, 20)
            load_menu(data_dir)
        server = EdgeServer(data_dir, {**FAST, **env}).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
    for server in servers:
        server.assert_clean_log()
        # python-escpos calls logging.basicConfig() on import: no record may come out twice.
        assert not re.search(r"^(INFO|WARNING):sanic", server.log(), re.MULTILINE), server.log()


@pytest.fixture
def printers() -> Iterator[Callable[..., DevPrinter]]:
    made: list[DevPrinter] = []

    def make(*, on: bool = True, reading: bool = True) -> DevPrinter:
        printer = DevPrinter(port=free_port())
        made.append(printer)
        return printer.start(reading=reading) if on else printer

    yield make
    for printer in made:
        printer.stop()


def add_printer(server: EdgeServer, name: str, printer: DevPrinter, *extra: str) -> None:
    server.cli("printer", "add", "--name", name, "--host", "127.0.0.1",
               "--port", str(printer.port), *extra)  # fmt: skip


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout} s for {what}")
        time.sleep(0.05)


# Generous: only a failing test waits this long, and CI runs Chromium and a Debian boot beside it.
def wait_tickets(printer: DevPrinter, count: int, timeout: float = 30) -> list[Ticket]:
    wait_until(lambda: len(printer.tickets()) >= count, timeout, f"{count} ticket(s)")
    return printer.tickets()


def seated(server: EdgeServer, token: str, name: str = "Carlos Rodríguez") -> str:
    diner = open_session(server, server.table_code(), name)
    assert approve(server, token, diner["sessionId"]).status_code == 200
    return str(diner["token"])


def place(server: EdgeServer, diner: str, items: list[dict[str, Any]], **body: Any) -> dict:
    answer = httpx.post(
        f"{server.url}/api/customer/orders", json={"items": items, **body}, headers=auth(diner)
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json()["data"])


def confirm(server: EdgeServer, token: str, order_id: str, status: str = "confirmed") -> float:
    """Move the order on; returns how long the request took, in seconds."""
    started = time.perf_counter()
    answer = httpx.patch(
        f"{server.url}/api/orders/{order_id}/status", json={"status": status}, headers=auth(token)
    )
    took = time.perf_counter() - started
    assert answer.status_code == 200, answer.text
    return took


def printer_states(server: EdgeServer, token: str) -> dict[str, dict[str, Any]]:
    answer = httpx.get(f"{server.url}/api/printers", headers=auth(token))
    assert answer.status_code == 200, answer.text
    return {row["name"]: row for row in answer.json()["data"]}


def order_lines(ticket: Ticket) -> list[str]:
    """The dish lines of a ticket ("2 x Lomo saltado"), in print order."""
    return [line.text for line in ticket.lines if " x " in line.text and line.tall]


def flowing(ticket: Ticket) -> str:
    """The ticket's words as one string (long notes wrap over several lines)."""
    return " ".join(line.strip() for line in ticket.text)


def test_a_confirmed_order_prints_one_ticket_with_everything_the_cook_needs(
    device: Device, printers: Callable[..., DevPrinter]
) -> None:
    server, kitchen = device(), printers()
    add_printer(server, "Cocina", kitchen)
    token = server.staff_token()
    diner = seated(server, token, "Carlos Rodríguez")
    order = place(
        server,
        diner,
        [
            {"menuItemId": LOMO, "quantity": 2, "notes": "Sin cebolla, bien cocido"},
            {"menuItemId": CHICHA, "quantity": 1},
        ],  # fmt: skip
        notes="Cumpleaños: traer todo junto ¡gracias!",
    )
    time.sleep(1.5)
    assert kitchen.connections == [], "a pending order is not printed (print_on = confirmed)"

    confirm(server, token, order["id"])
    (ticket,) = wait_tickets(kitchen, 1)
    text = printed_text(ticket)
    assert ticket.cut, "the ticket ends with a paper cut"
    assert "Downtown Lima" in text
    table = next(line for line in ticket.lines if line.text.startswith("MESA"))
    assert table.text == f"MESA {order['table_number']}" and table.tall and table.wide
    assert f"Pedido #{order['order_number']}" in ticket.text
    assert "Cliente: Carlos Rodríguez" in ticket.text
    assert "Estación: Cocina" in ticket.text
    assert any(line.startswith("Hora: ") for line in ticket.text)
    assert order_lines(ticket) == ["2 x Lomo saltado", "1 x Chicha morada"]
    assert "    Nota: Sin cebolla, bien cocido" in ticket.text
    assert "Nota del pedido: Cumpleaños: traer todo junto ¡gracias!" in flowing(ticket)
    assert max(len(line) for line in ticket.text) <= 42, "wrapped to the printer's 42 columns"

    confirm(server, token, order["id"], "preparing")
    time.sleep(1.5)
    assert len(kitchen.connections) == 1, "one ticket per order, not one per status change"


def test_modifiers_and_notes_print_under_their_line(
    device: Device, printers: Callable[..., DevPrinter]
) -> None:
    server, kitchen = device(), printers()
    add_printer(server, "Cocina", kitchen)
    token = server.staff_token()
    diner = seated(server, token)
    order = place(server, diner, [
        {"menuItemId": LOMO, "quantity": 1, "modifiers": [A_PUNTO, HUEVO, PLATANO],
         "notes": "Sin ají"},
        {"menuItemId": LOMO, "quantity": 2},
        {"menuItemId": AJI, "quantity": 1, "notes": "Para compartir, con dos platos"},
    ], notes="Mesa con niños: primero el ají")  # fmt: skip
    assert [m["name"] for m in order["items"][0]["modifiers"]] == [
        "A punto", "Huevo frito", "Plátano maduro"]  # fmt: skip
    confirm(server, token, order["id"])
    (ticket,) = wait_tickets(kitchen, 1)
    body = ticket.text[ticket.text.index("-" * 42) + 1 :]
    assert body[:8] == [
        "1 x Lomo saltado",
        "    + A punto",
        "    + Huevo frito",
        "    + Plátano maduro",
        "    Nota: Sin ají",
        "2 x Lomo saltado",
        "1 x Ají de gallina",
        "    Nota: Para compartir, con dos platos",
    ]
    assert "Nota del pedido: Mesa con niños: primero el ají" in flowing(ticket)


def test_a_hostile_note_prints_as_text_and_never_as_printer_commands(
    device: Device, printers: Callable[..., DevPrinter]
) -> None:
    server, kitchen = device(RESTAI_EDGE_PRINT_TIMEOUT="2"), printers()
    add_printer(server, "Cocina", kitchen)
    server.cli("settings", "print_on", "new")
    token = server.staff_token()
    time.sleep(2.5)  # a running device applies a settings change within 5 s
    diner = seated(server, token)
    # ESC p (open the cash drawer), GS V (cut) and ESC @ (reset) smuggled into notes.
    place(
        server,
        diner,
        [
            {"menuItemId": AJI, "quantity": 1, "notes": "¿picante?\x1bp\x00\x19\x19 sí\x1dV\x00"}
        ],  # fmt: skip
        notes="\x1b@ñam",
    )
    (ticket,) = wait_tickets(kitchen, 1)  # `decode` refuses any command it does not expect
    assert order_lines(ticket) == ["1 x Ají de gallina"]
    assert "    Nota: ¿picante? p sí V" in ticket.text
    assert "Nota del pedido: @ñam" in flowing(ticket)


def test_two_stations_split_one_order_by_category(
    device: Device, printers: Callable[..., DevPrinter]
) -> None:
    server, kitchen, bar = device(), printers(), printers()
    add_printer(server, "Cocina", kitchen, "--categories", "fondos")
    add_printer(server, "Bar", bar, "--categories", "Bebidas", "--width", "32")
    token = server.staff_token()
    diner = seated(server, token)
    both = place(server, diner, [{"menuItemId": CHICHA, "quantity": 3},
                                 {"menuItemId": LOMO, "quantity": 1},
                                 {"menuItemId": PISCO, "quantity": 2}])  # fmt: skip
    drinks = place(server, diner, [{"menuItemId": PISCO, "quantity": 1}])
    confirm(server, token, both["id"])
    confirm(server, token, drinks["id"])

    first, second = wait_tickets(bar, 2)
    (food,) = wait_tickets(kitchen, 1)
    assert order_lines(food) == ["1 x Lomo saltado"]
    assert "Estación: Cocina" in food.text
    assert order_lines(first) == ["3 x Chicha morada", "2 x Pisco sour"]
    assert order_lines(second) == ["1 x Pisco sour"]
    assert max(len(line) for line in first.text) <= 32, "the bar's 32-column paper"
    time.sleep(1.0)
    assert len(kitchen.tickets()) == 1, "a drinks-only order prints nothing in the kitchen"


def test_a_printer_down_for_a_while_gets_everything_once_and_in_order(
    device: Device, printers: Callable[..., DevPrinter]
) -> None:
    server = device()
    kitchen, bar = printers(on=False), printers()
    add_printer(server, "Cocina", kitchen, "--categories", "Fondos")
    add_printer(server, "Bar", bar, "--categories", "Bebidas")
    token = server.staff_token()
    diner = seated(server, token)
    numbers, took = [], []
    for _ in range(4):
        order = place(server, diner, [{"menuItemId": AJI, "quantity": 1},
                                      {"menuItemId": CHICHA, "quantity": 1}])  # fmt: skip
        took.append(confirm(server, token, order["id"]))
        numbers.append(order["order_number"])

    # The bar is not held by the kitchen's printer being off.
    assert [t.text for t in wait_tickets(bar, 4)] and len(bar.tickets()) == 4
    wait_until(lambda: printer_states(server, token)["Cocina"]["status"] == "down", 10, "down")
    state = printer_states(server, token)["Cocina"]
    assert state["queue_depth"] == 4
    assert "refused" in state["last_error"]["message"]
    assert printer_states(server, token)["Bar"]["status"] == "up"
    assert max(took) < 0.5, f"confirming an order took {max(took):.3f} s with a printer off"

    time.sleep(2.5)  # several failed attempts: none of them may print anything later
    kitchen.start()
    tickets = wait_tickets(kitchen, 4)
    printed = [int(next(t for t in ticket.text if t.startswith("Pedido #"))[8:])
               for ticket in tickets]  # fmt: skip
    assert printed == numbers, "every ticket once, in the order the kitchen got them"
    time.sleep(1.5)
    assert len(kitchen.tickets()) == 4
    wait_until(lambda: printer_states(server, token)["Cocina"]["status"] == "up", 5, "up")
    assert printer_states(server, token)["Cocina"]["queue_depth"] == 0


def test_an_idle_printer_switched_off_shows_as_down_before_its_next_ticket(
    device: Device, printers: Callable[..., DevPrinter]
) -> None:
    server, kitchen = device(), printers()
    add_printer(server, "Cocina", kitchen)
    token = server.staff_token()
    assert printer_states(server, token)["Cocina"]["status"] == "up"
    kitchen.stop()
    wait_until(lambda: printer_states(server, token)["Cocina"]["status"] == "down", 10, "down")
    state = printer_states(server, token)["Cocina"]
    assert "refused the connection" in state["last_error"]["message"]
    assert state["queue_depth"] == 0
    kitchen.start()
    wait_until(lambda: printer_states(server, token)["Cocina"]["status"] == "up", 10, "back up")
    assert printer_states(server, token)["Cocina"]["last_success"] is not None
    assert kitchen.connections == [], "a check sends nothing, so nothing prints"


def claimed_tickets(server: EdgeServer) -> int:
    with sqlite3.connect(f"file:{server.data_dir / 'edge.db'}?mode=ro", uri=True) as db:
        return int(
            db.execute(
                "SELECT count(*) FROM outbox WHERE topic LIKE 'printer:%'"
                " AND claimed_by IS NOT NULL AND acknowledged_at IS NULL"
            ).fetchone()[0]
        )


def test_tickets_pending_when_the_device_is_killed_print_once_after_restart(
    device: Device, printers: Callable[..., DevPrinter]
) -> None:
    # A minute per attempt, so the ticket is still out for delivery when the device is killed,
    # and its claim's lease (a minute and a half) is far longer than this test waits.
    slow = {"RESTAI_EDGE_PRINT_TIMEOUT": "60"}
    server = device(**slow)
    kitchen = printers(reading=False)  # takes the connection, never reads: a ticket stays claimed
    add_printer(server, "Cocina", kitchen)
    token = server.staff_token()
    diner = seated(server, token)
    big = [{"menuItemId": LOMO, "quantity": 1, "notes": "x" * 500} for _ in range(40)]
    first = place(server, diner, big)
    confirm(server, token, first["id"])
    wait_until(lambda: claimed_tickets(server) == 1, 10, "the ticket out for delivery")
    second = place(server, diner, [{"menuItemId": AJI, "quantity": 2}])
    confirm(server, token, second["id"])
    server.kill()

    kitchen.stop()
    kitchen.start()
    device(server.data_dir, **slow)
    started = time.monotonic()
    first_ticket, second_ticket = wait_tickets(kitchen, 2)
    # The killed process's claim is freed at once (its owner is dead), not when its lease ends.
    assert time.monotonic() - started < 20
    assert len(order_lines(first_ticket)) == 40
    assert order_lines(second_ticket) == ["2 x Ají de gallina"]
    time.sleep(1.5)
    assert len(kitchen.tickets()) == 2, "nothing printed twice"


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_a_printer_that_accepts_and_never_reads_holds_nothing_and_leaks_nothing(
    device: Device, printers: Callable[..., DevPrinter]
) -> None:
    server = device()
    stuck, bar = printers(reading=False), printers()
    add_printer(server, "Cocina", stuck, "--categories", "Fondos")
    add_printer(server, "Bar", bar, "--categories", "Bebidas")
    token = server.staff_token()
    diner = seated(server, token)
    big = [{"menuItemId": LOMO, "quantity": 1, "notes": "x" * 500} for _ in range(40)]
    confirm(server, token, place(server, diner, big)["id"])
    wait_until(lambda: printer_states(server, token)["Cocina"]["failures"] >= 1, 10, "a timeout")
    baseline = open_files(server.pid)
    failures = printer_states(server, token)["Cocina"]["failures"]

    took = []
    for _ in range(10):
        order = place(server, diner, [{"menuItemId": PISCO, "quantity": 1},
                                      {"menuItemId": AJI, "quantity": 1}])  # fmt: skip
        took.append(confirm(server, token, order["id"]))
    assert len(wait_tickets(bar, 10)) == 10, "the bar prints while the kitchen is stuck"
    assert max(took) < 0.5, f"confirming took up to {max(took):.3f} s with a stuck printer"

    wait_until(
        lambda: printer_states(server, token)["Cocina"]["failures"] >= failures + 2,
        15,
        "two more timed-out attempts",
    )
    state = printer_states(server, token)["Cocina"]
    assert state["status"] == "down" and state["queue_depth"] == 11
    assert "no answer" in state["last_error"]["message"]
    assert open_files(server.pid) <= baseline + 2, "every timed-out connection was closed"
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 5, "a stuck printer does not hold the device's stop"


def test_staff_reprint_an_order_on_its_stations(
    device: Device, printers: Callable[..., DevPrinter]
) -> None:
    server, kitchen, bar = device(), printers(), printers()
    add_printer(server, "Cocina", kitchen, "--categories", "Fondos")
    add_printer(server, "Bar", bar, "--categories", "Bebidas")
    token = server.staff_token()
    diner = seated(server, token)
    order = place(server, diner, [{"menuItemId": LOMO, "quantity": 1}])
    confirm(server, token, order["id"])
    wait_tickets(kitchen, 1)

    url = f"{server.url}/api/orders/{order['id']}/print"
    answer = httpx.post(url, headers=auth(server.staff_token("314159")))  # the kitchen's PIN
    assert answer.status_code == 202, answer.text
    assert [row["name"] for row in answer.json()["data"]["printers"]] == ["Cocina"]
    original, copy = wait_tickets(kitchen, 2)
    assert copy.text[0] == "*** REIMPRESIÓN ***"
    assert order_lines(copy) == order_lines(original) == ["1 x Lomo saltado"]

    kitchen_id = printer_states(server, token)["Cocina"]["id"]
    bar_id = printer_states(server, token)["Bar"]["id"]
    assert httpx.post(url, json={"printerId": kitchen_id}, headers=auth(token)).status_code == 202
    wait_tickets(kitchen, 3)
    refused = httpx.post(url, json={"printerId": bar_id}, headers=auth(token))
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "NO_PRINTER"
    missing = httpx.post(f"{server.url}/api/orders/{uuid.uuid4()}/print", headers=auth(token))
    assert missing.status_code == 404
    unknown = httpx.post(url, json={"printerId": str(uuid.uuid4())}, headers=auth(token))
    assert unknown.status_code == 404
    assert httpx.post(url, json={"printerId": "x"}, headers=auth(token)).status_code == 400
    assert httpx.post(f"{server.url}/api/orders/nope/print", headers=auth(token)).status_code == 400
    assert httpx.post(url).status_code == 401
    assert httpx.post(url, headers=auth(diner)).status_code == 403
    assert httpx.get(f"{server.url}/api/printers", headers=auth(diner)).status_code == 403
    time.sleep(1.0)
    assert bar.connections == []


SHOWN_MS = 10000


def test_staff_see_a_station_down_and_reprint_an_order(
    device: Device, printers: Callable[..., DevPrinter], open_page: Opener
) -> None:
    server, kitchen = device(), printers(on=False)
    add_printer(server, "Cocina", kitchen)
    token = server.staff_token()
    order = place(server, seated(server, token), [{"menuItemId": AJI, "quantity": 2}])
    confirm(server, token, order["id"])

    staff = open_page(server, TABLET)
    staff_login(staff, server)
    banner = staff.locator("#printer-banner")
    expect(banner).to_contain_text(
        "Impresora sin conexión: Cocina (1 ticket en espera)", timeout=SHOWN_MS
    )
    screenshot(staff, "staff-printer-down-tablet")

    kitchen.start()
    wait_tickets(kitchen, 1)
    expect(banner).to_be_hidden(timeout=SHOWN_MS)

    staff.get_by_role("tab", name="Pedidos").click()
    card = board_card(staff, order["table_number"])
    card.get_by_role("button", name="Reimprimir").click()
    original, copy = wait_tickets(kitchen, 2)
    assert copy.text[0] == "*** REIMPRESIÓN ***"
    assert "2 x Ají de gallina" in copy.text and "2 x Ají de gallina" in original.text
    expect(staff.locator("#announcer")).to_contain_text("enviado a imprimir: Cocina")
