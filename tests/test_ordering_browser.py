"""Modifiers, table service and the diner's cancel in a real Chromium against a real device: a
phone orders a dish with a required and an optional group, calls the waiter, asks for the bill
and cancels a pending order, while a tablet gets and clears the alerts; no request leaves the
device (the `open_page` fixture fails the test otherwise)."""

from __future__ import annotations

import json

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from tests.conftest import EdgeServer, approve, auth
from tests.pages_browser import (
    LIVE_MS,
    PHONE,
    TABLET,
    LateAnswer,
    Opener,
    assert_accessible,
    board_card,
    cli,
    join,
    menu_item,
    screenshot_both,
    staff_login,
    table_number,
)
from tests.test_order_modifiers import CATALOG


@pytest.fixture(scope="module")
def catalog_server(server: EdgeServer, tmp_path_factory: pytest.TempPathFactory) -> EdgeServer:
    path = tmp_path_factory.mktemp("catalog") / "catalog.json"
    path.write_text(json.dumps(CATALOG), encoding="utf-8")
    cli(server.data_dir, "menu", "import", str(path))
    return server


def beeps(page: Page) -> int:
    return int(page.evaluate("window.__beeps"))


def seat(diner: Page, server: EdgeServer, manager_token: str, code: str) -> None:
    join(diner, server, code, "Lucía Quispe")
    expect(diner.get_by_role("heading", name="Esperando aprobación")).to_be_visible()
    pending = httpx.get(f"{server.url}/api/tables/sessions/pending", headers=auth(manager_token))
    number = table_number(code)
    session = next(s for s in pending.json()["data"] if s["table_number"] == number)
    assert approve(server, manager_token, session["id"]).status_code == 200
    expect(diner.get_by_role("heading", name="La carta")).to_be_visible(timeout=LIVE_MS)


def test_a_phone_orders_with_modifiers_calls_the_waiter_asks_for_the_bill_and_cancels(
    catalog_server: EdgeServer, open_page: Opener, manager_token: str
) -> None:
    server = catalog_server
    code = server.table_code()
    number = table_number(code)
    staff = open_page(server, TABLET, beeps=True)
    diner = open_page(server, PHONE)
    staff_login(staff, server)
    seat(diner, server, manager_token, code)

    # A dish with a required and an optional group: the sheet will not add it until the
    # required choice is made, and says which group is missing.
    menu_item(diner, "Lomo saltado").get_by_role("button", name="Agregar").click()
    dish = diner.get_by_role("dialog", name="Lomo saltado")
    expect(dish).to_be_visible()
    expect(dish.get_by_role("group", name="Término")).to_contain_text("Obligatorio · elige 1")
    expect(dish.get_by_role("group", name="Extras")).to_contain_text("Opcional · hasta 2")
    cheese = dish.get_by_label("Queso fundido")
    expect(cheese).to_be_disabled()
    expect(dish.locator(".modifier-option", has_text="Queso fundido")).to_contain_text("Agotado")
    add = dish.locator("#dish-add")
    expect(add).to_have_text("Agregar al pedido · S/ 42.00")
    expect(add).to_be_disabled()
    # Tapped anyway (it stays focusable for screen readers): the sheet says what is missing.
    add.click(force=True)
    expect(dish).to_be_visible()
    expect(dish.get_by_role("status")).to_have_text("Falta elegir: Término")
    dish.get_by_label("A punto").check()
    dish.get_by_label("Huevo frito").check()
    dish.get_by_label("Plátano frito").check()
    # Two extras at most: the third cannot be chosen any more.
    expect(dish.get_by_label("Tocino")).to_be_disabled()
    expect(dish.get_by_role("status")).to_be_hidden()
    expect(add).to_have_text("Agregar al pedido · S/ 48.25")
    screenshot_both(diner, "diner-dish-modifiers", PHONE)
    assert_accessible(diner, "the dish sheet with choices made")
    add.click()
    expect(dish).to_be_hidden()
    expect(menu_item(diner, "Lomo saltado")).to_contain_text("1 en tu pedido")

    diner.get_by_role("button", name="Ver pedido").click()
    cart = diner.get_by_role("dialog", name="Tu pedido")
    expect(cart).to_contain_text("A punto · Huevo frito (+S/ 3.50) · Plátano frito (+S/ 2.75)")
    # 48.25 + 18% (8.685, half up to 8.69) = 56.94
    expect(cart).to_contain_text("S/ 56.94")
    cart.get_by_role("button", name="Enviar pedido").click()
    expect(cart).to_be_hidden()
    first = diner.locator("#orders-list .order-card").first
    expect(first).to_contain_text("1 × Lomo saltado")
    expect(first).to_contain_text("A punto · Huevo frito")
    expect(first).to_contain_text("S/ 56.94")

    staff.get_by_role("tab", name="Pedidos").click()
    ticket = board_card(staff, number)
    expect(ticket).to_contain_text("A punto · Huevo frito", timeout=LIVE_MS)
    expect(ticket).to_contain_text("Plátano frito")
    screenshot_both(staff, "staff-board-modifiers", TABLET)

    # Calling the waiter alerts the tablet, visibly and audibly, once per open call.
    before = beeps(staff)
    diner.get_by_role("button", name="Llamar al mozo").click()
    expect(diner.locator("[data-key=call_waiter] .service-state")).to_have_text(
        "El mozo está en camino."
    )
    alert = staff.locator("#service-alert")
    expect(alert).to_have_text(f"Mesa {number} llama al mozo.", timeout=LIVE_MS)
    calls = staff.locator("#service-list li")
    expect(calls).to_have_count(1)
    expect(calls.first).to_contain_text("Llama al mozo")
    staff.wait_for_function(f"window.__beeps > {before}", timeout=LIVE_MS)
    alerted = beeps(staff)
    diner.get_by_role("button", name="Llamar al mozo").click()
    expect(diner.locator("#announcer")).to_contain_text("Ya avisamos al mozo")
    staff.wait_for_timeout(1500)
    assert beeps(staff) == alerted, "a second tap on an open call alerted the tablet again"
    expect(calls).to_have_count(1)

    # Asking for the bill shows it at once, and alerts the tablet too.
    diner.get_by_role("button", name="Pedir la cuenta").click()
    bill = diner.get_by_role("dialog", name="La cuenta de la mesa")
    expect(bill).to_be_visible()
    expect(bill).to_contain_text("Lomo saltado")
    expect(bill).to_contain_text("A punto")
    expect(bill.locator("#bill-total")).to_have_text("S/ 56.94")
    expect(bill.get_by_role("status")).to_have_text("Tu cuenta está en camino.")
    expect(calls).to_have_count(2, timeout=LIVE_MS)
    expect(alert).to_contain_text("2 llamadas de mesas")
    screenshot_both(diner, "diner-bill", PHONE)
    screenshot_both(staff, "staff-table-calls", TABLET)
    assert_accessible(diner, "the bill")
    assert_accessible(staff, "two table calls waiting")

    # A waiter handles both: the tablet stops alerting, the phone says they were handled.
    for left in (1, 0):
        calls.first.get_by_role("button", name="Atendido").click()
        expect(calls).to_have_count(left, timeout=LIVE_MS)
    expect(alert).to_be_hidden()
    expect(bill.get_by_role("status")).to_have_text(
        "El mozo ya atendió tu pedido de cuenta.", timeout=LIVE_MS
    )
    bill.get_by_role("button", name="Cerrar").last.click()
    expect(diner.locator("[data-key=call_waiter] .service-state")).to_have_text(
        "El mozo ya atendió tu llamado."
    )

    # A pending order can be taken back.
    menu_item(diner, "Ceviche clásico").get_by_role("button", name="Agregar").click()
    diner.get_by_role("button", name="Ver pedido").click()
    cart.get_by_role("button", name="Enviar pedido").click()
    expect(cart).to_be_hidden()
    second = diner.locator("#orders-list .order-card").first
    expect(second).to_contain_text("Ceviche clásico")
    second.get_by_role("button", name="Cancelar pedido").click()
    expect(second.locator(".status-badge")).to_have_text("Cancelado")
    expect(second.get_by_role("button", name="Cancelar pedido")).to_have_count(0)

    # Once the kitchen has an order, the diner is told why it cannot be cancelled. The phone
    # must not have heard of the kitchen's move yet, so its order refreshes are held back.
    menu_item(diner, "Pisco sour").get_by_role("button", name="Agregar").click()
    pisco = diner.get_by_role("dialog", name="Pisco sour")
    pisco.get_by_label("Sin azúcar").check()
    pisco.locator("#dish-add").click()
    diner.get_by_role("button", name="Ver pedido").click()
    cart.get_by_role("button", name="Enviar pedido").click()
    third = diner.locator("#orders-list .order-card").first
    expect(third).to_contain_text("Sin azúcar")
    placed = httpx.get(f"{server.url}/api/orders?status=pending", headers=auth(manager_token))
    pisco_order = next(o for o in placed.json()["data"] if o["items"][0]["name"] == "Pisco sour")

    # Held by a flag rather than route/unroute: a refresh in flight while the handler is removed
    # could be lost (Playwright would have it handled twice).
    holding = True

    def hold(route: Route) -> None:
        if holding:
            route.abort()
        else:
            route.fallback()

    diner.route("**/api/customer/orders", hold)
    moved = httpx.patch(
        f"{server.url}/api/orders/{pisco_order['id']}/status",
        json={"status": "preparing"},
        headers=auth(manager_token),
    )
    assert moved.status_code == 200
    third.get_by_role("button", name="Cancelar pedido").click()
    expect(third.get_by_role("alert")).to_have_text(
        "Ya no se puede cancelar: la cocina ya está preparando tu pedido."
    )
    holding = False
    ready = httpx.patch(
        f"{server.url}/api/orders/{pisco_order['id']}/status",
        json={"status": "ready"},
        headers=auth(manager_token),
    )
    assert ready.status_code == 200
    expect(third.locator(".status-badge")).to_have_text("Listo para servir", timeout=LIVE_MS)
    screenshot_both(diner, "diner-cancel-refused", PHONE)


def test_an_answer_older_than_the_waiter_does_not_say_he_is_still_coming(
    catalog_server: EdgeServer, open_page: Opener, manager_token: str
) -> None:
    """A reloaded page asks which of its calls are open just as a waiter handles one: the answer
    ("open") can arrive after the event that said it was handled."""
    server = catalog_server
    code = server.table_code()
    diner = open_page(server, PHONE)
    seat(diner, server, manager_token, code)
    diner.get_by_role("button", name="Llamar al mozo").click()
    line = diner.locator("[data-key=call_waiter] .service-state")
    expect(line).to_have_text("El mozo está en camino.")

    late = LateAnswer(diner, r"/api/customer/table-requests")
    diner.reload()
    expect(diner.get_by_role("heading", name="La carta")).to_be_visible()
    assert [request["action"] for request in late.held().json()["data"]] == ["call_waiter"]
    # The page asks again once its socket is up, and that answer comes first.
    expect(line).to_have_text("El mozo está en camino.", timeout=LIVE_MS)
    calls = httpx.get(f"{server.url}/api/tables/requests", headers=auth(manager_token))
    call = next(c for c in calls.json()["data"] if c["table_number"] == table_number(code))
    handled = httpx.patch(
        f"{server.url}/api/tables/requests/{call['id']}/done", headers=auth(manager_token)
    )
    assert handled.status_code == 200, handled.text
    expect(line).to_have_text("El mozo ya atendió tu llamado.", timeout=LIVE_MS)
    late.release()
    expect(line).to_have_text("El mozo ya atendió tu llamado.")
