"""Modifiers on order lines against a real device with a CATALOG imported through the CLI: the
device prices every choice, every bad line is refused naming its line and group, what a line
chose is kept as it was, and the central receives accounts that add up to the cent."""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from edge.orders import tax_for
from sync.central.harness import CentralDev
from tests.conftest import EdgeServer, auth, provision_device
from tests.test_menu import db_rows, diner_menu, import_menu
from tests.test_orders import order, seated


def new_id() -> str:
    return str(uuid.uuid4())


FONDOS, BEBIDAS, CERRADA = new_id(), new_id(), new_id()
LOMO, PISCO, CAUSA, CEVICHE, ANTICUCHO, ESCONDIDO = (new_id() for _ in range(6))
TERMINO, EXTRAS, AZUCAR, SALSAS = new_id(), new_id(), new_id(), new_id()
JUGOSO, A_PUNTO, BIEN_COCIDO = new_id(), new_id(), new_id()
HUEVO, PLATANO, TOCINO, QUESO = new_id(), new_id(), new_id(), new_id()
CON_AZUCAR, SIN_AZUCAR = new_id(), new_id()
HUANCAINA, OCOPA, ROCOTO = new_id(), new_id(), new_id()


def _item(item_id: str, category: str, name: str, price: int, groups: list[str]) -> dict:
    return {
        "id": item_id,
        "category_id": category,
        "name": name,
        "description": None,
        "price": price,
        "image_url": None,
        "is_available": True,
        "sort_order": 0,
        "allergens": [],
        "dietary_tags": [],
        "spice_level": None,
        "preparation_time_min": None,
        "modifier_groups": groups,
    }


def _modifier(modifier_id: str, name: str, price: int, order: int, available: bool = True) -> dict:
    return {
        "id": modifier_id,
        "name": name,
        "price": price,
        "is_available": available,
        "sort_order": order,
    }


CATALOG: dict[str, Any] = {
    "version": "modifiers-1",
    "branch": {"name": "Downtown Lima", "currency": "PEN", "tax_rate": 1800},
    "categories": [
        {"id": FONDOS, "name": "Fondos", "sort_order": 0, "is_active": True},
        {"id": BEBIDAS, "name": "Bebidas", "sort_order": 1, "is_active": True},
        {"id": CERRADA, "name": "Fuera de carta", "sort_order": 2, "is_active": False},
    ],
    "items": [
        _item(LOMO, FONDOS, "Lomo saltado", 4200, [TERMINO, EXTRAS]),
        _item(CAUSA, FONDOS, "Causa limeña", 2200, [EXTRAS]),
        _item(ANTICUCHO, FONDOS, "Anticuchos", 2600, [SALSAS]),
        _item(CEVICHE, FONDOS, "Ceviche clásico", 3800, []),
        _item(PISCO, BEBIDAS, "Pisco sour", 2800, [AZUCAR]),
        _item(ESCONDIDO, CERRADA, "Plato secreto", 1000, []),
    ],
    "modifier_groups": [
        {
            "id": TERMINO,
            "name": "Término",
            "min_selections": 1,
            "max_selections": 1,
            "modifiers": [
                _modifier(JUGOSO, "Jugoso", 0, 0),
                _modifier(A_PUNTO, "A punto", 0, 1),
                _modifier(BIEN_COCIDO, "Bien cocido", 0, 2),
            ],
        },
        {
            "id": EXTRAS,
            "name": "Extras",
            "min_selections": 0,
            "max_selections": 2,
            "modifiers": [
                _modifier(HUEVO, "Huevo frito", 350, 0),
                _modifier(PLATANO, "Plátano frito", 275, 1),
                _modifier(TOCINO, "Tocino", 400, 2),
                _modifier(QUESO, "Queso fundido", 250, 3, available=False),
            ],
        },
        {
            "id": AZUCAR,
            "name": "Azúcar",
            "min_selections": 1,
            "max_selections": 1,
            "modifiers": [
                _modifier(CON_AZUCAR, "Con azúcar", 0, 0),
                _modifier(SIN_AZUCAR, "Sin azúcar", 0, 1),
            ],
        },
        {
            "id": SALSAS,
            "name": "Salsas",
            "min_selections": 2,
            "max_selections": 3,
            "modifiers": [
                _modifier(HUANCAINA, "Huancaína", 0, 0),
                _modifier(OCOPA, "Ocopa", 150, 1),
                _modifier(ROCOTO, "Rocoto", 100, 2),
            ],
        },
    ],
}


@pytest.fixture(scope="module")
def edge(server: EdgeServer, tmp_path_factory: pytest.TempPathFactory) -> EdgeServer:
    done = import_menu(server, tmp_path_factory.mktemp("catalog"), CATALOG)
    assert done.returncode == 0, done.stderr
    return server


def line(item: str, *chosen: str, quantity: int = 1, **extra: Any) -> dict[str, Any]:
    return {"menuItemId": item, "quantity": quantity, "modifiers": list(chosen), **extra}


def chosen(order_line: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(m["id"], m["name"], m["price"]) for m in order_line["modifiers"]]


def order_count(edge: EdgeServer) -> int:
    return int(db_rows(edge, "SELECT COUNT(*) FROM orders")[0][0])


def test_the_menu_shows_each_dishs_groups_in_order(edge: EdgeServer) -> None:
    items = {item["id"]: item for item in diner_menu(edge, edge.table_code())["items"]}
    lomo = items[LOMO]
    assert [
        (g["name"], g["min_selections"], g["max_selections"]) for g in lomo["modifier_groups"]
    ] == [
        ("Término", 1, 1),
        ("Extras", 0, 2),
    ]
    extras = lomo["modifier_groups"][1]["modifiers"]
    assert [(m["name"], m["price"], m["is_available"]) for m in extras][-1] == (
        "Queso fundido",
        250,
        False,
    )
    assert ESCONDIDO not in items


def test_each_line_is_priced_with_its_modifiers_to_the_cent(
    edge: EdgeServer, manager_token: str
) -> None:
    diner = seated(edge, manager_token)
    placed = order(
        edge,
        diner["token"],
        [
            # Extras sent before the término, and prices a client made up: the device orders the
            # choices as the dish asks them and prices them itself.
            line(LOMO, PLATANO, HUEVO, A_PUNTO, quantity=2, unit_price=1, price=1),
            line(PISCO, SIN_AZUCAR, quantity=3),
            line(ANTICUCHO, OCOPA, HUANCAINA, ROCOTO),
            line(CEVICHE),
            line(CAUSA),
        ],
    )
    assert placed.status_code == 201, placed.text
    data = placed.json()["data"]
    lomo, pisco, anticucho, ceviche, causa = data["items"]
    assert chosen(lomo) == [
        (A_PUNTO, "A punto", 0),
        (HUEVO, "Huevo frito", 350),
        (PLATANO, "Plátano frito", 275),
    ]
    assert [m["group_name"] for m in lomo["modifiers"]] == ["Término", "Extras", "Extras"]
    assert (lomo["unit_price"], lomo["quantity"], lomo["subtotal"]) == (4825, 2, 9650)
    assert chosen(pisco) == [(SIN_AZUCAR, "Sin azúcar", 0)]
    assert (pisco["unit_price"], pisco["subtotal"]) == (2800, 8400)
    assert [name for _, name, _ in chosen(anticucho)] == ["Huancaína", "Ocopa", "Rocoto"]
    assert anticucho["unit_price"] == 2600 + 150 + 100
    assert ceviche["modifiers"] == [] and causa["modifiers"] == []
    subtotal = 9650 + 8400 + 2850 + 3800 + 2200
    assert data["subtotal"] == subtotal == 26900
    # 26900 * 18% = 4842 exactly; the single lomo below pins half up: 4825 * 18% = 868.5.
    assert (data["tax"], data["total"]) == (tax_for(subtotal, 1800), 26900 + 4842)
    one = order(edge, diner["token"], [line(LOMO, JUGOSO, HUEVO, PLATANO)]).json()["data"]
    assert (one["subtotal"], one["tax"], one["total"]) == (4825, 869, 5694)

    # The same lines wherever the order is shown: the diner's view, the staff board, the event.
    mine = httpx.get(f"{edge.url}/api/customer/orders/{data['id']}", headers=auth(diner["token"]))
    assert mine.json()["data"]["items"] == data["items"]
    board = httpx.get(
        f"{edge.url}/api/orders?sessionId={diner['sessionId']}", headers=auth(manager_token)
    ).json()["data"]
    assert board[0]["items"] == data["items"]
    (payload,) = db_rows(
        edge,
        "SELECT payload FROM events WHERE name = 'order:new' AND json_extract(payload,"
        " '$.orderId') = ?",
        (data["id"],),
    )
    assert json.loads(payload[0])["order"]["items"] == data["items"]
    bill = httpx.get(f"{edge.url}/api/customer/bill", headers=auth(diner["token"])).json()["data"]
    assert bill["orders"][0]["items"][0]["modifiers"] == lomo["modifiers"]


# (name, lines, line index, group id or None, reason part)
BAD_LINES: list[tuple[str, list[dict[str, Any]], int, str | None, str]] = [
    ("unknown modifier", [line(CEVICHE), line(LOMO, A_PUNTO, new_id())], 1, None, "unknown"),
    ("another item's modifier", [line(LOMO, A_PUNTO, SIN_AZUCAR)], 0, AZUCAR, "not a modifier"),
    ("group-less item given one", [line(CEVICHE, HUEVO)], 0, EXTRAS, "not a modifier"),
    ("a repeat", [line(PISCO, CON_AZUCAR), line(LOMO, A_PUNTO, HUEVO, HUEVO)], 1, EXTRAS, "more"),
    ("required group missing", [line(LOMO, HUEVO)], 0, TERMINO, "required"),
    ("required drink choice missing", [line(CEVICHE), line(PISCO)], 1, AZUCAR, "required"),
    ("two of a one-choice group", [line(LOMO, A_PUNTO, JUGOSO)], 0, TERMINO, "at most 1"),
    ("three extras of two", [line(LOMO, A_PUNTO, HUEVO, PLATANO, TOCINO)], 0, EXTRAS, "at most 2"),
    ("one sauce of two at least", [line(ANTICUCHO, OCOPA)], 0, SALSAS, "at least 2"),
]
GROUP_NAMES = {group["id"]: group["name"] for group in CATALOG["modifier_groups"]}


@pytest.mark.parametrize(
    ("lines", "index", "group", "reason"),
    [case[1:] for case in BAD_LINES],
    ids=[case[0] for case in BAD_LINES],
)
def test_a_bad_choice_is_a_400_naming_the_line_and_the_group(
    edge: EdgeServer,
    manager_token: str,
    lines: list[dict[str, Any]],
    index: int,
    group: str | None,
    reason: str,
) -> None:
    diner = seated(edge, manager_token)
    before = order_count(edge)
    answer = order(edge, diner["token"], lines)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert (error["code"], error["message"]) == ("VALIDATION_ERROR", "Datos invalidos")
    details = error["details"]
    assert details["line"] == index
    assert details["field"].startswith(f"items[{index}].modifiers")
    assert reason in details["reason"]
    if group is None:
        assert details["group"] is None
    else:
        assert details["group"] == {"id": group, "name": GROUP_NAMES[group]}
    assert order_count(edge) == before


@pytest.mark.parametrize(
    ("modifiers", "field"),
    [
        (["a punto"], "items[0].modifiers[0]"),
        ([7], "items[0].modifiers[0]"),
        ("A punto", "items[0].modifiers"),
        ([A_PUNTO] * 31, "items[0].modifiers"),
    ],
    ids=["not a uuid", "a number", "not a list", "too many"],
)
def test_malformed_modifier_lists_are_400(
    edge: EdgeServer, manager_token: str, modifiers: Any, field: str
) -> None:
    diner = seated(edge, manager_token)
    answer = order(
        edge, diner["token"], [{"menuItemId": LOMO, "quantity": 1, "modifiers": modifiers}]
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "VALIDATION_ERROR"
    assert answer.json()["error"]["details"]["field"] == field


def test_an_unavailable_modifier_is_409_and_nothing_is_placed(
    edge: EdgeServer, manager_token: str
) -> None:
    diner = seated(edge, manager_token)
    before = order_count(edge)
    answer = order(edge, diner["token"], [line(CEVICHE), line(LOMO, A_PUNTO, QUESO)])
    assert answer.status_code == 409, answer.text
    error = answer.json()["error"]
    assert error["code"] == "ITEM_UNAVAILABLE"
    assert "Queso fundido" in error["message"]
    assert error["details"]["modifiers"] == [
        {"modifierId": QUESO, "name": "Queso fundido", "group": {"id": EXTRAS, "name": "Extras"}}
    ]
    assert order_count(edge) == before


def test_an_item_of_a_hidden_category_cannot_be_ordered(
    edge: EdgeServer, manager_token: str
) -> None:
    diner = seated(edge, manager_token)
    answer = order(edge, diner["token"], [line(ESCONDIDO)])
    assert answer.status_code == 400
    assert answer.json()["error"]["details"]["field"] == "items[0].menuItemId"


def test_a_retry_with_the_same_key_keeps_one_order_and_its_choices(
    edge: EdgeServer, manager_token: str
) -> None:
    diner = seated(edge, manager_token)
    key = new_id()
    lines = [line(LOMO, BIEN_COCIDO, TOCINO)]
    first = order(edge, diner["token"], lines, key)
    second = order(edge, diner["token"], lines, key)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json()["data"] == first.json()["data"]
    (item,) = first.json()["data"]["items"]
    assert db_rows(
        edge, "SELECT COUNT(*) FROM order_item_modifiers WHERE order_item_id = ?", (item["id"],)
    ) == [(2,)]


def test_a_new_catalog_never_rewrites_what_an_order_chose(
    server: EdgeServer, tmp_path_factory: pytest.TempPathFactory, manager_token: str
) -> None:
    # Own catalog ids, so the module's shared catalog is left as the other tests expect it.
    catalog = json.loads(
        json.dumps(CATALOG).replace(LOMO, (lomo := new_id())).replace(HUEVO, (huevo := new_id()))
    )
    folder = tmp_path_factory.mktemp("catalog-change")
    assert import_menu(server, folder, catalog).returncode == 0
    diner = seated(server, manager_token)
    placed = order(server, diner["token"], [line(lomo, A_PUNTO, huevo)]).json()["data"]

    changed = copy.deepcopy(catalog)
    changed["version"] = "modifiers-2"
    extras = next(g for g in changed["modifier_groups"] if g["id"] == EXTRAS)
    extras["modifiers"] = [m for m in extras["modifiers"] if m["id"] != huevo]
    termino = next(g for g in changed["modifier_groups"] if g["id"] == TERMINO)
    termino["modifiers"][1].update(name="Término medio", price=90)
    assert import_menu(server, folder, changed).returncode == 0

    again = httpx.get(
        f"{server.url}/api/customer/orders/{placed['id']}", headers=auth(diner["token"])
    ).json()["data"]
    assert again["items"] == placed["items"]
    assert chosen(again["items"][0]) == [(A_PUNTO, "A punto", 0), (huevo, "Huevo frito", 350)]
    assert (again["items"][0]["unit_price"], again["total"]) == (4550, placed["total"])
    # The next order prices the new catalog.
    repriced = order(server, diner["token"], [line(lomo, A_PUNTO)]).json()["data"]
    assert repriced["items"][0]["unit_price"] == 4290
    gone = order(server, diner["token"], [line(lomo, A_PUNTO, huevo)])
    assert (
        gone.status_code == 400 and gone.json()["error"]["details"]["reason"] == "unknown modifier"
    )
    assert import_menu(server, folder, CATALOG).returncode == 0


TOKEN = "modifiers-central-token-9d2c"


@pytest.fixture
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EdgeServer, CentralDev]]:
    central = CentralDev(tmp_path_factory.mktemp("central"), TOKEN).start()
    data_dir = tmp_path_factory.mktemp("device") / "data"
    provision_device(data_dir, 10, central_url=central.url, device_token=TOKEN)
    device = EdgeServer(data_dir, {"RESTAI_EDGE_SYNC_INTERVAL": "1"}).start()
    yield device, central
    device.stop()
    central.stop()
    device.assert_clean_log()


def test_the_central_receives_accounts_that_match_the_device_to_the_cent(
    synced: tuple[EdgeServer, CentralDev], tmp_path_factory: pytest.TempPathFactory
) -> None:
    device, central = synced
    assert import_menu(device, tmp_path_factory.mktemp("catalog"), CATALOG).returncode == 0
    manager = device.staff_token()
    sessions = {}
    tables = [
        [[line(LOMO, A_PUNTO, HUEVO, PLATANO, quantity=3), line(PISCO, CON_AZUCAR, quantity=2)]],
        [[line(ANTICUCHO, HUANCAINA, OCOPA, ROCOTO)], [line(LOMO, JUGOSO, TOCINO, quantity=7)]],
        [[line(CAUSA, PLATANO)], [line(PISCO, SIN_AZUCAR)]],
    ]
    for orders in tables:
        diner = seated(device, manager)
        placed = [order(device, diner["token"], lines).json()["data"] for lines in orders]
        if len(placed) > 1:
            # A cancelled order stays in the record but leaves the accounts.
            cancel = f"{device.url}/api/customer/orders/{placed[-1]['id']}/cancel"
            assert httpx.post(cancel, headers=auth(diner["token"])).status_code == 200
        for one in placed[:1]:
            for status in ("preparing", "ready", "served"):
                answer = httpx.patch(
                    f"{device.url}/api/orders/{one['id']}/status",
                    json={"status": status},
                    headers=auth(manager),
                )
                assert answer.status_code == 200
        ended = httpx.patch(
            f"{device.url}/api/tables/sessions/{diner['sessionId']}/end", headers=auth(manager)
        )
        assert ended.status_code == 200, ended.text
        sessions[diner["sessionId"]] = ended.json()["data"]

    deadline = time.monotonic() + 15
    received: dict[str, Any] = {}
    while set(received) != set(sessions):
        assert time.monotonic() < deadline, "the sessions never reached the central"
        received = {s["id"]: s for s in central.sessions() if s["id"] in sessions}
        time.sleep(0.1)

    base = {item["id"]: item["price"] for item in CATALOG["items"]}
    for session_id, device_view in sessions.items():
        record = received[session_id]["payload"]
        counted = [o for o in record["orders"] if o["status"] != "cancelled"]
        for placed in record["orders"]:
            for item in placed["items"]:
                # The central can rebuild every line from what it received.
                extras = sum(m["price"] for m in item["modifiers"])
                assert item["unit_price"] == base[item["menu_item_id"]] + extras
                assert item["subtotal"] == item["unit_price"] * item["quantity"]
                assert all(set(m) >= {"id", "name", "price"} for m in item["modifiers"])
            assert placed["subtotal"] == sum(item["subtotal"] for item in placed["items"])
            assert placed["tax"] == tax_for(placed["subtotal"], 1800)
            assert placed["total"] == placed["subtotal"] + placed["tax"]
        assert (record["subtotal"], record["tax"], record["total"]) == (
            sum(o["subtotal"] for o in counted),
            sum(o["tax"] for o in counted),
            sum(o["total"] for o in counted),
        )
        assert (record["subtotal"], record["tax"], record["total"]) == (
            device_view["subtotal"],
            device_view["tax"],
            device_view["total"],
        )
    # The first table by hand: 3 x (4200 + 350 + 275) + 2 x 2800 = 20075; 18% = 3613.5 -> 3614.
    first = received[next(iter(sessions))]["payload"]
    assert (first["subtotal"], first["tax"], first["total"]) == (20075, 3614, 23689)


def test_a_placed_order_answers_exactly_what_is_then_read_back(
    edge: EdgeServer, manager_token: str
) -> None:
    """The answer to a POST is built from the values written, not read back: it must be the
    order every later read shows, line for line and modifier for modifier."""
    diner = seated(edge, manager_token)
    body = {
        "items": [
            line(LOMO, TOCINO, A_PUNTO, HUEVO, quantity=2, notes="sin cebolla"),
            line(CEVICHE),
            line(ANTICUCHO, ROCOTO, HUANCAINA, quantity=3),
            line(PISCO, SIN_AZUCAR, notes="con hielo"),
        ],
        "notes": "cumpleaños en la mesa",
    }
    answer = httpx.post(f"{edge.url}/api/customer/orders", json=body, headers=auth(diner["token"]))
    assert answer.status_code == 201, answer.text
    placed = answer.json()["data"]

    as_diner = httpx.get(
        f"{edge.url}/api/customer/orders/{placed['id']}", headers=auth(diner["token"])
    ).json()["data"]
    as_staff = httpx.get(
        f"{edge.url}/api/orders/{placed['id']}", headers=auth(manager_token)
    ).json()["data"]
    assert placed == as_diner
    assert {key: as_staff[key] for key in placed} == placed
    assert chosen(placed["items"][0]) == [
        (A_PUNTO, "A punto", 0),
        (HUEVO, "Huevo frito", 350),
        (TOCINO, "Tocino", 400),
    ]
    assert [item["notes"] for item in placed["items"]] == ["sin cebolla", None, None, "con hielo"]
    assert placed["notes"] == "cumpleaños en la mesa"
