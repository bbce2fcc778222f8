"""The staff page and the kitchen printers, in Debian's Chromium: a station that is down is
shown to staff until it is back, and staff reprint an order from the orders board."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import expect

from provisioning.printer_dev import DevPrinter
from tests.pages_browser import TABLET, Opener, board_card, screenshot, staff_login
from tests.test_printing import (
    AJI,
    Device,
    add_printer,
    confirm,
    place,
    seated,
    wait_tickets,
)

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
    wait_tickets(kitchen, 1, timeout=15)
    expect(banner).to_be_hidden(timeout=SHOWN_MS)

    staff.get_by_role("tab", name="Pedidos").click()
    card = board_card(staff, order["table_number"])
    card.get_by_role("button", name="Reimprimir").click()
    original, copy = wait_tickets(kitchen, 2)
    assert copy.text[0] == "*** REIMPRESIÓN ***"
    assert "2 x Ají de gallina" in copy.text and "2 x Ají de gallina" in original.text
    expect(staff.locator("#announcer")).to_contain_text("enviado a imprimir: Cocina")
