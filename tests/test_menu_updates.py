"""What a catalog change does on a running device, end to end with the real central: orders are
priced by the catalog they were placed under, staff sold-out toggles against the central (newer
wins), a removed dish is retired but still named by the upload, `menu:updated` reaches diners'
and staff's sockets (also when the change came from `menu pull` / `menu import` in another
process), and the heartbeat with the clock check."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import socketio

from sync.central.harness import CentralDev
from tests.catalog_docs import CAUSA, CEVICHE, LOMO, catalog, find
from tests.conftest import SLUG, EdgeServer, approve, auth, open_session, provision_device
from tests.test_catalog_pull import menu_status, sync_status, wait_until, wait_version
from tests.test_realtime import hang_up

TOKEN = "menu-updates-device-token-c81f"
FAST = {
    "RESTAI_EDGE_CATALOG_INTERVAL": "1",
    "RESTAI_EDGE_SYNC_INTERVAL": "1",
    "RESTAI_EDGE_SYNC_BACKOFF_CAP": "1",
}


@pytest.fixture(scope="module")
def central(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CentralDev]:
    server = CentralDev(tmp_path_factory.mktemp("central"), TOKEN).start()
    server.set_catalog(catalog("v1"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def device(central: CentralDev, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeServer]:
    """One device for the module; each test publishes the catalog it needs."""
    data_dir = tmp_path_factory.mktemp("device") / "data"
    provision_device(data_dir, 20, central_url=central.url, device_token=TOKEN)
    server = EdgeServer(data_dir, FAST).start()
    wait_version(server, "v1")
    yield server
    server.stop()
    server.assert_clean_log()


VERSIONS = iter(range(2, 1000))


def publish(central: CentralDev, server: EdgeServer, document: dict[str, Any]) -> str:
    """Serve `document` under a fresh version and wait until the device applied it."""
    version = f"v{next(VERSIONS)}"
    central.set_catalog({**document, "version": version})
    wait_version(server, version)
    return version


def seated(server: EdgeServer, token: str) -> dict[str, Any]:
    diner = open_session(server, server.table_code())
    assert approve(server, token, diner["sessionId"]).status_code == 200
    return diner


def place(server: EdgeServer, diner: dict[str, Any], item_id: str) -> dict[str, Any]:
    answer = httpx.post(
        f"{server.url}/api/customer/orders",
        json={"items": [{"menuItemId": item_id, "quantity": 2}]},
        headers=auth(diner["token"]),
    )
    assert answer.status_code == 201, answer.text
    data: dict[str, Any] = answer.json()["data"]
    return data


def staff_item(server: EdgeServer, token: str, item_id: str) -> dict[str, Any]:
    listed = httpx.get(f"{server.url}/api/menu", headers=auth(token)).json()["data"]["items"]
    return next(entry for entry in listed if entry["id"] == item_id)


def test_new_orders_take_the_new_price_earlier_ones_keep_theirs(
    central: CentralDev, device: EdgeServer
) -> None:
    token = device.staff_token()
    diner = seated(device, token)
    first = place(device, diner, CEVICHE)
    assert first["items"][0]["unit_price"] == 3800
    document = catalog()
    find(document, CEVICHE)["price"] = 4100
    publish(central, device, document)
    second = place(device, diner, CEVICHE)
    assert second["items"][0]["unit_price"] == 4100 and second["subtotal"] == 8200
    orders = httpx.get(f"{device.url}/api/customer/orders", headers=auth(diner["token"]))
    prices = {o["id"]: o["items"][0]["unit_price"] for o in orders.json()["data"]}
    assert prices == {first["id"]: 3800, second["id"]: 4100}


def test_staff_sold_out_lasts_until_the_central_changes_that_dish(
    central: CentralDev, device: EdgeServer
) -> None:
    token = device.staff_token()
    publish(central, device, catalog())
    toggled = httpx.patch(
        f"{device.url}/api/menu/items/{CAUSA}", json={"is_available": False}, headers=auth(token)
    )
    assert toggled.status_code == 200
    # A catalog that says nothing new about the dish leaves the staff's toggle alone.
    other = catalog()
    find(other, LOMO)["price"] = 4300
    publish(central, device, other)
    assert staff_item(device, token, CAUSA)["is_available"] is False
    # The central marks it sold out, then available again: that change is newer, it wins.
    sold_out = catalog()
    find(sold_out, CAUSA)["is_available"] = False
    publish(central, device, sold_out)
    assert staff_item(device, token, CAUSA)["is_available"] is False
    publish(central, device, catalog())
    assert staff_item(device, token, CAUSA)["is_available"] is True
    # Staff undo a central "sold out" the same way.
    publish(central, device, sold_out)
    httpx.patch(
        f"{device.url}/api/menu/items/{CAUSA}", json={"is_available": True}, headers=auth(token)
    )
    again = json.loads(json.dumps(sold_out))
    find(again, LOMO)["price"] = 4400
    publish(central, device, again)
    assert staff_item(device, token, CAUSA)["is_available"] is True


def test_a_removed_dish_is_retired_and_the_upload_still_names_it(
    central: CentralDev, device: EdgeServer
) -> None:
    publish(central, device, catalog())
    token = device.staff_token()
    diner = seated(device, token)
    placed = place(device, diner, CAUSA)
    without = catalog()
    without["items"] = [entry for entry in without["items"] if entry["id"] != CAUSA]
    publish(central, device, without)
    menu = httpx.get(device.customer_url(f"{SLUG}-1", "menu")).json()["data"]
    assert CAUSA not in {entry["id"] for entry in menu["items"]}
    cancelled = httpx.post(
        f"{device.url}/api/customer/orders/{placed['id']}/cancel", headers=auth(diner["token"])
    )
    assert cancelled.status_code == 200, cancelled.text
    ended = httpx.patch(
        f"{device.url}/api/tables/sessions/{diner['sessionId']}/end", headers=auth(token)
    )
    assert ended.status_code == 200, ended.text
    wait_until(
        lambda: any(s["id"] == diner["sessionId"] for s in central.sessions()), 10, "the upload"
    )
    record = next(s for s in central.sessions() if s["id"] == diner["sessionId"])["payload"]
    lines = [line for order in record["orders"] for line in order["items"]]
    assert [(line["menu_item_id"], line["name"]) for line in lines] == [(CAUSA, "Causa limeña")]


class Ears:
    """A real Socket.IO client that keeps every `menu:updated` it hears."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.heard: list[dict[str, Any]] = []
        self.client.on("menu:updated", self._heard)

    async def _heard(self, data: dict[str, Any]) -> None:
        self.heard.append(data)

    async def wait(self, version: str, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for data in self.heard:
                if data.get("version") == version:
                    return data
            await asyncio.sleep(0.05)
        raise AssertionError(f"menu:updated {version} never arrived; heard {self.heard}")


@asynccontextmanager
async def ears(server: EdgeServer, token: str, **extra: Any) -> AsyncIterator[Ears]:
    listener = Ears()
    await listener.client.connect(
        server.url, auth={"token": token, **extra}, transports=["websocket"], wait_timeout=5
    )
    try:
        yield listener
    finally:
        await hang_up(listener.client)


def run_cli(server: EdgeServer, *args: str) -> None:
    server.cli(*args)


@pytest.mark.asyncio
async def test_menu_updated_reaches_diners_and_staff(
    central: CentralDev, device: EdgeServer
) -> None:
    token = device.staff_token()
    diner = seated(device, token)
    async with ears(device, diner["token"]) as phone, ears(device, token) as tablet:
        # The serving device's own pull.
        document = catalog()
        find(document, CEVICHE)["price"] = 3990
        version = f"v{next(VERSIONS)}"
        central.set_catalog({**document, "version": version})
        for listener in (phone, tablet):
            event = await listener.wait(version)
            assert event["sessionId"] is None and isinstance(event["eventId"], int)

        # `menu pull` in another process: the change is in the store, and the serving device
        # (whose next pull finds nothing new) announces it.
        version = f"v{next(VERSIONS)}"
        central.set_catalog({**catalog(), "version": version})
        await asyncio.to_thread(run_cli, device, "menu", "pull")
        for listener in (phone, tablet):
            await listener.wait(version)
        heard = [data["version"] for data in phone.heard]
        assert heard.count(version) == 1, heard
    # A diner reconnecting with `since` catches up on a menu change it missed.
    missed = f"v{next(VERSIONS)}"
    before = phone.heard[-1]["eventId"]
    central.set_catalog({**catalog(), "version": missed})
    wait_version(device, missed)
    async with ears(device, diner["token"], since=before) as back:
        await back.wait(missed)


def test_heartbeats_reach_the_central_with_the_queue_and_the_catalog(
    central: CentralDev, device: EdgeServer
) -> None:
    version = publish(central, device, catalog())

    def mine() -> dict[str, Any] | None:
        found = [d for d in central.devices() if d["catalogVersion"] == version]
        return found[0] if found else None

    seen = wait_until(mine, 10, "a heartbeat naming the catalog")
    assert seen["branchSlug"] == SLUG and seen["queueDepth"] == 0
    beat = seen["lastHeartbeat"]
    for field in ("version", "uptime_s", "oldest_waiting", "live_sessions", "disk_free_bytes"):
        assert field in beat
    assert abs(seen["clockSkewSeconds"]) < 5
    status = sync_status(device)
    assert status["heartbeat"]["ok"] is True
    assert status["clock"]["off"] is False and abs(status["clock"]["skew_s"]) < 5

    central.set_clock_offset(-300)
    try:
        clock = wait_until(
            lambda: (c := sync_status(device)["clock"])["off"] and c, 10, "the skew noticed"
        )
        assert 295 <= clock["skew_s"] <= 305
        assert re.search(r"clock is (29\d|30\d) s ahead of the central's", device.log())
    finally:
        central.set_clock_offset(0)
    wait_until(lambda: not sync_status(device)["clock"]["off"], 10, "the clock agreeing again")

    central.control("404", target="heartbeat")
    try:
        wait_until(
            lambda: sync_status(device)["heartbeat"]["offered"] is False, 10, "a 404 heartbeat"
        )
        # Uploads and the catalog go on.
        assert menu_status(device)["state"] == "ok"
    finally:
        central.control("ok", target="heartbeat")
