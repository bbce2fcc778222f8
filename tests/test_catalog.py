"""The CATALOG document (CONTRACT.md): imported through the real CLI into a serving device, the
diner's menu with modifier groups inline, broken catalogs refused whole, ids kept across
changes, ordered items retired, and the staff's sold-out toggle against the central (newer
wins). Central-side semantics are applied to a real store file in this process."""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.catalog import CatalogError, apply_catalog, catalog_state, parse_catalog, read_menu
from edge.menu import set_availability
from edge.store import Store
from provisioning.provision import ProvisionRequest, provision
from tests.conftest import EdgeServer, approve, auth, open_session
from tests.test_menu import db_rows, diner_menu, import_menu
from tests.test_realtime import listening


def new_id() -> str:
    return str(uuid.uuid4())


FONDOS, BEBIDAS, OCULTA = new_id(), new_id(), new_id()
LOMO, PISCO, SECRETO = new_id(), new_id(), new_id()
TERMINO, EXTRAS, AZUCAR = new_id(), new_id(), new_id()
JUGOSO, A_PUNTO, BIEN_COCIDO = new_id(), new_id(), new_id()
HUEVO, PLATANO = new_id(), new_id()
CON_AZUCAR, SIN_AZUCAR = new_id(), new_id()

CATALOG: dict[str, Any] = {
    "version": "2026-12-02T10:00:00Z",
    "branch": {"name": "Downtown Lima", "currency": "PEN", "tax_rate": 1800},
    "categories": [
        {"id": BEBIDAS, "name": "Bebidas", "sort_order": 2, "is_active": True},
        {"id": FONDOS, "name": "Fondos", "sort_order": 1, "is_active": True},
        {"id": OCULTA, "name": "Fuera de carta", "sort_order": 3, "is_active": False},
    ],
    "items": [
        {
            "id": LOMO,
            "category_id": FONDOS,
            "name": "Lomo saltado",
            "description": "Lomo fino, cebolla, tomate, papas fritas",
            "price": 4200,
            "image_url": None,
            "is_available": True,
            "sort_order": 0,
            "allergens": ["soya"],
            "dietary_tags": [],
            "spice_level": 1,
            "preparation_time_min": 15,
            "modifier_groups": [TERMINO, EXTRAS],
        },
        {
            "id": PISCO,
            "category_id": BEBIDAS,
            "name": "Pisco sour",
            "description": None,
            "price": 2800,
            "image_url": None,
            "is_available": True,
            "sort_order": 0,
            "allergens": ["huevo"],
            "dietary_tags": ["contiene alcohol"],
            "spice_level": None,
            "preparation_time_min": 5,
            "modifier_groups": [AZUCAR],
        },
        {
            "id": SECRETO,
            "category_id": OCULTA,
            "name": "Plato secreto",
            "price": 9900,
        },
    ],
    "modifier_groups": [
        {
            "id": TERMINO,
            "name": "Término de la carne",
            "min_selections": 1,
            "max_selections": 1,
            "modifiers": [
                {"id": JUGOSO, "name": "Jugoso", "price": 0, "is_available": True, "sort_order": 0},
                {"id": A_PUNTO, "name": "A punto", "price": 0, "sort_order": 1},
                {"id": BIEN_COCIDO, "name": "Bien cocido", "price": 0, "sort_order": 2},
            ],
        },
        {
            "id": EXTRAS,
            "name": "Extras",
            "min_selections": 0,
            "max_selections": 2,
            "modifiers": [
                {"id": HUEVO, "name": "Huevo frito", "price": 300, "sort_order": 0},
                {
                    "id": PLATANO,
                    "name": "Plátano frito",
                    "price": 450,
                    "is_available": False,
                    "sort_order": 1,
                },
            ],
        },
        {
            "id": AZUCAR,
            "name": "Azúcar",
            "min_selections": 1,
            "max_selections": 1,
            "modifiers": [
                {"id": CON_AZUCAR, "name": "Con azúcar", "price": 0},
                {"id": SIN_AZUCAR, "name": "Sin azúcar", "price": 0},
            ],
        },
    ],
}


def changed(**edits: Any) -> dict[str, Any]:
    document = copy.deepcopy(CATALOG)
    document.update(edits)
    return document


def with_item(index: int, **edits: Any) -> dict[str, Any]:
    document = copy.deepcopy(CATALOG)
    document["items"][index].update(edits)
    return document


def with_group(index: int, **edits: Any) -> dict[str, Any]:
    document = copy.deepcopy(CATALOG)
    document["modifier_groups"][index].update(edits)
    return document


def test_a_catalog_becomes_the_diners_menu_with_modifier_groups_inline(
    server: EdgeServer, tmp_path: Path
) -> None:
    done = import_menu(server, tmp_path, CATALOG)
    assert done.returncode == 0, done.stderr
    assert "2 categories" not in done.stdout, "inactive categories are still imported"
    assert "3 categories, 3 items" in done.stdout
    assert "3 modifier groups with 7 modifiers" in done.stdout
    data = diner_menu(server)
    assert [c["name"] for c in data["categories"]] == ["Fondos", "Bebidas"]
    assert [c["id"] for c in data["categories"]] == [FONDOS, BEBIDAS]
    items = {item["id"]: item for item in data["items"]}
    assert list(items) == [LOMO, PISCO], "an inactive category hides its items"
    lomo = items[LOMO]
    assert (lomo["price"], lomo["allergens"], lomo["spice_level"]) == (4200, ["soya"], 1)
    assert lomo["preparation_time_min"] == 15
    assert lomo["image_url"] is None
    assert lomo["modifier_groups"] == [
        {
            "id": TERMINO,
            "name": "Término de la carne",
            "min_selections": 1,
            "max_selections": 1,
            "modifiers": [
                {"id": JUGOSO, "name": "Jugoso", "price": 0, "is_available": True},
                {"id": A_PUNTO, "name": "A punto", "price": 0, "is_available": True},
                {"id": BIEN_COCIDO, "name": "Bien cocido", "price": 0, "is_available": True},
            ],
        },
        {
            "id": EXTRAS,
            "name": "Extras",
            "min_selections": 0,
            "max_selections": 2,
            "modifiers": [
                {"id": HUEVO, "name": "Huevo frito", "price": 300, "is_available": True},
                {"id": PLATANO, "name": "Plátano frito", "price": 450, "is_available": False},
            ],
        },
    ]
    assert [g["name"] for g in items[PISCO]["modifier_groups"]] == ["Azúcar"]
    assert items[PISCO]["dietary_tags"] == ["contiene alcohol"]


BROKEN: list[tuple[str, Any, str]] = [
    ("not json", '{"version": "x", ', "not valid JSON"),
    ("no version", {k: v for k, v in CATALOG.items() if k != "version"}, "version"),
    ("blank version", changed(version="  "), "version: must not be blank"),
    ("bad currency", changed(branch={"currency": "soles", "tax_rate": 1800}), "branch.currency"),
    ("negative price", with_item(0, price=-100), "items[0].price: Expected `int` >= 0"),
    ("price in soles", with_item(1, price=28.5), "items[1].price: Expected `int`, got `float`"),
    ("unknown category", with_item(0, category_id=new_id()), "items[0].category_id: unknown"),
    ("malformed id", with_item(0, id="lomo"), "items[0].id: must be a UUID"),
    ("item id twice", with_item(1, id=LOMO), f"items[1].id: {LOMO} is used by two items"),
    (
        "category id twice",
        changed(
            categories=[
                {"id": FONDOS, "name": "Fondos"},
                {"id": FONDOS, "name": "Bebidas"},
                {"id": OCULTA, "name": "Fuera de carta"},
            ]
        ),
        "categories[1].id",
    ),
    (
        "category name twice",
        changed(
            categories=[
                {"id": FONDOS, "name": "Fondos"},
                {"id": BEBIDAS, "name": "Fondos"},
                {"id": OCULTA, "name": "Fuera de carta"},
            ]
        ),
        "categories[1].name: category 'Fondos' appears twice",
    ),
    (
        "unknown modifier group",
        with_item(0, modifier_groups=[TERMINO, new_id()]),
        "items[0].modifier_groups[1]: unknown modifier group",
    ),
    (
        "group listed twice on an item",
        with_item(0, modifier_groups=[TERMINO, TERMINO]),
        "items[0].modifier_groups[1]: modifier group",
    ),
    ("min above max", with_group(1, min_selections=3, max_selections=2), "modifier_groups[1]"),
    (
        "min above the modifiers there are",
        with_group(2, min_selections=3, max_selections=3),
        "modifier_groups[2]: asks for at least 3 of 2 modifiers",
    ),
    ("max of zero", with_group(0, max_selections=0), "modifier_groups[0].max_selections"),
    (
        "negative modifier price",
        with_group(1, modifiers=[{"id": HUEVO, "name": "Huevo", "price": -300}]),
        "modifier_groups[1].modifiers[0].price: Expected `int` >= 0",
    ),
    (
        "modifier id in two groups",
        with_group(2, modifiers=[{"id": JUGOSO, "name": "Con azúcar", "price": 0}]),
        f"modifier_groups[2].modifiers[0].id: {JUGOSO} is used by two modifiers",
    ),
    ("control characters", with_item(0, name="Lomo\x00"), "items[0].name: must not contain"),
]


@pytest.mark.parametrize(
    ("document", "expected"),
    [(doc, text) for _, doc, text in BROKEN],
    ids=[name for name, _, _ in BROKEN],
)
def test_a_broken_catalog_is_refused_whole_with_its_reason(
    server: EdgeServer, tmp_path: Path, document: Any, expected: str
) -> None:
    assert import_menu(server, tmp_path, CATALOG).returncode == 0
    before = diner_menu(server)
    done = import_menu(server, tmp_path, document)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: ") and expected in lines[0], lines[0]
    assert diner_menu(server) == before


def test_a_new_catalog_keeps_ids_and_retires_what_orders_name(
    make_server: Any, tmp_path: Path
) -> None:
    edge: EdgeServer = make_server(tables=2)
    assert import_menu(edge, tmp_path, CATALOG).returncode == 0
    manager = edge.staff_token()
    diner = open_session(edge, edge.table_code())
    approve(edge, manager, diner["sessionId"])
    placed = httpx.post(
        f"{edge.url}/api/customer/orders",
        json={"items": [{"menuItemId": PISCO, "quantity": 2, "modifiers": [CON_AZUCAR]}]},
        headers=auth(diner["token"]),
    )
    assert placed.status_code == 201, placed.text

    # The pisco (ordered) and the secret dish (never ordered) leave; the two categories swap
    # names; the lomo changes price and loses its extras; a new dish arrives.
    arroz = new_id()
    second = copy.deepcopy(CATALOG)
    second["version"] = "v2"
    second["categories"] = [
        {"id": FONDOS, "name": "Bebidas", "sort_order": 0},
        {"id": BEBIDAS, "name": "Fondos", "sort_order": 1},
    ]
    second["items"] = [
        {**CATALOG["items"][0], "price": 4500, "modifier_groups": [TERMINO]},
        {"id": arroz, "category_id": BEBIDAS, "name": "Arroz chaufa", "price": 3000},
    ]
    second["modifier_groups"] = CATALOG["modifier_groups"][:1]
    done = import_menu(edge, tmp_path, second)
    assert done.returncode == 0, done.stderr
    assert "2 items (1 added, 1 updated)" in done.stdout
    assert "1 deleted, 1 retired" in done.stdout

    data = diner_menu(edge)
    assert [(c["id"], c["name"]) for c in data["categories"]] == [
        (FONDOS, "Bebidas"),
        (BEBIDAS, "Fondos"),
    ]
    items = {item["id"]: item for item in data["items"]}
    assert set(items) == {LOMO, arroz}
    assert items[LOMO]["price"] == 4500
    assert [g["id"] for g in items[LOMO]["modifier_groups"]] == [TERMINO]
    stored = dict(db_rows(edge, "SELECT id, retired FROM menu_items"))
    assert stored[PISCO] == 1, "an item an order names is kept, retired"
    assert SECRETO not in stored, "an item nobody ordered is deleted"
    groups = {row[0] for row in db_rows(edge, "SELECT id FROM modifier_groups")}
    assert groups == {TERMINO}
    assert not db_rows(edge, "SELECT id FROM modifiers WHERE group_id = ?", (EXTRAS,))

    order = httpx.get(
        f"{edge.url}/api/customer/orders/{placed.json()['data']['id']}",
        headers=auth(diner["token"]),
    ).json()["data"]
    assert [(line["name"], line["unit_price"]) for line in order["items"]] == [("Pisco sour", 2800)]


@pytest.mark.asyncio
async def test_staff_hear_menu_updated_when_a_catalog_is_applied(
    server: EdgeServer, tmp_path: Path
) -> None:
    """Recorded with the change, so a staff page that reconnects catches up on it."""
    since = int(db_rows(server, "SELECT coalesce(max(id), 0) FROM events")[0][0])
    document = changed(version=f"menu-{uuid.uuid4().hex[:8]}")
    done = await asyncio.to_thread(import_menu, server, tmp_path, document)
    assert done.returncode == 0, done.stderr
    async with listening(server, server.staff_token(), since=since) as staff:
        staff.client.on("menu:updated", staff._recorder("menu:updated"))
        event = await staff.wait_for("menu:updated", version=document["version"])
    assert event["sessionId"] is None and event["eventId"] > since


# --------------------------------------------------------------------------- central semantics


@pytest.fixture
def store_file(tmp_path: Path) -> Path:
    data_dir = tmp_path / "device"
    request = ProvisionRequest(
        branch_slug="downtown-lima", branch_name="Downtown Lima", tables=2, base_url=None
    )
    asyncio.run(provision(data_dir, request))
    return data_dir / "edge.db"


@pytest.mark.asyncio
async def test_a_staff_sold_out_lasts_until_the_central_changes_that_item(
    store_file: Path,
) -> None:
    async with Store(store_file) as store:
        branch_id = await store.fetch_value("SELECT id FROM branch")

        async def lomo() -> bool:
            menu = await read_menu(store, branch_id)
            return bool(next(i for i in menu["items"] if i["id"] == LOMO)["is_available"])

        async def central(version: str, available: bool) -> None:
            document = with_item(0, is_available=available)
            document["version"] = version
            await apply_catalog(
                store, parse_catalog(json.dumps(document).encode()), source="central"
            )

        await central("v1", True)
        await set_availability(store, branch_id, LOMO, False)
        await central("v2", True)
        assert await lomo() is False, "a catalog that says nothing new keeps the staff's toggle"
        await set_availability(store, branch_id, LOMO, True)
        await central("v3", False)
        assert await lomo() is False, "the central's newer change wins"
        await set_availability(store, branch_id, LOMO, True)
        await central("v4", False)
        assert await lomo() is True, "the staff's newer change wins"
        state = await catalog_state(store)
        assert (state["source"], state["version"]) == ("central", "v4")


@pytest.mark.asyncio
async def test_a_catalog_of_2000_items_and_200_groups_applies_in_under_2_s(
    store_file: Path,
) -> None:
    categories = [{"id": new_id(), "name": f"Categoría {n}", "sort_order": n} for n in range(40)]
    groups = [
        {
            "id": new_id(),
            "name": f"Grupo {g}",
            "min_selections": g % 2,
            "max_selections": 3,
            "modifiers": [
                {"id": new_id(), "name": f"Opción {m}", "price": 100 * m} for m in range(5)
            ],
        }
        for g in range(200)
    ]
    items = [
        {
            "id": new_id(),
            "category_id": categories[n % 40]["id"],
            "name": f"Plato {n}",
            "price": 1000 + n,
            "modifier_groups": [groups[n % 200]["id"], groups[(n * 7 + 1) % 200]["id"]],
        }
        for n in range(2000)
    ]
    document = {**CATALOG, "categories": categories, "items": items, "modifier_groups": groups}
    raw = json.dumps(document).encode()
    async with Store(store_file) as store:
        for _ in range(2):  # the second applies over the first: every row an update
            started = time.perf_counter()
            summary = await apply_catalog(store, parse_catalog(raw), source="central")
            elapsed = time.perf_counter() - started
            assert summary.items == 2000 and summary.modifiers == 1000
            assert elapsed < 2.0, f"applying took {elapsed:.2f} s"
        menu = await read_menu(store, await store.fetch_value("SELECT id FROM branch"))
    assert len(menu["items"]) == 2000
    assert all(len(item["modifier_groups"]) == 2 for item in menu["items"])


def test_parse_names_the_first_problem_it_finds() -> None:
    with pytest.raises(CatalogError, match=r"^items\[0\]\.price"):
        parse_catalog(json.dumps(with_item(0, price="42")).encode())
