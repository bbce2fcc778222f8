"""Orders from the table: prices only from the device's menu, tax to the cent, idempotent
retries, tables that never see each other, staff status changes, session totals and the end."""

from __future__ import annotations

import concurrent.futures
import json
import uuid
from typing import Any

import httpx
import pytest

from edge.outbox import decode_payload
from tests.conftest import (
    CASHIER_PIN,
    KITCHEN_PIN,
    WAITER_PIN,
    EdgeServer,
    approve,
    auth,
    open_session,
)
from tests.test_menu import db_rows, import_menu

CEVICHE, LOMO, CHICHA, INCA, SUSPIRO = (str(uuid.uuid4()) for _ in range(5))
MENU = {
    "currency": "PEN",
    "taxRate": 1800,
    "categories": [
        {
            "name": "Platos",
            "items": [
                {"id": CEVICHE, "name": "Ceviche clasico", "price": 3500},
                {"id": LOMO, "name": "Lomo saltado", "price": 4200},
            ],
        },
        {
            "name": "Bebidas",
            "items": [
                {"id": CHICHA, "name": "Chicha morada", "price": 1025},
                {"id": INCA, "name": "Inca Kola", "price": 650},
            ],
        },
        {
            "name": "Postres",
            "items": [{"id": SUSPIRO, "name": "Suspiro limeno", "price": 1500, "available": False}],
        },
    ],
}


@pytest.fixture(scope="module")
def edge(server: EdgeServer, tmp_path_factory: pytest.TempPathFactory) -> EdgeServer:
    """The module's device with MENU imported through the real CLI."""
    done = import_menu(server, tmp_path_factory.mktemp("menu"), MENU)
    assert done.returncode == 0, done.stderr
    return server


def seated(edge: EdgeServer, manager_token: str, name: str = "Carlos Rodriguez") -> dict[str, Any]:
    """An approved diner at a fresh table."""
    diner = open_session(edge, edge.table_code(), name)
    assert approve(edge, manager_token, diner["sessionId"]).status_code == 200
    return diner


def order(
    edge: EdgeServer, token: str, items: list[dict[str, Any]], key: str | None = None
) -> httpx.Response:
    headers = auth(token) | ({"Idempotency-Key": key} if key else {})
    return httpx.post(f"{edge.url}/api/customer/orders", json={"items": items}, headers=headers)


def my_orders(edge: EdgeServer, token: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{edge.url}/api/customer/orders", headers=auth(token))
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


def session_row(edge: EdgeServer, token: str, session_id: str) -> dict[str, Any]:
    """The session as the staff tables board shows it (where the bill's totals live)."""
    tables = httpx.get(f"{edge.url}/api/tables", headers=auth(token)).json()["data"]
    return next(t["session"] for t in tables if t["session"] and t["session"]["id"] == session_id)


def set_status(edge: EdgeServer, token: str, order_id: str, status: Any) -> httpx.Response:
    return httpx.patch(
        f"{edge.url}/api/orders/{order_id}/status", json={"status": status}, headers=auth(token)
    )


def test_a_multi_item_order_is_priced_by_the_menu_to_the_cent(
    edge: EdgeServer, manager_token: str
) -> None:
    diner = seated(edge, manager_token)
    placed = order(
        edge,
        diner["token"],
        [
            # Prices sent by a client are ignored: the device's menu sets them.
            {"menuItemId": CEVICHE, "quantity": 2, "price": 1, "unitPrice": 1},
            {"menuItemId": INCA, "quantity": 3, "notes": "  bien helada  ", "subtotal": 1},
            {"menuItemId": CHICHA, "quantity": 1},
        ],
    )
    assert placed.status_code == 201, placed.text
    data = placed.json()["data"]
    assert {"id", "order_number", "status", "items", "subtotal", "tax", "total", "created_at"} <= (
        set(data)
    )
    assert data["status"] == "pending"
    assert isinstance(data["order_number"], int) and data["order_number"] >= 1
    assert data["created_at"].endswith("Z")
    lines = [
        (i["menu_item_id"], i["name"], i["quantity"], i["unit_price"], i["subtotal"], i["notes"])
        for i in data["items"]
    ]
    assert lines == [
        (CEVICHE, "Ceviche clasico", 2, 3500, 7000, None),
        (INCA, "Inca Kola", 3, 650, 1950, "bien helada"),
        (CHICHA, "Chicha morada", 1, 1025, 1025, None),
    ]
    assert all(set(i) >= {"id", "status"} and i["status"] == "pending" for i in data["items"])
    # 9975 * 18% = 1795.5: half up gives 1796 (banker's rounding would give 1796 too, so the
    # single Chicha below pins the half-up rule: 1025 * 18% = 184.5 -> 185, never 184).
    assert (data["subtotal"], data["tax"], data["total"]) == (9975, 1796, 11771)
    second = order(edge, diner["token"], [{"menuItemId": CHICHA, "quantity": 1}])
    assert second.status_code == 201
    assert (second.json()["data"]["tax"], second.json()["data"]["total"]) == (185, 1210)
    assert second.json()["data"]["order_number"] == data["order_number"] + 1

    session = session_row(edge, manager_token, diner["sessionId"])
    assert (session["subtotal"], session["tax"], session["total"]) == (11000, 1981, 12981)
    assert [o["id"] for o in my_orders(edge, diner["token"])] == [
        data["id"],
        second.json()["data"]["id"],
    ]
    one = httpx.get(f"{edge.url}/api/customer/orders/{data['id']}", headers=auth(diner["token"]))
    assert one.status_code == 200
    assert one.json()["data"] == data


def test_a_retried_post_with_the_same_key_returns_the_first_order(
    edge: EdgeServer, manager_token: str
) -> None:
    diner = seated(edge, manager_token)
    key = f"cart-{uuid.uuid4()}"
    items = [{"menuItemId": LOMO, "quantity": 1}]
    first = order(edge, diner["token"], items, key)
    retry = order(edge, diner["token"], items, key)
    assert first.status_code == retry.status_code == 201
    assert retry.json()["data"] == first.json()["data"]
    assert retry.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(my_orders(edge, diner["token"])) == 1
    assert session_row(edge, manager_token, diner["sessionId"])["subtotal"] == 4200

    other = order(edge, diner["token"], items, f"cart-{uuid.uuid4()}")
    assert other.json()["data"]["id"] != first.json()["data"]["id"]
    assert len(my_orders(edge, diner["token"])) == 2
    assert session_row(edge, manager_token, diner["sessionId"])["subtotal"] == 8400


def test_concurrent_retries_with_one_key_place_one_order(
    edge: EdgeServer, manager_token: str
) -> None:
    diner = seated(edge, manager_token)
    key = str(uuid.uuid4())
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(
                lambda _: order(edge, diner["token"], [{"menuItemId": INCA, "quantity": 2}], key),
                range(8),
            )
        )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["data"]["id"] for a in answers}) == 1
    assert len(my_orders(edge, diner["token"])) == 1


def test_only_an_active_session_may_order(edge: EdgeServer, manager_token: str) -> None:
    pending = open_session(edge, edge.table_code())
    refused = order(edge, pending["token"], [{"menuItemId": LOMO, "quantity": 1}])
    assert refused.status_code == 403
    assert refused.json()["error"] == {
        "code": "SESSION_NOT_ACTIVE",
        "message": "Tu sesion aun no ha sido aprobada",
    }
    assert my_orders(edge, pending["token"]) == []

    diner = seated(edge, manager_token)
    ended = httpx.patch(
        f"{edge.url}/api/tables/sessions/{diner['sessionId']}/end", headers=auth(manager_token)
    )
    assert ended.status_code == 200
    for answer in (
        order(edge, diner["token"], [{"menuItemId": LOMO, "quantity": 1}]),
        httpx.get(f"{edge.url}/api/customer/orders", headers=auth(diner["token"])),
    ):
        assert answer.status_code == 403
        assert answer.json()["error"] == {
            "code": "SESSION_ENDED",
            "message": "Tu sesion ha finalizado",
        }
    assert httpx.post(f"{edge.url}/api/customer/orders", json={"items": []}).status_code == 401


BAD_ORDERS: list[tuple[str, Any, str]] = [
    ("no items", {"items": []}, "items"),
    ("items missing", {"notes": "hola"}, "items"),
    ("items not a list", {"items": {"menuItemId": LOMO, "quantity": 1}}, "items"),
    ("quantity 0", {"items": [{"menuItemId": LOMO, "quantity": 0}]}, "items[0].quantity"),
    ("quantity 100", {"items": [{"menuItemId": LOMO, "quantity": 100}]}, "items[0].quantity"),
    ("quantity 1.5", {"items": [{"menuItemId": LOMO, "quantity": 1.5}]}, "items[0].quantity"),
    ("quantity text", {"items": [{"menuItemId": LOMO, "quantity": "2"}]}, "items[0].quantity"),
    ("quantity true", {"items": [{"menuItemId": LOMO, "quantity": True}]}, "items[0].quantity"),
    # The shared decoder names the object that lacks a field; its reason names the field.
    ("quantity missing", {"items": [{"menuItemId": LOMO}]}, "items[0]"),
    ("id missing", {"items": [{"quantity": 1}]}, "items[0]"),
    ("id malformed", {"items": [{"menuItemId": "lomo", "quantity": 1}]}, "items[0].menuItemId"),
    ("id a number", {"items": [{"menuItemId": 7, "quantity": 1}]}, "items[0].menuItemId"),
    (
        "unknown item",
        {
            "items": [
                {"menuItemId": LOMO, "quantity": 1},
                {"menuItemId": str(uuid.uuid4()), "quantity": 1},
            ]
        },
        "items[1].menuItemId",
    ),
    (
        "line notes too long",
        {"items": [{"menuItemId": LOMO, "quantity": 1, "notes": "x" * 501}]},
        "items[0].notes",
    ),
    (
        "order notes too long",
        {"items": [{"menuItemId": LOMO, "quantity": 1}], "notes": "x" * 501},
        "notes",
    ),
    ("too many lines", {"items": [{"menuItemId": LOMO, "quantity": 1}] * 51}, "items"),
]


@pytest.fixture(scope="module")
def bad_order_diner(edge: EdgeServer, manager_token: str) -> dict[str, Any]:
    return seated(edge, manager_token)


@pytest.mark.parametrize(
    ("body", "field"),
    [(body, field) for _, body, field in BAD_ORDERS],
    ids=[name for name, _, _ in BAD_ORDERS],
)
def test_a_bad_order_is_a_clear_400_and_leaves_no_row(
    edge: EdgeServer, manager_token: str, bad_order_diner: dict[str, Any], body: Any, field: str
) -> None:
    answer = httpx.post(
        f"{edge.url}/api/customer/orders", json=body, headers=auth(bad_order_diner["token"])
    )
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert (error["code"], error["message"]) == ("VALIDATION_ERROR", "Datos invalidos")
    assert error["details"]["field"] == field, error
    session_id = bad_order_diner["sessionId"]
    assert db_rows(edge, "SELECT id FROM orders WHERE session_id = ?", (session_id,)) == []
    assert session_row(edge, manager_token, session_id)["total"] == 0


def test_a_body_that_is_not_json_or_a_bad_key_is_refused(
    edge: EdgeServer, bad_order_diner: dict[str, Any]
) -> None:
    headers = auth(bad_order_diner["token"])
    url = f"{edge.url}/api/customer/orders"
    not_json = httpx.post(url, content=b"{items", headers=headers)
    assert not_json.status_code == 400
    assert not_json.json()["error"]["code"] == "BAD_REQUEST"
    body = {"items": [{"menuItemId": LOMO, "quantity": 1}]}
    for key in ("x" * 256, "con espacio"):
        refused = httpx.post(url, json=body, headers=headers | {"Idempotency-Key": key})
        assert refused.status_code == 400
        assert refused.json()["error"]["details"]["field"] == "Idempotency-Key"
    assert my_orders(edge, bad_order_diner["token"]) == []


def test_a_sold_out_item_is_409_and_the_whole_order_is_refused(
    edge: EdgeServer, manager_token: str
) -> None:
    diner = seated(edge, manager_token)
    refused = order(
        edge,
        diner["token"],
        [{"menuItemId": LOMO, "quantity": 1}, {"menuItemId": SUSPIRO, "quantity": 2}],
    )
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "ITEM_UNAVAILABLE"
    assert "Suspiro limeno" in error["message"]
    assert error["details"]["items"] == [{"menuItemId": SUSPIRO, "name": "Suspiro limeno"}]

    kitchen = edge.staff_token(KITCHEN_PIN)
    toggle = f"{edge.url}/api/menu/items/{CEVICHE}"
    assert httpx.patch(toggle, json={"is_available": False}, headers=auth(kitchen)).is_success
    try:
        again = order(edge, diner["token"], [{"menuItemId": CEVICHE, "quantity": 1}])
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "ITEM_UNAVAILABLE"
    finally:
        assert httpx.patch(toggle, json={"is_available": True}, headers=auth(kitchen)).is_success
    assert my_orders(edge, diner["token"]) == []
    assert session_row(edge, manager_token, diner["sessionId"])["total"] == 0
    assert order(edge, diner["token"], [{"menuItemId": CEVICHE, "quantity": 1}]).status_code == 201


def test_a_diner_of_table_a_never_reads_or_changes_table_b(
    edge: EdgeServer, manager_token: str
) -> None:
    a = seated(edge, manager_token, "Ana Mesa A")
    b = seated(edge, manager_token, "Beto Mesa B")
    key = "same-key-on-both-tables"
    a_order = order(edge, a["token"], [{"menuItemId": LOMO, "quantity": 1}], key).json()["data"]
    b_order = order(edge, b["token"], [{"menuItemId": INCA, "quantity": 1}], key).json()["data"]
    assert b_order["id"] != a_order["id"], "another table's key must not return its order"
    assert [o["id"] for o in my_orders(edge, a["token"])] == [a_order["id"]]
    assert [o["id"] for o in my_orders(edge, b["token"])] == [b_order["id"]]

    peek = httpx.get(f"{edge.url}/api/customer/orders/{a_order['id']}", headers=auth(b["token"]))
    assert peek.status_code == 404
    assert peek.json()["error"] == {"code": "NOT_FOUND", "message": "Pedido no encontrado"}
    for method, url, body in (
        ("PATCH", f"/api/orders/{a_order['id']}/status", {"status": "cancelled"}),
        ("GET", f"/api/orders/{a_order['id']}", None),
        ("GET", "/api/orders", None),
        ("PATCH", f"/api/menu/items/{LOMO}", {"is_available": False}),
    ):
        answer = httpx.request(method, f"{edge.url}{url}", json=body, headers=auth(b["token"]))
        assert answer.status_code == 403, (method, url, answer.text)
        assert answer.json()["error"]["code"] == "FORBIDDEN"
    still = httpx.get(f"{edge.url}/api/customer/orders/{a_order['id']}", headers=auth(a["token"]))
    assert still.json()["data"] == a_order
    assert session_row(edge, manager_token, a["sessionId"])["total"] == a_order["total"]
    assert session_row(edge, manager_token, b["sessionId"])["total"] == b_order["total"]


def test_staff_move_an_order_through_its_life(edge: EdgeServer, manager_token: str) -> None:
    diner = seated(edge, manager_token)
    placed = order(edge, diner["token"], [{"menuItemId": CEVICHE, "quantity": 1}]).json()["data"]
    tokens = {
        "kitchen": edge.staff_token(KITCHEN_PIN),
        "cashier": edge.staff_token(CASHIER_PIN),
        "waiter": edge.staff_token(WAITER_PIN),
        "manager": manager_token,
    }
    for role, status in (
        ("kitchen", "confirmed"),
        ("kitchen", "preparing"),
        ("kitchen", "ready"),
        ("waiter", "served"),
        ("cashier", "completed"),
    ):
        answer = set_status(edge, tokens[role], placed["id"], status)
        assert answer.status_code == 200, (role, status, answer.text)
        data = answer.json()["data"]
        assert data["status"] == status
        assert all(item["status"] == status for item in data["items"])
        seen = httpx.get(
            f"{edge.url}/api/customer/orders/{placed['id']}", headers=auth(diner["token"])
        )
        assert seen.json()["data"]["status"] == status
    stuck = set_status(edge, manager_token, placed["id"], "cancelled")
    assert stuck.status_code == 409
    assert stuck.json()["error"]["code"] == "INVALID_TRANSITION"
    assert stuck.json()["error"]["details"] == {
        "from": "completed",
        "to": "cancelled",
        "allowed": [],
    }


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ([], "served"),
        ([], "ready"),
        ([], "completed"),
        ([], "pending"),
        (["confirmed"], "confirmed"),
        (["confirmed"], "ready"),
        (["preparing"], "served"),
        (["preparing", "ready"], "cancelled"),
        (["preparing", "ready"], "preparing"),
        (["cancelled"], "pending"),
    ],
)
def test_a_status_not_reachable_is_409_invalid_transition(
    edge: EdgeServer, manager_token: str, path: list[str], target: str
) -> None:
    diner = seated(edge, manager_token)
    placed = order(edge, diner["token"], [{"menuItemId": INCA, "quantity": 1}]).json()["data"]
    for status in path:
        assert set_status(edge, manager_token, placed["id"], status).status_code == 200
    answer = set_status(edge, manager_token, placed["id"], target)
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"]["code"] == "INVALID_TRANSITION"
    current = path[-1] if path else "pending"
    assert answer.json()["error"]["details"]["from"] == current
    assert my_orders(edge, diner["token"])[0]["status"] == current


def test_status_changes_refuse_bad_values_ids_and_callers(
    edge: EdgeServer, manager_token: str
) -> None:
    diner = seated(edge, manager_token)
    placed = order(edge, diner["token"], [{"menuItemId": INCA, "quantity": 1}]).json()["data"]
    for value in ("done", "PENDING", "", 3, None):
        answer = set_status(edge, manager_token, placed["id"], value)
        assert answer.status_code == 400, (value, answer.text)
        assert answer.json()["error"]["code"] == "VALIDATION_ERROR"
    unknown = set_status(edge, manager_token, str(uuid.uuid4()), "confirmed")
    assert unknown.status_code == 404
    assert unknown.json()["error"] == {"code": "NOT_FOUND", "message": "Pedido no encontrado"}
    malformed = set_status(edge, manager_token, "42", "confirmed")
    assert malformed.status_code == 400
    nobody = httpx.patch(f"{edge.url}/api/orders/{placed['id']}/status", json={"status": "ready"})
    assert nobody.status_code == 401
    assert my_orders(edge, diner["token"])[0]["status"] == "pending"


def test_staff_list_orders_by_status(edge: EdgeServer, manager_token: str) -> None:
    diner = seated(edge, manager_token)
    first = order(edge, diner["token"], [{"menuItemId": INCA, "quantity": 1}]).json()["data"]
    second = order(edge, diner["token"], [{"menuItemId": LOMO, "quantity": 1}]).json()["data"]
    assert set_status(edge, manager_token, second["id"], "preparing").status_code == 200

    def listed(query: str) -> list[str]:
        answer = httpx.get(f"{edge.url}/api/orders{query}", headers=auth(manager_token))
        assert answer.status_code == 200, answer.text
        return [o["id"] for o in answer.json()["data"]]

    assert first["id"] in listed("?status=pending")
    assert second["id"] not in listed("?status=pending")
    assert second["id"] in listed("?status=preparing")
    assert listed(f"?sessionId={diner['sessionId']}") == [first["id"], second["id"]]
    assert listed(f"?status=pending,preparing&sessionId={diner['sessionId']}") == [
        first["id"],
        second["id"],
    ]
    everything = listed("")
    assert everything.index(first["id"]) < everything.index(second["id"])
    assert listed("?limit=1") == [everything[-1]]
    board = httpx.get(f"{edge.url}/api/orders/{second['id']}", headers=auth(manager_token))
    assert board.json()["data"]["status"] == "preparing"
    assert board.json()["data"]["table_id"] == diner["session"]["table_id"]
    for query in ("?status=bogus", "?status=pending,nope", "?limit=0", "?limit=x", "?sessionId=1"):
        answer = httpx.get(f"{edge.url}/api/orders{query}", headers=auth(manager_token))
        assert answer.status_code == 400, query
        assert answer.json()["error"]["code"] == "VALIDATION_ERROR"


def test_cancelling_an_order_takes_it_off_the_bill(edge: EdgeServer, manager_token: str) -> None:
    diner = seated(edge, manager_token)
    kept = order(edge, diner["token"], [{"menuItemId": LOMO, "quantity": 2}]).json()["data"]
    dropped = order(edge, diner["token"], [{"menuItemId": CHICHA, "quantity": 1}]).json()["data"]
    before = session_row(edge, manager_token, diner["sessionId"])
    assert before["total"] == kept["total"] + dropped["total"]
    assert set_status(edge, manager_token, dropped["id"], "cancelled").status_code == 200
    after = session_row(edge, manager_token, diner["sessionId"])
    assert (after["subtotal"], after["tax"], after["total"]) == (
        kept["subtotal"],
        kept["tax"],
        kept["total"],
    )


def test_order_events_are_recorded_for_the_branch_and_the_session(
    edge: EdgeServer, manager_token: str
) -> None:
    diner = seated(edge, manager_token)
    placed = order(edge, diner["token"], [{"menuItemId": LOMO, "quantity": 1}]).json()["data"]
    assert set_status(edge, manager_token, placed["id"], "confirmed").status_code == 200
    events = [
        (name, json.loads(payload))
        for name, payload in db_rows(
            edge,
            "SELECT name, payload FROM events WHERE session_id = ? AND name LIKE 'order:%'"
            " ORDER BY id",
            (diner["sessionId"],),
        )
    ]
    assert [name for name, _ in events] == ["order:new", "order:updated"]
    for (_, payload), status in zip(events, ("pending", "confirmed"), strict=True):
        assert payload["sessionId"] == diner["sessionId"]
        assert payload["tableId"] == placed["table_id"]
        assert payload["tableNumber"] == placed["table_number"]
        assert payload["timestamp"].endswith("Z")
        assert (payload["orderId"], payload["orderNumber"]) == (
            placed["id"],
            placed["order_number"],
        )
        assert payload["status"] == payload["order"]["status"] == status
        assert payload["order"]["items"][0]["name"] == "Lomo saltado"
        assert payload["order"]["total"] == placed["total"]
    assert events[1][1]["previousStatus"] == "pending"


def test_ending_a_table_settles_its_orders(edge: EdgeServer, manager_token: str) -> None:
    waiter = edge.staff_token(WAITER_PIN)
    diner = seated(edge, manager_token)
    served = order(edge, diner["token"], [{"menuItemId": LOMO, "quantity": 1}]).json()["data"]
    for status in ("preparing", "ready", "served"):
        assert set_status(edge, waiter, served["id"], status).status_code == 200
    still_cooking = order(edge, diner["token"], [{"menuItemId": CEVICHE, "quantity": 1}])
    cooking = still_cooking.json()["data"]
    end = f"{edge.url}/api/tables/sessions/{diner['sessionId']}/end"

    refused = httpx.patch(end, headers=auth(waiter))
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "SESSION_HAS_OPEN_ORDERS"
    assert refused.json()["error"]["message"] == "La mesa tiene pedidos en curso"
    assert httpx.patch(f"{end}?force=true", headers=auth(waiter)).status_code == 403
    assert my_orders(edge, diner["token"])[1]["status"] == "pending"

    forced = httpx.patch(f"{end}?force=true", headers=auth(manager_token))
    assert forced.status_code == 200, forced.text
    session = forced.json()["data"]
    assert session["status"] == "completed"
    assert (session["subtotal"], session["tax"], session["total"]) == (
        served["subtotal"],
        served["tax"],
        served["total"],
    )
    listed = httpx.get(
        f"{edge.url}/api/orders?sessionId={diner['sessionId']}", headers=auth(manager_token)
    ).json()["data"]
    assert {o["id"]: o["status"] for o in listed} == {
        served["id"]: "completed",
        cooking["id"]: "cancelled",
    }
    (payload,) = db_rows(edge, "SELECT payload FROM outbox WHERE session_id = ?", (session["id"],))
    record = json.loads(decode_payload(payload[0]))
    assert record["total"] == served["total"]
    assert [(o["id"], o["status"]) for o in record["orders"]] == [
        (served["id"], "completed"),
        (cooking["id"], "cancelled"),
    ]
    assert record["orders"][0]["items"][0]["unit_price"] == 4200
    announced = db_rows(
        edge,
        "SELECT payload FROM events WHERE session_id = ? AND name = 'order:updated'"
        " ORDER BY id DESC LIMIT 2",
        (session["id"],),
    )
    assert sorted(json.loads(p[0])["status"] for p in announced) == ["cancelled", "completed"]


def test_a_table_with_only_served_orders_ends_without_force(
    edge: EdgeServer, manager_token: str
) -> None:
    diner = seated(edge, manager_token)
    placed = order(edge, diner["token"], [{"menuItemId": INCA, "quantity": 2}]).json()["data"]
    for status in ("preparing", "ready", "served"):
        assert set_status(edge, manager_token, placed["id"], status).status_code == 200
    waiter = edge.staff_token(WAITER_PIN)
    ended = httpx.patch(
        f"{edge.url}/api/tables/sessions/{diner['sessionId']}/end", headers=auth(waiter)
    )
    assert ended.status_code == 200, ended.text
    assert ended.json()["data"]["total"] == placed["total"]
    board = httpx.get(f"{edge.url}/api/orders/{placed['id']}", headers=auth(manager_token))
    assert board.json()["data"]["status"] == "completed"
