"""A diner takes back an order the kitchen has not taken; once it has, the diner is told why not."""

from __future__ import annotations

import concurrent.futures
import json
import uuid

import httpx
import pytest

from tests.conftest import EdgeServer, auth
from tests.test_menu import db_rows, import_menu
from tests.test_orders import CHICHA, LOMO, MENU, order, seated, session_row, set_status

NOT_CANCELLABLE = {
    "code": "ORDER_NOT_CANCELLABLE",
    "message": "El pedido ya esta en preparacion",
}


@pytest.fixture(scope="module")
def edge(server: EdgeServer, tmp_path_factory: pytest.TempPathFactory) -> EdgeServer:
    done = import_menu(server, tmp_path_factory.mktemp("menu"), MENU)
    assert done.returncode == 0, done.stderr
    return server


def cancel(edge: EdgeServer, token: str, order_id: str) -> httpx.Response:
    return httpx.post(f"{edge.url}/api/customer/orders/{order_id}/cancel", headers=auth(token))


def updates(edge: EdgeServer, order_id: str) -> list[dict]:
    rows = db_rows(
        edge, "SELECT payload FROM events WHERE name = 'order:updated' ORDER BY id DESC LIMIT 200"
    )
    return [p for (raw,) in reversed(rows) if (p := json.loads(raw))["orderId"] == order_id]


def test_a_pending_order_is_cancelled_and_leaves_the_bill(
    edge: EdgeServer, manager_token: str
) -> None:
    diner = seated(edge, manager_token)
    kept = order(edge, diner["token"], [{"menuItemId": LOMO, "quantity": 1}]).json()["data"]
    dropped = order(edge, diner["token"], [{"menuItemId": CHICHA, "quantity": 2}]).json()["data"]

    answer = cancel(edge, diner["token"], dropped["id"])
    assert answer.status_code == 200, answer.text
    cancelled = answer.json()["data"]
    assert cancelled["id"] == dropped["id"]
    assert cancelled["status"] == "cancelled"
    assert all(line["status"] == "cancelled" for line in cancelled["items"])
    assert cancelled["total"] == dropped["total"]
    session = session_row(edge, manager_token, diner["sessionId"])
    assert (session["subtotal"], session["tax"], session["total"]) == (
        kept["subtotal"],
        kept["tax"],
        kept["total"],
    )
    (event,) = updates(edge, dropped["id"])
    assert event["status"] == event["order"]["status"] == "cancelled"
    assert (event["previousStatus"], event["cancelledBy"]) == ("pending", "diner")
    assert event["sessionId"] == diner["sessionId"]

    # A second tap on the same button answers the cancelled order and announces nothing new.
    again = cancel(edge, diner["token"], dropped["id"])
    assert again.status_code == 200
    assert again.json()["data"]["status"] == "cancelled"
    assert len(updates(edge, dropped["id"])) == 1


@pytest.mark.parametrize("path", [["confirmed"], ["preparing"], ["preparing", "ready", "served"]])
def test_once_the_kitchen_has_it_the_diner_is_told_why_not(
    edge: EdgeServer, manager_token: str, path: list[str]
) -> None:
    diner = seated(edge, manager_token)
    placed = order(edge, diner["token"], [{"menuItemId": LOMO, "quantity": 1}]).json()["data"]
    for status in path:
        assert set_status(edge, manager_token, placed["id"], status).status_code == 200
    refused = cancel(edge, diner["token"], placed["id"])
    assert refused.status_code == 409
    assert {k: refused.json()["error"][k] for k in ("code", "message")} == NOT_CANCELLABLE
    assert refused.json()["error"]["details"] == {"status": path[-1]}
    mine = httpx.get(f"{edge.url}/api/customer/orders/{placed['id']}", headers=auth(diner["token"]))
    assert mine.json()["data"]["status"] == path[-1]
    assert session_row(edge, manager_token, diner["sessionId"])["total"] == placed["total"]


def test_a_diner_cancels_only_their_own_tables_orders(edge: EdgeServer, manager_token: str) -> None:
    diner = seated(edge, manager_token)
    other = seated(edge, manager_token)
    theirs = order(edge, other["token"], [{"menuItemId": LOMO, "quantity": 1}]).json()["data"]
    for order_id in (theirs["id"], str(uuid.uuid4())):
        answer = cancel(edge, diner["token"], order_id)
        assert answer.status_code == 404
        assert answer.json()["error"] == {"code": "NOT_FOUND", "message": "Pedido no encontrado"}
    assert cancel(edge, diner["token"], "pedido-1").status_code == 400
    assert cancel(edge, manager_token, theirs["id"]).status_code == 403
    assert httpx.post(f"{edge.url}/api/customer/orders/{theirs['id']}/cancel").status_code == 401
    assert updates(edge, theirs["id"]) == []


def test_the_kitchen_and_the_diner_racing_leave_one_outcome(
    edge: EdgeServer, manager_token: str
) -> None:
    diner = seated(edge, manager_token)
    for _ in range(5):
        placed = order(edge, diner["token"], [{"menuItemId": CHICHA, "quantity": 1}]).json()
        order_id = placed["data"]["id"]
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            confirming = pool.submit(set_status, edge, manager_token, order_id, "confirmed")
            cancelling = pool.submit(cancel, edge, diner["token"], order_id)
            confirmed, cancelled = confirming.result(), cancelling.result()
        final = httpx.get(
            f"{edge.url}/api/customer/orders/{order_id}", headers=auth(diner["token"])
        ).json()["data"]["status"]
        if final == "cancelled":
            assert (cancelled.status_code, confirmed.status_code) == (200, 409)
        else:
            assert final == "confirmed"
            assert (cancelled.status_code, confirmed.status_code) == (409, 200)
        assert len(updates(edge, order_id)) == 1
