"""Table keys on the pages, in a real Chromium: the QR code's `?k=` lets a second phone join an
open table, a phone without it is told to scan the code, and staff see who joined; the staff
page's "Salir" ends its token on the device, not only on the tablet."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.conftest import WAITER_PIN, EdgeServer, auth
from tests.pages_browser import (
    LIVE_MS,
    PHONE,
    TABLET,
    Opener,
    diner_url,
    join,
    request_card,
    screenshot_both,
    staff_login,
    table_card,
    table_number,
)


def test_only_the_phone_that_scanned_the_table_joins_it(
    menu_server: EdgeServer, open_page: Opener
) -> None:
    server = menu_server
    code = server.table_code()
    number = table_number(code)
    staff = open_page(server, TABLET)
    staff_login(staff, server)
    first, stranger, friend = (open_page(server, PHONE) for _ in range(3))

    join(first, server, code, "Lucia Torres")
    request_card(staff, number).get_by_role("button", name="Aprobar").click()
    expect(first.get_by_role("heading", name="La carta")).to_be_visible(timeout=LIVE_MS)

    # Someone elsewhere on the Wi-Fi who typed the table's address: no key, no seat.
    stranger.goto(diner_url(server, code, scanned=False))
    expect(stranger.get_by_text("a nombre de Lucia Torres")).to_be_visible()
    stranger.get_by_label("Tu nombre").fill("Eva Intrusa")
    stranger.get_by_role("button", name="Unirme a la mesa").click()
    refusal = stranger.locator("#join-error")
    expect(refusal).to_have_text(
        "Para unirte a una mesa abierta, escanea el código QR de tu mesa o pide ayuda al personal."
    )
    expect(stranger.get_by_role("heading", name="La carta")).to_be_hidden()
    screenshot_both(stranger, "diner-join-needs-qr", PHONE)

    # A friend at the table scans its QR code.
    join(friend, server, code, "Pedro Torres")
    expect(friend.get_by_role("heading", name="La carta")).to_be_visible()
    notice = staff.locator("#join-alert")
    expect(notice).to_have_text(f"Pedro Torres se unió a la mesa {number}.", timeout=LIVE_MS)
    expect(table_card(staff, number)).to_contain_text("Lucia Torres")
    expect(table_card(staff, number)).to_contain_text("2 personas")
    screenshot_both(staff, "staff-diner-joined", TABLET)
    table_card(staff, number).click()
    expect(staff.locator("#td-who")).to_contain_text("Se unieron: Pedro Torres")
    assert "Eva Intrusa" not in staff.locator("#td-who").inner_text()


def test_salir_ends_the_staff_token_on_the_device(
    menu_server: EdgeServer, open_page: Opener
) -> None:
    staff = open_page(menu_server, TABLET)
    staff_login(staff, menu_server, WAITER_PIN)
    token = staff.evaluate("JSON.parse(localStorage.getItem('restai:staff')).token")
    tables = f"{menu_server.url}/api/tables"
    assert httpx.get(tables, headers=auth(token)).status_code == 200
    with staff.expect_response(lambda response: "/api/auth/staff/logout" in response.url):
        staff.get_by_role("button", name="Salir").click()
    expect(staff.get_by_role("button", name="Entrar")).to_be_visible()
    assert httpx.get(tables, headers=auth(token)).status_code == 401
