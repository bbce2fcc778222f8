"""The menu: `restai-edge menu import` into a serving device, the diner's menu, sold-out toggles,
re-imports that keep ids and never lose an item an order names, and the demo's Peruvian menu."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from provisioning.demo import prepare_demo
from tests.conftest import (
    CASHIER_PIN,
    KITCHEN_PIN,
    SLUG,
    WAITER_PIN,
    EdgeServer,
    approve,
    auth,
    open_session,
)

CEVICHE, LOMO, CHICHA = (str(uuid.uuid4()) for _ in range(3))
BASE_MENU: dict[str, Any] = {
    "currency": "PEN",
    "taxRate": 1800,
    "categories": [
        {
            "name": "Entradas",
            "items": [
                {"id": CEVICHE, "name": "Ceviche clasico", "description": "Pesca", "price": 3500}
            ],
        },
        {
            "name": "Fondos",
            "items": [{"id": LOMO, "name": "Lomo saltado", "price": 4200}],
        },
        {
            "name": "Bebidas",
            "items": [
                {"id": CHICHA, "name": "Chicha morada", "price": 900, "available": False},
            ],
        },
    ],
}


def import_menu(
    server: EdgeServer, folder: Path, document: Any
) -> subprocess.CompletedProcess[str]:
    """Run the real `restai-edge menu import` against the device's data dir (while it serves)."""
    path = folder / f"menu-{uuid.uuid4().hex}.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "provisioning",
            "--data-dir",
            str(server.data_dir),
            "menu",
            "import",
            str(path),
        ],
        capture_output=True,
        text=True,
    )


def diner_menu(server: EdgeServer, table_code: str = f"{SLUG}-1") -> dict[str, Any]:
    answer = httpx.get(server.customer_url(table_code, "menu"))
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["data"])


def db_rows(server: EdgeServer, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{server.data_dir / 'edge.db'}?mode=ro", uri=True) as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def loaded(server: EdgeServer, tmp_path_factory: pytest.TempPathFactory) -> EdgeServer:
    done = import_menu(server, tmp_path_factory.mktemp("menu"), BASE_MENU)
    assert done.returncode == 0, done.stderr
    return server


def test_import_makes_the_diner_menu_with_the_contract_shape(
    server: EdgeServer, tmp_path: Path
) -> None:
    done = import_menu(server, tmp_path, {**BASE_MENU, "currency": "USD", "taxRate": 1000})
    assert done.returncode == 0, done.stderr
    assert "3 categories, 3 items" in done.stdout
    code = server.table_code()
    data = diner_menu(server, code)
    assert set(data) == {"branch", "table", "categories", "items"}
    assert data["branch"]["slug"] == SLUG
    assert data["branch"]["name"] == "Downtown Lima"
    assert (data["branch"]["currency"], data["branch"]["tax_rate"]) == ("USD", 1000)
    assert set(data["branch"]) == {"id", "name", "slug", "currency", "tax_rate"}
    assert data["table"]["number"] == int(code.rsplit("-", 1)[1])
    assert set(data["table"]) == {"id", "number"}
    assert [c["name"] for c in data["categories"]] == ["Entradas", "Fondos", "Bebidas"]
    assert [c["sort_order"] for c in data["categories"]] == [0, 1, 2]
    category = {c["name"]: c["id"] for c in data["categories"]}
    # A file carries none of the catalog's extra facts: they are there, empty.
    extras = {
        "image_url": None,
        "allergens": [],
        "dietary_tags": [],
        "spice_level": None,
        "preparation_time_min": None,
        "modifier_groups": [],
    }
    assert data["items"] == [
        {
            "id": CEVICHE,
            "category_id": category["Entradas"],
            "name": "Ceviche clasico",
            "description": "Pesca",
            "price": 3500,
            "is_available": True,
            "sort_order": 0,
            **extras,
        },
        {
            "id": LOMO,
            "category_id": category["Fondos"],
            "name": "Lomo saltado",
            "description": None,
            "price": 4200,
            "is_available": True,
            "sort_order": 0,
            **extras,
        },
        {
            "id": CHICHA,
            "category_id": category["Bebidas"],
            "name": "Chicha morada",
            "description": None,
            "price": 900,
            "is_available": False,
            "sort_order": 0,
            **extras,
        },
    ]
    back = import_menu(server, tmp_path, BASE_MENU)
    assert back.returncode == 0, back.stderr
    assert "(0 added, 3 updated)" in back.stdout
    assert diner_menu(server, code)["branch"]["currency"] == "PEN"


def test_menu_of_unknown_branch_or_table_is_404(loaded: EdgeServer) -> None:
    for url, message in (
        (f"{loaded.url}/api/customer/nowhere/nowhere-1/menu", "Sucursal no encontrada"),
        (loaded.customer_url(f"{SLUG}-9999", "menu"), "Mesa no encontrada"),
    ):
        answer = httpx.get(url)
        assert answer.status_code == 404
        assert answer.json()["error"] == {"code": "NOT_FOUND", "message": message}


BAD_FILES: list[tuple[str, Any, str]] = [
    ("not json", "{nope", "not valid JSON"),
    ("a list", [], "menu: Expected `object`"),
    ("no currency", {"taxRate": 1800, "categories": BASE_MENU["categories"]}, "currency"),
    ("bad currency", {**BASE_MENU, "currency": "soles"}, "currency: must be an ISO 4217"),
    ("tax above 100%", {**BASE_MENU, "taxRate": 10001}, "taxRate: Expected `int` <= 10000"),
    ("tax as float", {**BASE_MENU, "taxRate": 18.0}, "taxRate: Expected `int`"),
    ("no categories", {**BASE_MENU, "categories": []}, "categories: Expected `array` of length"),
    (
        "empty category",
        {**BASE_MENU, "categories": [{"name": "Vacia", "items": []}]},
        "categories[0].items: Expected `array` of length >= 1",
    ),
    (
        "price in soles",
        {**BASE_MENU, "categories": [{"name": "X", "items": [{"name": "A", "price": 35.5}]}]},
        "categories[0].items[0].price: Expected `int`, got `float` (prices are integer cents",
    ),
    (
        "price as text",
        {**BASE_MENU, "categories": [{"name": "X", "items": [{"name": "A", "price": "3500"}]}]},
        "categories[0].items[0].price: Expected `int`, got `str`",
    ),
    (
        "negative price",
        {**BASE_MENU, "categories": [{"name": "X", "items": [{"name": "A", "price": -1}]}]},
        "categories[0].items[0].price: Expected `int` >= 0",
    ),
    (
        "blank name",
        {**BASE_MENU, "categories": [{"name": "X", "items": [{"name": "  ", "price": 1}]}]},
        "categories[0].items[0].name: must not be blank",
    ),
    (
        "malformed id",
        {
            **BASE_MENU,
            "categories": [{"name": "X", "items": [{"id": "17", "name": "A", "price": 1}]}],
        },
        "categories[0].items[0].id: must be a UUID",
    ),
    (
        "same id twice",
        {
            **BASE_MENU,
            "categories": [
                {"name": "X", "items": [{"id": CEVICHE, "name": "A", "price": 1}]},
                {"name": "Y", "items": [{"id": CEVICHE, "name": "B", "price": 1}]},
            ],
        },
        "categories[1].items[0].id: " + CEVICHE + " is used by two items",
    ),
    (
        "same category twice",
        {
            **BASE_MENU,
            "categories": [
                {"name": "X", "items": [{"name": "A", "price": 1}]},
                {"name": "X", "items": [{"name": "B", "price": 1}]},
            ],
        },
        "categories[1].name: category 'X' appears twice",
    ),
    (
        "same dish twice in a category",
        {
            **BASE_MENU,
            "categories": [
                {"name": "X", "items": [{"name": "A", "price": 1}, {"name": "A", "price": 2}]}
            ],
        },
        "categories[0].items[1].name: 'A' appears twice in 'X'",
    ),
    (
        "availability as text",
        {
            **BASE_MENU,
            "categories": [{"name": "X", "items": [{"name": "A", "price": 1, "available": "y"}]}],
        },
        "categories[0].items[0].available: Expected `bool`",
    ),
]


@pytest.mark.parametrize(
    ("document", "expected"),
    [(doc, text) for _, doc, text in BAD_FILES],
    ids=[name for name, _, _ in BAD_FILES],
)
def test_a_bad_menu_file_is_one_clear_line_and_changes_nothing(
    loaded: EdgeServer, tmp_path: Path, document: Any, expected: str
) -> None:
    before = diner_menu(loaded)
    done = import_menu(loaded, tmp_path, document)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: ") and expected in lines[0], lines[0]
    assert diner_menu(loaded) == before


def test_reimport_keeps_ids_and_never_loses_an_item_an_order_names(
    make_server: Any, tmp_path: Path
) -> None:
    edge: EdgeServer = make_server(tables=3)
    first = {
        "currency": "PEN",
        "taxRate": 1800,
        "categories": [
            {
                "name": "Entradas",
                "items": [
                    {"id": CEVICHE, "name": "Ceviche clasico", "price": 3500},
                    {"name": "Causa limena", "price": 2200},
                ],
            },
            {"name": "Fondos", "items": [{"id": LOMO, "name": "Lomo saltado", "price": 4200}]},
            {"name": "Postres", "items": [{"name": "Suspiro limeno", "price": 1500}]},
        ],
    }
    assert import_menu(edge, tmp_path, first).returncode == 0
    ids = {item["name"]: item["id"] for item in diner_menu(edge)["items"]}

    manager = edge.staff_token()
    diner = open_session(edge, f"{SLUG}-1")
    approve(edge, manager, diner["sessionId"])
    placed = httpx.post(
        f"{edge.url}/api/customer/orders",
        json={"items": [{"menuItemId": CEVICHE, "quantity": 2}]},
        headers=auth(diner["token"]),
    )
    assert placed.status_code == 201, placed.text

    # Ceviche (ordered) and Suspiro (never ordered) leave the menu; Causa comes back without
    # an id under the same name; Lomo changes price and category; a new dish arrives.
    second = {
        "currency": "PEN",
        "taxRate": 1800,
        "categories": [
            {"name": "Entradas", "items": [{"name": "Causa limena", "price": 2400}]},
            {
                "name": "Criollos",
                "items": [
                    {"id": LOMO, "name": "Lomo saltado", "price": 4500},
                    {"name": "Aji de gallina", "price": 3200},
                ],
            },
        ],
    }
    done = import_menu(edge, tmp_path, second)
    assert done.returncode == 0, done.stderr
    assert "3 items (1 added, 2 updated)" in done.stdout
    assert "1 deleted, 1 retired" in done.stdout
    data = diner_menu(edge)
    now = {item["name"]: item for item in data["items"]}
    assert set(now) == {"Causa limena", "Lomo saltado", "Aji de gallina"}
    assert now["Causa limena"]["id"] == ids["Causa limena"]
    assert now["Causa limena"]["price"] == 2400
    assert now["Lomo saltado"]["price"] == 4500
    criollos = next(c["id"] for c in data["categories"] if c["name"] == "Criollos")
    assert now["Lomo saltado"]["category_id"] == criollos
    assert [c["name"] for c in data["categories"]] == ["Entradas", "Criollos"]

    stored = {row[0]: row[1] for row in db_rows(edge, "SELECT id, retired FROM menu_items")}
    assert stored[CEVICHE] == 1, "an item an order names must be kept, retired"
    assert ids["Suspiro limeno"] not in stored, "an item nobody ordered is deleted"

    order = httpx.get(
        f"{edge.url}/api/customer/orders/{placed.json()['data']['id']}",
        headers=auth(diner["token"]),
    ).json()["data"]
    assert [(i["name"], i["unit_price"], i["subtotal"]) for i in order["items"]] == [
        ("Ceviche clasico", 3500, 7000)
    ]
    again = httpx.post(
        f"{edge.url}/api/customer/orders",
        json={"items": [{"menuItemId": CEVICHE, "quantity": 1}]},
        headers=auth(diner["token"]),
    )
    assert again.status_code == 400
    assert again.json()["error"]["details"]["field"] == "items[0].menuItemId"

    back = import_menu(edge, tmp_path, first)
    assert back.returncode == 0, back.stderr
    restored = {item["name"]: item["id"] for item in diner_menu(edge)["items"]}
    assert restored["Ceviche clasico"] == CEVICHE
    assert restored["Causa limena"] == ids["Causa limena"]


def test_availability_is_one_tap_for_kitchen_waiter_and_manager(
    loaded: EdgeServer, manager_token: str
) -> None:
    url = f"{loaded.url}/api/menu/items/{LOMO}"

    def available() -> bool:
        items = {item["id"]: item for item in diner_menu(loaded)["items"]}
        return bool(items[LOMO]["is_available"])

    kitchen, waiter = loaded.staff_token(KITCHEN_PIN), loaded.staff_token(WAITER_PIN)
    sold_out = httpx.patch(url, json={"is_available": False}, headers=auth(kitchen))
    assert sold_out.status_code == 200, sold_out.text
    assert sold_out.json()["data"]["is_available"] is False
    assert sold_out.json()["data"]["id"] == LOMO
    assert available() is False
    back = httpx.patch(url, json={"isAvailable": True}, headers=auth(waiter))
    assert back.status_code == 200
    assert available() is True
    assert httpx.patch(url, json={"is_available": False}, headers=auth(manager_token)).is_success
    assert available() is False
    assert httpx.patch(url, json={"is_available": True}, headers=auth(manager_token)).is_success


def test_availability_refuses_the_wrong_caller_or_body(
    loaded: EdgeServer, manager_token: str
) -> None:
    url = f"{loaded.url}/api/menu/items/{LOMO}"
    diner = open_session(loaded, loaded.table_code())
    cases = [
        ({}, {"is_available": False}, 401, "UNAUTHORIZED"),
        (auth(diner["token"]), {"is_available": False}, 403, "FORBIDDEN"),
        (auth(loaded.staff_token(CASHIER_PIN)), {"is_available": False}, 403, "FORBIDDEN"),
        (auth(manager_token), {}, 400, "VALIDATION_ERROR"),
        (auth(manager_token), {"is_available": "no"}, 400, "VALIDATION_ERROR"),
        (auth(manager_token), {"is_available": None}, 400, "VALIDATION_ERROR"),
    ]
    for headers, body, status, code in cases:
        answer = httpx.patch(url, json=body, headers=headers)
        assert answer.status_code == status, (body, answer.text)
        assert answer.json()["error"]["code"] == code
    missing = httpx.patch(
        f"{loaded.url}/api/menu/items/{uuid.uuid4()}",
        json={"is_available": False},
        headers=auth(manager_token),
    )
    assert missing.status_code == 404
    assert missing.json()["error"] == {"code": "NOT_FOUND", "message": "Producto no encontrado"}
    malformed = httpx.patch(
        f"{loaded.url}/api/menu/items/lomo",
        json={"is_available": False},
        headers=auth(manager_token),
    )
    assert malformed.status_code == 400
    assert malformed.json()["error"]["details"]["field"] == "id"
    assert next(i for i in diner_menu(loaded)["items"] if i["id"] == LOMO)["is_available"]


def test_staff_menu_lists_everything_for_staff_only(loaded: EdgeServer, manager_token: str) -> None:
    answer = httpx.get(f"{loaded.url}/api/menu", headers=auth(manager_token))
    assert answer.status_code == 200
    data = answer.json()["data"]
    assert {item["id"] for item in data["items"]} == {CEVICHE, LOMO, CHICHA}
    assert data["branch"]["tax_rate"] == 1800
    diner = open_session(loaded, loaded.table_code())
    assert httpx.get(f"{loaded.url}/api/menu", headers=auth(diner["token"])).status_code == 403


def test_the_demo_branch_has_a_peruvian_menu_in_pen_cents(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    asyncio.run(prepare_demo(data_dir, "http://127.0.0.1:8000"))
    edge = EdgeServer(data_dir, {}).start()
    try:
        data = diner_menu(edge, f"{SLUG}-15")
    finally:
        edge.stop()
    edge.assert_clean_log()
    assert (data["branch"]["currency"], data["branch"]["tax_rate"]) == ("PEN", 1800)
    items = {item["name"]: item for item in data["items"]}
    assert {
        "Ceviche clásico",
        "Lomo saltado",
        "Ají de gallina",
        "Causa limeña",
        "Chicha morada",
        "Inca Kola",
        "Pisco sour",
        "Suspiro limeño",
    } <= set(items)
    for item in data["items"]:
        assert isinstance(item["price"], int) and 300 <= item["price"] <= 10000, item
        assert item["is_available"] is True
    # The demo shows modifiers at once: a required término and optional extras (one sold out)
    # on the lomo, a required choice on the pisco sour.
    groups = {
        name: [
            (g["name"], g["min_selections"], g["max_selections"]) for g in item["modifier_groups"]
        ]
        for name, item in items.items()
    }
    assert groups["Lomo saltado"] == [("Término de la carne", 1, 1), ("Extras", 0, 3)]
    assert groups["Pisco sour"] == [("Dulzor", 1, 1)]
    extras = items["Lomo saltado"]["modifier_groups"][1]["modifiers"]
    assert [m["name"] for m in extras if not m["is_available"]] == ["Palta"]
    assert all(m["price"] > 0 for m in extras)
