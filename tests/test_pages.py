"""The diner and staff pages in a real Chromium against a real device: the whole table flow,
offline (every request must stay on the device), with screenshots for review and axe-core
checking every state the flows go through."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, ViewportSize, expect

from provisioning.server_process import free_port
from tests.conftest import (
    KITCHEN_PIN,
    MANAGER_PIN,
    SLUG,
    WAITER_PIN,
    EdgeServer,
    approve,
    auth,
    open_session,
    provision_device,
)
from tests.pages_browser import (
    API_TIMEOUT_MS,
    LIVE_MS,
    PHONE,
    POLL_MS,
    TABLET,
    LateAnswer,
    Opener,
    assert_accessible,
    board_card,
    cli,
    diner_url,
    join,
    menu_item,
    place_order,
    request_card,
    screenshot,
    screenshot_both,
    staff_login,
    table_card,
    table_number,
)


def test_diner_and_staff_go_through_a_whole_table(
    menu_server: EdgeServer, open_page: Opener
) -> None:
    server = menu_server
    code = server.table_code()
    number = table_number(code)
    staff = open_page(server, TABLET, beeps=True)
    diner = open_page(server, PHONE)

    staff_login(staff, server)
    staff.get_by_role("tab", name="Carta").click()
    inca = staff.locator("#menu-admin li", has_text="Inca Kola")
    inca.get_by_role("button", name="Marcar agotado").click()
    expect(inca.get_by_text("Agotado")).to_be_visible()
    screenshot_both(staff, "staff-menu", TABLET)
    staff.get_by_role("tab", name="Mesas").click()

    diner.goto(diner_url(server, code))
    expect(diner.get_by_role("heading", name="Bienvenido")).to_be_visible()
    screenshot_both(diner, "diner-join", PHONE)
    diner.get_by_role("button", name="Unirme a la mesa").click()
    expect(diner.get_by_role("alert")).to_contain_text("Escribe tu nombre")
    assert_accessible(diner, "diner-join-without-a-name")
    # A name is data, never markup: it must come back as the same text everywhere.
    name = 'Carlos <img src=x onerror="window.__xss=1">'
    diner.get_by_label("Tu nombre").fill(name)
    diner.get_by_label("Teléfono").fill("+51 912 345 678")
    diner.get_by_role("button", name="Unirme a la mesa").click()
    expect(diner.get_by_role("heading", name="Esperando aprobación")).to_be_visible()
    expect(diner.get_by_text(f"Hola, {name}.", exact=False)).to_be_visible()
    screenshot_both(diner, "diner-waiting", PHONE)

    card = request_card(staff, number)
    expect(card).to_be_visible(timeout=LIVE_MS)
    expect(card.get_by_text(name, exact=True)).to_be_visible()
    expect(staff.get_by_role("alert").filter(has_text="aprobación")).to_be_visible()
    staff.wait_for_function("window.__beeps > 0", timeout=LIVE_MS)
    expect(table_card(staff, number)).to_contain_text("Por aprobar")
    assert staff.locator("img").count() == 0 and diner.locator("img").count() == 0
    screenshot_both(staff, "staff-request", TABLET)

    card.get_by_role("button", name="Aprobar").click()
    expect(diner.get_by_role("heading", name="La carta")).to_be_visible(timeout=LIVE_MS)
    expect(card).to_have_count(0)
    expect(diner.get_by_role("heading", name="Lomo saltado")).to_be_visible()
    sold_out = menu_item(diner, "Aji de gallina")
    expect(sold_out.get_by_text("Agotado")).to_be_visible()
    expect(sold_out.get_by_role("button", name="Agregar")).to_have_count(0)
    expect(menu_item(diner, "Inca Kola").get_by_text("Agotado")).to_be_visible()
    screenshot_both(diner, "diner-menu", PHONE)

    menu_item(diner, "Lomo saltado").get_by_role("button", name="Agregar").click()
    menu_item(diner, "Lomo saltado").get_by_role("button", name="Agregar").click()
    menu_item(diner, "Chicha morada").get_by_role("button", name="Agregar").click()
    expect(menu_item(diner, "Lomo saltado")).to_contain_text("2 en tu pedido")
    diner.get_by_role("button", name="Ver pedido").click()
    cart = diner.get_by_role("dialog", name="Tu pedido")
    # 2 x 42.00 + 9.00 = 93.00, tax 18% = 16.74, total 109.74
    expect(cart).to_contain_text("S/ 93.00")
    expect(cart).to_contain_text("S/ 109.74")
    diner.get_by_label("Notas para la cocina").fill("Sin aji, por favor")
    screenshot_both(diner, "diner-cart", PHONE)
    cart.get_by_role("button", name="Enviar pedido").click()
    expect(cart).to_be_hidden()
    order = diner.locator("#orders-list .order-card").first
    expect(order).to_contain_text("Recibido")
    expect(order).to_contain_text("2 × Lomo saltado")
    expect(order).to_contain_text("S/ 109.74")

    staff.get_by_role("tab", name="Pedidos").click()
    ticket = board_card(staff, number)
    expect(ticket).to_contain_text("Sin aji, por favor", timeout=LIVE_MS)
    screenshot_both(staff, "staff-orders", TABLET)
    ticket.get_by_role("button", name="Preparar").click()
    expect(order.locator(".status-badge")).to_have_text("En preparación", timeout=LIVE_MS)
    expect(diner.locator("#announcer")).to_contain_text("En preparación")
    screenshot(diner, "diner-order-status-phone", PHONE)
    assert_accessible(diner, "diner-order-status")
    ticket.get_by_role("button", name="Listo").click()
    expect(order.locator(".status-badge")).to_have_text("Listo para servir", timeout=LIVE_MS)
    ticket.get_by_role("button", name="Servido").click()
    expect(order.locator(".status-badge")).to_have_text("Servido", timeout=LIVE_MS)
    expect(ticket).to_have_count(0)

    staff.get_by_role("tab", name="Mesas").click()
    expect(table_card(staff, number)).to_contain_text("S/ 109.74")
    screenshot_both(staff, "staff-tables", TABLET)
    table_card(staff, number).click()
    dialog = staff.get_by_role("dialog")
    expect(dialog).to_contain_text("Servido")
    screenshot_both(staff, "staff-table-detail", TABLET)
    dialog.get_by_role("button", name="Terminar").click()
    expect(dialog.get_by_role("status")).to_contain_text(f"Mesa {number} terminada")
    expect(dialog).to_contain_text("S/ 109.74")

    expect(diner.get_by_role("heading", name="Gracias por tu visita")).to_be_visible(
        timeout=LIVE_MS
    )
    expect(diner.locator("#ended-total")).to_have_text("S/ 109.74")
    screenshot_both(diner, "diner-ended", PHONE)
    assert diner.evaluate("window.__xss") is None and staff.evaluate("window.__xss") is None

    staff.get_by_role("button", name="Cerrar", exact=True).click()
    expect(table_card(staff, number)).to_contain_text("Libre")


def test_rejected_request_tells_the_diner_and_lets_them_ask_again(
    menu_server: EdgeServer, open_page: Opener
) -> None:
    server = menu_server
    code = server.table_code()
    number = table_number(code)
    staff = open_page(server, TABLET)
    diner = open_page(server, PHONE)
    staff_login(staff, server, WAITER_PIN)
    join(diner, server, code, "Rosa Quispe")
    expect(diner.get_by_role("heading", name="Esperando aprobación")).to_be_visible()

    request_card(staff, number).get_by_role("button", name="Rechazar").click()
    expect(diner.get_by_role("heading", name="Solicitud rechazada")).to_be_visible(timeout=LIVE_MS)
    screenshot_both(diner, "diner-rejected", PHONE)
    diner.get_by_role("button", name="Volver a pedir la mesa").click()
    expect(diner.get_by_role("button", name="Unirme a la mesa")).to_be_visible()
    expect(diner.get_by_label("Tu nombre")).to_be_visible()


def test_an_answer_older_than_the_approval_does_not_send_the_diner_back_to_wait(
    menu_server: EdgeServer, open_page: Opener, manager_token: str
) -> None:
    """The socket connects and asks where the session stands just as staff approve: the answer
    ("pending") can arrive after the approval's event has already opened the menu. CI caught a
    diner left on the waiting screen for good that way, with no event left to bring them back."""
    server = menu_server
    code = server.table_code()
    diner = open_page(server, PHONE)
    late = LateAnswer(diner, r"/session-status/")
    join(diner, server, code, "Elena Paredes")
    expect(diner.get_by_role("heading", name="Esperando aprobación")).to_be_visible()
    # The page asks once its socket is up.
    assert late.held().json()["data"]["status"] == "pending"

    session_id = httpx.get(server.customer_url(code, "check-session")).json()["data"]["sessionId"]
    assert approve(server, manager_token, session_id).status_code == 200
    expect(diner.get_by_role("heading", name="La carta")).to_be_visible(timeout=LIVE_MS)
    late.release()
    expect(diner.get_by_role("heading", name="La carta")).to_be_visible()
    expect(diner.get_by_role("heading", name="Esperando aprobación")).to_be_hidden()


def test_an_older_answer_of_a_list_does_not_put_back_what_changed(
    menu_server: EdgeServer, open_page: Opener, manager_token: str
) -> None:
    """Each event reloads what it changed; two loads in flight can be answered out of order, and
    the older answer would show what is no longer so (a request already approved, an order's
    old status), with no event to come that would correct it."""
    server = menu_server
    code, other = server.table_code(), server.table_code()
    opened = open_session(server, code, "Raul Vega")
    staff = open_page(server, TABLET)
    staff_login(staff, server)
    expect(request_card(staff, table_number(code))).to_be_visible()

    late = LateAnswer(staff, r"/api/tables/sessions/pending")
    open_session(server, other, "Sara Vega")
    assert opened["sessionId"] in {request["id"] for request in late.held().json()["data"]}
    assert approve(server, manager_token, opened["sessionId"]).status_code == 200
    expect(table_card(staff, table_number(code))).to_contain_text("Ocupada", timeout=LIVE_MS)
    late.let_newer_arrive()
    late.release()
    expect(request_card(staff, table_number(code))).to_have_count(0, timeout=LIVE_MS)
    expect(request_card(staff, table_number(other))).to_be_visible()

    # The diner's orders: a status does not go back.
    diner = open_page(server, PHONE)
    join(diner, server, code, "Tania Vega")
    expect(diner.get_by_role("heading", name="La carta")).to_be_visible()
    placed = place_order(server, opened["token"], code)
    badge = diner.locator("#orders-list .status-badge")
    expect(badge).to_have_text("Recibido", timeout=LIVE_MS)

    late = LateAnswer(diner, r"/api/customer/orders$")
    move = f"{server.url}/api/orders/{placed['id']}/status"
    confirmed = httpx.patch(move, json={"status": "confirmed"}, headers=auth(manager_token))
    assert confirmed.status_code == 200
    assert late.held().json()["data"][0]["status"] == "confirmed"
    preparing = httpx.patch(move, json={"status": "preparing"}, headers=auth(manager_token))
    assert preparing.status_code == 200
    late.let_newer_arrive()
    late.release()
    expect(badge).to_have_text("En preparación", timeout=LIVE_MS)


def test_a_load_the_network_swallowed_does_not_stop_the_list(
    menu_server: EdgeServer, open_page: Opener
) -> None:
    """A list waits for its load in flight before loading again; a request that never gets an
    answer (a tablet roaming between access points) gives up after a while, or the list would
    never change again."""
    server = menu_server
    code = server.table_code()
    staff = open_page(server, TABLET)
    staff.clock.install()
    staff_login(staff, server)
    # Held and never handed over: to the page, a request that got no answer.
    swallowed = LateAnswer(staff, r"/api/tables/sessions/pending")
    open_session(server, code, "Nora Vega")
    swallowed.held()
    open_session(server, server.table_code(), "Omar Vega")
    staff.wait_for_timeout(500)
    expect(request_card(staff, table_number(code))).to_have_count(0)
    staff.clock.run_for(API_TIMEOUT_MS + 1000)
    expect(request_card(staff, table_number(code))).to_be_visible(timeout=LIVE_MS)


def test_reload_resumes_and_a_second_diner_waits_for_the_first(
    menu_server: EdgeServer, open_page: Opener, manager_token: str
) -> None:
    server = menu_server
    code = server.table_code()
    first = open_page(server, PHONE)
    second = open_page(server, PHONE)
    join(first, server, code, "Lucia Torres")
    expect(first.get_by_role("heading", name="Esperando aprobación")).to_be_visible()
    first.reload()
    expect(first.get_by_role("heading", name="Esperando aprobación")).to_be_visible()
    expect(first.get_by_text("Hola, Lucia Torres.", exact=False)).to_be_visible()

    second.goto(diner_url(server, code))
    expect(second.get_by_role("heading", name="Mesa en espera de aprobación")).to_be_visible()
    expect(second.get_by_role("button", name="Unirme a la mesa")).to_be_hidden()
    screenshot_both(second, "diner-table-pending", PHONE)

    session_id = httpx.get(server.customer_url(code, "check-session")).json()["data"]["sessionId"]
    assert approve(server, manager_token, session_id).status_code == 200
    expect(first.get_by_role("heading", name="La carta")).to_be_visible(timeout=LIVE_MS)
    first.reload()
    expect(first.get_by_role("heading", name="La carta")).to_be_visible()

    # The blocked diner's page notices the table opened and offers to join it.
    expect(second.get_by_text("a nombre de Lucia Torres")).to_be_visible(timeout=POLL_MS)
    second.get_by_label("Tu nombre").fill("Pedro Torres")
    second.get_by_role("button", name="Unirme a la mesa").click()
    expect(second.get_by_role("heading", name="La carta")).to_be_visible()
    tokens = [
        page.evaluate(f"JSON.parse(localStorage.getItem('restai:visit:{code}')).token")
        for page in (first, second)
    ]
    assert tokens[0] != tokens[1], "each diner must hold a token of their own"

    # From the keyboard: the focus stays on the button that was pressed.
    add = menu_item(second, "Causa limena").get_by_role("button", name="Agregar")
    add.press("Enter")
    add.press("Enter")
    expect(add).to_be_focused()
    expect(menu_item(second, "Causa limena")).to_contain_text("2 en tu pedido")
    second.get_by_role("button", name="Ver pedido").click()
    less = second.get_by_role("button", name="Quitar uno de Causa limena")
    less.press("Enter")
    expect(less).to_be_focused()
    expect(second.get_by_role("dialog")).to_contain_text("S/ 25.96")
    second.get_by_role("button", name="Enviar pedido").click()
    # Both phones follow the table's orders.
    expect(first.locator("#orders-list .order-card")).to_contain_text(
        "Causa limena", timeout=LIVE_MS
    )


def test_open_orders_block_the_end_until_a_manager_forces_it(
    menu_server: EdgeServer, open_page: Opener, manager_token: str
) -> None:
    server = menu_server
    code = server.table_code()
    number = table_number(code)
    opened = open_session(server, code, "Jorge Salas")
    assert approve(server, manager_token, opened["sessionId"]).status_code == 200
    place_order(server, opened["token"], code)
    diner = open_page(server, PHONE)
    diner.goto(diner_url(server, code))
    diner.evaluate(
        "([key, visit]) => localStorage.setItem(key, JSON.stringify(visit))",
        [f"restai:visit:{code}", {**opened, "name": "Jorge Salas"}],
    )
    diner.reload()
    expect(diner.locator("#orders-list .order-card")).to_contain_text("Recibido")

    waiter = open_page(server, TABLET)
    staff_login(waiter, server, WAITER_PIN)
    table_card(waiter, number).click()
    dialog = waiter.get_by_role("dialog")
    dialog.get_by_role("button", name="Terminar").click()
    expect(dialog.get_by_role("alert")).to_contain_text("La mesa tiene pedidos en curso")
    expect(dialog.get_by_role("button", name="Forzar cierre")).to_have_count(0)

    manager = open_page(server, TABLET)
    staff_login(manager, server, MANAGER_PIN)
    table_card(manager, number).click()
    dialog = manager.get_by_role("dialog")
    dialog.get_by_role("button", name="Terminar").click()
    expect(dialog.get_by_role("alert")).to_contain_text("La mesa tiene pedidos en curso")
    screenshot_both(manager, "staff-end-blocked", TABLET)
    dialog.get_by_role("button", name="Forzar cierre").click()
    expect(dialog.get_by_role("status")).to_contain_text(f"Mesa {number} terminada")
    expect(diner.get_by_role("heading", name="Gracias por tu visita")).to_be_visible(
        timeout=LIVE_MS
    )


def test_without_realtime_both_pages_fall_back_to_polling(
    menu_server: EdgeServer, open_page: Opener
) -> None:
    server = menu_server
    code = server.table_code()
    number = table_number(code)
    staff = open_page(server, TABLET, realtime=False)
    diner = open_page(server, PHONE, realtime=False)
    staff_login(staff, server, WAITER_PIN, state="Reconectando…")
    join(diner, server, code, "Elena Rojas")
    expect(diner.get_by_role("heading", name="Esperando aprobación")).to_be_visible()

    request_card(staff, number).get_by_role("button", name="Aprobar").click(timeout=POLL_MS)
    expect(diner.get_by_role("heading", name="La carta")).to_be_visible(timeout=POLL_MS)
    menu_item(diner, "Ceviche clasico").get_by_role("button", name="Agregar").click()
    diner.get_by_role("button", name="Ver pedido").click()
    diner.get_by_role("button", name="Enviar pedido").click()
    order = diner.locator("#orders-list .order-card").first
    expect(order).to_contain_text("Recibido")

    staff.get_by_role("tab", name="Pedidos").click()
    board_card(staff, number).get_by_role("button", name="Preparar").click(timeout=POLL_MS)
    expect(order.locator(".status-badge")).to_have_text("En preparación", timeout=POLL_MS)


def test_kitchen_works_the_board_but_cannot_open_tables(
    menu_server: EdgeServer, open_page: Opener
) -> None:
    server = menu_server
    code = server.table_code()
    open_session(server, code, "Ines Paredes")
    kitchen = open_page(server, TABLET)
    staff_login(kitchen, server, KITCHEN_PIN)
    expect(kitchen.get_by_role("tab", name="Pedidos")).to_have_attribute("aria-selected", "true")
    card = request_card(kitchen, table_number(code))
    expect(card).to_be_visible()
    expect(card.get_by_role("button", name="Aprobar")).to_have_count(0)
    kitchen.get_by_role("button", name="Salir").click()
    expect(kitchen.get_by_role("button", name="Entrar")).to_be_visible()
    kitchen.get_by_label("PIN").fill("000000")
    kitchen.get_by_role("button", name="Entrar").click()
    expect(kitchen.get_by_role("alert")).to_contain_text("PIN incorrecto")
    screenshot_both(kitchen, "staff-login", TABLET)


def test_short_code_leads_to_the_table(menu_server: EdgeServer, open_page: Opener) -> None:
    server = menu_server
    code = server.table_code()
    tables = httpx.get(f"{server.url}/api/tables", headers=auth(server.staff_token())).json()
    short = next(table["short_code"] for table in tables["data"] if table["code"] == code)
    page = open_page(server, PHONE)
    page.goto(f"{server.url}/{SLUG}/codigo")
    screenshot_both(page, "diner-short-code", PHONE)
    page.get_by_label("Código de mesa").fill("ZZZZZ")
    page.get_by_role("button", name="Ir a mi mesa").click()
    expect(page.get_by_role("alert")).to_contain_text("No encontramos una mesa")
    assert_accessible(page, "diner-short-code-not-found")
    page.get_by_label("Código de mesa").fill(short.lower())
    page.get_by_role("button", name="Ir a mi mesa").click()
    # The short code leads to the table but not to its key (see test_pages_table_keys.py).
    expect(page).to_have_url(diner_url(server, code, scanned=False))
    expect(page.get_by_role("button", name="Unirme a la mesa")).to_be_visible()
    page.goto(f"{server.url}/{SLUG}/codigo/{short}")
    expect(page).to_have_url(diner_url(server, code, scanned=False))
    page.goto(f"{server.url}/{SLUG}/{SLUG}-99999")
    expect(page.get_by_role("heading", name="No encontrado")).to_be_visible()
    screenshot_both(page, "diner-unknown-table", PHONE)
    page.get_by_role("link", name="Escribir el código de mi mesa").click()
    expect(page.get_by_label("Código de mesa")).to_be_visible()


def fits(page: Page, name: str, size: ViewportSize) -> None:
    page.set_viewport_size(size)
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{name}: {overflow}px of sideways scrolling"
    screenshot(page, name)


def test_pages_fit_at_200_percent_zoom_and_in_landscape(
    menu_server: EdgeServer, open_page: Opener, manager_token: str
) -> None:
    server = menu_server
    code = server.table_code()
    # 200% zoom lays a page out in half the CSS pixels.
    zoomed_phone: ViewportSize = {"width": 195, "height": 422}
    landscape_phone: ViewportSize = {"width": 844, "height": 390}
    diner = open_page(server, PHONE)
    join(diner, server, code, "Ana Lucia Fernandez de la Torre")
    expect(diner.get_by_role("heading", name="Esperando aprobación")).to_be_visible()
    fits(diner, "diner-waiting-zoom200", zoomed_phone)
    fits(diner, "diner-waiting-landscape", landscape_phone)

    session_id = httpx.get(server.customer_url(code, "check-session")).json()["data"]["sessionId"]
    assert approve(server, manager_token, session_id).status_code == 200
    expect(diner.get_by_role("heading", name="La carta")).to_be_visible(timeout=LIVE_MS)
    menu_item(diner, "Causa limena").get_by_role("button", name="Agregar").click()
    fits(diner, "diner-menu-zoom200", zoomed_phone)
    fits(diner, "diner-menu-landscape", landscape_phone)

    staff = open_page(server, TABLET)
    staff_login(staff, server)
    fits(staff, "staff-zoom200", {"width": 512, "height": 384})
    fits(staff, "staff-portrait", {"width": 768, "height": 1024})
    staff.get_by_role("tab", name="Carta").click()
    fits(staff, "staff-menu-zoom200", {"width": 512, "height": 384})


@pytest.fixture
def offline_device(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeServer]:
    """A device whose central API never answers (nothing listens on its port)."""
    data_dir = tmp_path_factory.mktemp("device") / "data"
    provision_device(
        data_dir, 10, central_url=f"http://127.0.0.1:{free_port()}", device_token="t" * 40
    )
    device = EdgeServer(data_dir, {"RESTAI_EDGE_SYNC_INTERVAL": "1"}).start()
    yield device
    device.stop()
    device.assert_clean_log()


def test_expired_request_and_the_offline_sync_banner(
    offline_device: EdgeServer, open_page: Opener
) -> None:
    server = offline_device
    assert "pending_ttl = 5" in cli(server.data_dir, "settings", "pending_ttl", "5")
    diner = open_page(server, PHONE)
    code = server.table_code()
    # The device re-reads its settings every 2 s.
    diner.wait_for_timeout(2500)
    join(diner, server, code, "Mario Vargas")
    expect(diner.get_by_role("heading", name="Esperando aprobación")).to_be_visible()
    expect(diner.get_by_role("heading", name="Tu solicitud expiró")).to_be_visible(timeout=20000)
    screenshot_both(diner, "diner-expired", PHONE)

    # The expired request is queued for the central API, which cannot be reached.
    staff = open_page(server, TABLET)
    staff_login(staff, server)
    banner = staff.get_by_role("status").filter(has_text="por sincronizar")
    offline = re.compile(r"^Sin conexión — 1 mesa por sincronizar")
    expect(banner).to_have_text(offline, timeout=20000)
    screenshot_both(staff, "staff-sync-offline", TABLET)


def test_axe_reports_what_it_finds(menu_server: EdgeServer, open_page: Opener) -> None:
    """The accessibility checks above can fail: a planted unlabelled field is reported."""
    page = open_page(menu_server, PHONE)
    page.goto(f"{menu_server.url}/{SLUG}/codigo")
    assert_accessible(page, "the short-code form")
    page.evaluate(
        "() => document.querySelector('form').appendChild(document.createElement('input'))"
    )
    with pytest.raises(AssertionError, match="label"):
        assert_accessible(page, "the short-code form with an unlabelled field")
