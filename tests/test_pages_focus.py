"""Keyboard users on the staff tablet: live updates and refresh ticks never take the focus away.

A list update changes only what changed, so the button someone is on stays the same element; when
that button goes (its request was approved), focus moves to the same button of the next card."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.conftest import EdgeServer, approve, open_session
from tests.pages_browser import (
    LIVE_MS,
    POLL_MS,
    TABLET,
    Opener,
    board_card,
    focus_unchanged,
    focused_description,
    place_order,
    remember_focus,
    request_card,
    staff_login,
    table_card,
    table_number,
)

# Longer than any timer the staff page runs for its lists (it polled every 5 s).
TICK_MS = 6000
# Longer than the page waits to gather a burst of "this list changed" into one load.
REFRESH_MS = 1000


def keeps_focus(page: Page, what: str) -> None:
    assert focus_unchanged(page), f"after {what}, focus moved to {focused_description(page)}"


def list_requests(page: Page) -> Callable[[], list[str]]:
    """The list API calls the page makes from now on."""
    seen: list[str] = []
    page.on(
        "request",
        lambda request: (
            seen.append(request.url)
            if "/api/tables" in request.url or "/api/orders" in request.url
            else None
        ),
    )
    return lambda: list(seen)


def settle(page: Page) -> None:
    """Let the page finish the list loads it has queued (logging in, the socket connecting):
    run its refresh timer, which the fake clock holds, then wait until no list load has started
    for half a second. Counting calls before that counted these loads as polling (CI, busy)."""
    calls = list_requests(page)
    page.clock.run_for(REFRESH_MS)
    seen = -1
    while len(calls()) != seen:
        seen = len(calls())
        page.wait_for_timeout(500)


def test_live_updates_and_ticks_leave_the_focus_where_it_is(
    menu_server: EdgeServer, open_page: Opener, manager_token: str
) -> None:
    server = menu_server
    first, second, third = (server.table_code() for _ in range(3))
    open_session(server, first, "Ana Ruiz")
    staff = open_page(server, TABLET)
    staff.clock.install()
    staff_login(staff, server)

    approve_first = request_card(staff, table_number(first)).get_by_role("button", name="Aprobar")
    approve_first.focus()
    remember_focus(staff)

    # A tick of the page's timers: with the socket up there is nothing to poll.
    settle(staff)
    calls = list_requests(staff)
    staff.clock.run_for(TICK_MS)
    keeps_focus(staff, "a refresh tick")
    assert calls() == [], f"the page polled while live: {calls()}"

    # A live update: another table asks to join; both lists change.
    opened = open_session(server, second, "Beto Diaz")
    expect(request_card(staff, table_number(second))).to_be_visible(timeout=LIVE_MS)
    expect(table_card(staff, table_number(second))).to_contain_text("Por aprobar")
    keeps_focus(staff, "a new request")

    # A table card keeps the focus through changes elsewhere and through its own.
    card = table_card(staff, table_number(third))
    card.focus()
    remember_focus(staff)
    assert approve(server, manager_token, opened["sessionId"]).status_code == 200
    expect(table_card(staff, table_number(second))).to_contain_text("Ocupada", timeout=LIVE_MS)
    keeps_focus(staff, "another table's approval")
    open_session(server, third, "Carla Soto")
    expect(card).to_contain_text("Por aprobar", timeout=LIVE_MS)
    keeps_focus(staff, "a change of the focused table")

    # Approving from the keyboard: the card goes, focus moves to the next card's same button.
    expect(request_card(staff, table_number(third))).to_be_visible()
    approve_first.focus()
    staff.keyboard.press("Enter")
    expect(request_card(staff, table_number(first))).to_have_count(0, timeout=LIVE_MS)
    expect(
        request_card(staff, table_number(third)).get_by_role("button", name="Aprobar")
    ).to_be_focused()
    reject = request_card(staff, table_number(third)).get_by_role("button", name="Rechazar")
    reject.focus()
    staff.keyboard.press("Enter")
    expect(request_card(staff, table_number(third))).to_have_count(0, timeout=LIVE_MS)
    where = focused_description(staff)
    assert staff.evaluate(
        "() => document.querySelector('.requests-panel').contains(document.activeElement)"
    ), f"after the last request went, focus fell to {where}"


def test_the_orders_board_keeps_the_focus_and_follows_a_moved_order(
    menu_server: EdgeServer, open_page: Opener, manager_token: str
) -> None:
    server = menu_server
    first, second = (server.table_code() for _ in range(2))
    tokens = []
    for code in (first, second):
        opened = open_session(server, code, "Dora Leon")
        assert approve(server, manager_token, opened["sessionId"]).status_code == 200
        tokens.append(opened["token"])
    place_order(server, tokens[0], first)
    kitchen = open_page(server, TABLET)
    staff_login(kitchen, server)
    kitchen.get_by_role("tab", name="Pedidos").click()
    prepare = board_card(kitchen, table_number(first)).get_by_role("button", name="Preparar")
    prepare.focus()
    remember_focus(kitchen)

    place_order(server, tokens[1], second)
    expect(board_card(kitchen, table_number(second))).to_be_visible(timeout=LIVE_MS)
    keeps_focus(kitchen, "a new order")

    # Pressed, the order moves to the next column; focus goes with it, to its next step.
    kitchen.keyboard.press("Enter")
    moved = board_card(kitchen, table_number(first))
    expect(moved).to_contain_text("En cocina", timeout=LIVE_MS)
    expect(moved.get_by_role("button", name="Listo")).to_be_focused()


def test_polling_without_realtime_keeps_the_focus_too(
    menu_server: EdgeServer, open_page: Opener
) -> None:
    server = menu_server
    first, second = (server.table_code() for _ in range(2))
    open_session(server, first, "Eva Mora")
    staff = open_page(server, TABLET, realtime=False)
    staff.clock.install()
    staff_login(staff, server, state="Reconectando…")
    approve_first = request_card(staff, table_number(first)).get_by_role("button", name="Aprobar")
    expect(approve_first).to_be_visible(timeout=POLL_MS)
    approve_first.focus()
    remember_focus(staff)

    open_session(server, second, "Fabio Paz")
    staff.clock.run_for(TICK_MS)
    expect(request_card(staff, table_number(second))).to_be_visible(timeout=POLL_MS)
    expect(table_card(staff, table_number(second))).to_contain_text("Por aprobar")
    keeps_focus(staff, "a polling tick")


def test_deciding_from_a_table_brings_the_focus_back_to_its_card(
    menu_server: EdgeServer, open_page: Opener
) -> None:
    server = menu_server
    code = server.table_code()
    open_session(server, code, "Gina Rios")
    staff = open_page(server, TABLET)
    staff_login(staff, server)
    card = table_card(staff, table_number(code))
    expect(card).to_contain_text("Por aprobar")
    card.focus()
    remember_focus(staff)
    staff.keyboard.press("Enter")
    dialog = staff.get_by_role("dialog")
    dialog.get_by_role("button", name="Aprobar").focus()
    staff.keyboard.press("Enter")
    expect(dialog).to_be_hidden(timeout=LIVE_MS)
    expect(card).to_contain_text("Ocupada", timeout=LIVE_MS)
    keeps_focus(staff, "approving from the table's detail")
