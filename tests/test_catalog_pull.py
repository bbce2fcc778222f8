"""The central's catalog on a real device (`restai-edge serve`), pulled from the real reference
central (`central-dev` subprocess): ETag/304, pictures, faults, broken catalogs, orders priced by
the catalog, sold-out toggles against the central, `menu pull`/`menu status`, `/healthz`.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from sync.central.harness import CentralDev
from tests.catalog_docs import CAUSA, CEVICHE, LOMO, STARTERS, catalog, find, item, new_id, picture
from tests.conftest import SLUG, EdgeServer, approve, auth, open_session, provision_device

TOKEN = "catalog-pull-device-token-93e1"
# Pull every second; a failed pull is retried within a second.
FAST = {
    "RESTAI_EDGE_CATALOG_INTERVAL": "1",
    "RESTAI_EDGE_SYNC_INTERVAL": "1",
    "RESTAI_EDGE_SYNC_BACKOFF_CAP": "1",
}
TABLES = 10


@pytest.fixture(scope="module")
def central(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CentralDev]:
    server = CentralDev(tmp_path_factory.mktemp("central"), TOKEN).start()
    yield server
    server.stop()


@pytest.fixture
def fresh_central(central: CentralDev) -> CentralDev:
    central.reset()
    return central


DeviceFactory = Callable[..., EdgeServer]


@pytest.fixture
def device(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeviceFactory]:
    """`device(central_url, start=True, **env)`: a provisioned device, served unless told not to.
    All stop at teardown, with a clean log."""
    servers: list[EdgeServer] = []

    def make(central_url: str, *, start: bool = True, **env: str) -> EdgeServer:
        data_dir = tmp_path_factory.mktemp("device") / "data"
        provision_device(data_dir, TABLES, central_url=central_url, device_token=TOKEN)
        server = EdgeServer(data_dir, {**FAST, **env})
        servers.append(server)
        return server.start() if start else server

    yield make
    for server in servers:
        server.stop()
    for server in servers:
        server.assert_clean_log()


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout} s for {what}")
        time.sleep(0.05)


def menu(server: EdgeServer) -> dict[str, Any]:
    answer = httpx.get(server.customer_url(f"{SLUG}-1", "menu"))
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()["data"]
    return data


def items(server: EdgeServer) -> dict[str, dict[str, Any]]:
    return {entry["id"]: entry for entry in menu(server)["items"]}


STAFF_TOKENS: dict[str, str] = {}


def sync_status(server: EdgeServer) -> dict[str, Any]:
    """The staff-visible sync status (`GET /api/sync/status`)."""
    token = STAFF_TOKENS.get(server.url) or STAFF_TOKENS.setdefault(
        server.url, server.staff_token()
    )
    answer = httpx.get(f"{server.url}/api/sync/status", headers=auth(token))
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()["data"]
    return result


def menu_status(server: EdgeServer) -> dict[str, Any]:
    """`menu status --json`, as the staff API shows it (polling the CLI would be slow)."""
    result: dict[str, Any] = sync_status(server)["catalog"]
    return result


def cli_menu_status(server: EdgeServer) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(server.cli("menu", "status", "--json").stdout)
    return result


def cli(server: EdgeServer, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI against this device, success or not."""
    return subprocess.run(
        [sys.executable, "-m", "provisioning", "--data-dir", str(server.data_dir), *args],
        capture_output=True,
        text=True,
    )


def wait_version(server: EdgeServer, version: str, timeout: float = 10) -> dict[str, Any]:
    return wait_until(
        lambda: (status := menu_status(server))["version"] == version and status,
        timeout,
        f"catalog {version} on the device",
    )


def store_rows(server: EdgeServer, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(server.data_dir / "edge.db", timeout=5) as db:
        return db.execute(sql).fetchall()


def menu_snapshot(server: EdgeServer) -> list[tuple[Any, ...]]:
    """Everything a catalog writes, to show that a refused one wrote nothing."""
    return [
        *store_rows(server, "SELECT * FROM menu_items ORDER BY id"),
        *store_rows(server, "SELECT * FROM menu_categories ORDER BY id"),
        *store_rows(server, "SELECT * FROM modifier_groups ORDER BY id"),
        *store_rows(server, "SELECT * FROM modifiers ORDER BY id"),
        *store_rows(server, "SELECT currency, tax_rate, name FROM branch"),
        *store_rows(
            server, "SELECT key, value FROM catalog_state WHERE key IN ('version', 'etag')"
        ),
    ]


def catalog_requests(central: CentralDev) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = central.stats()["endpoints"].get("catalog", [])
    return result


# --------------------------------------------------------------------------- the happy path


def test_pull_at_start_applies_the_catalog_and_serves_its_pictures(
    fresh_central: CentralDev, device: DeviceFactory
) -> None:
    document = catalog()
    pictures = {CEVICHE: picture("PNG"), CAUSA: picture("JPEG"), LOMO: picture("WEBP")}
    for ident, data in pictures.items():
        # The Content-Type a server claims is never trusted: the bytes decide.
        find(document, ident)["image_url"] = fresh_central.set_media(
            f"{ident}.bin", data, "application/octet-stream"
        )
    etag = fresh_central.set_catalog(document)
    server = device(fresh_central.url)
    status = wait_version(server, "v1")
    assert status["source"] == "central" and status["etag"] == etag
    assert status["state"] == "ok" and status["last_error"] is None
    assert status["last_pull"] is not None
    assert status["pictures"] == {"named": 3, "kept": 3}

    served = items(server)
    assert served[CEVICHE]["name"] == "Ceviche clásico" and served[CEVICHE]["price"] == 3800
    assert [g["name"] for g in served[LOMO]["modifier_groups"]] == ["Término"]
    types = {CEVICHE: "image/png", CAUSA: "image/jpeg", LOMO: "image/webp"}
    for ident, data in pictures.items():
        url = served[ident]["image_url"]
        assert url.startswith("/_media/"), url
        answer = httpx.get(server.url + url)
        assert answer.status_code == 200
        assert answer.content == data
        assert answer.headers["content-type"] == types[ident]
        assert "immutable" in answer.headers["cache-control"]
        assert answer.headers["x-content-type-options"] == "nosniff"
    for bad in ("../edge.db", "x.png", "0" * 32 + ".gif", "0" * 32 + ".png"):
        assert httpx.get(f"{server.url}/_media/{bad}").status_code == 404

    health = httpx.get(server.url + "/healthz").json()["data"]["catalog"]
    assert health["version"] == "v1" and health["source"] == "central"
    assert isinstance(health["age_s"], int) and health["age_s"] >= 0


def test_an_unchanged_catalog_costs_a_304_and_a_change_one_pull(
    fresh_central: CentralDev, device: DeviceFactory
) -> None:
    etag = fresh_central.set_catalog(catalog())
    server = device(fresh_central.url)
    wait_version(server, "v1")
    wait_until(lambda: len(catalog_requests(fresh_central)) >= 4, 10, "a few more pulls")
    requests = catalog_requests(fresh_central)
    assert requests[0]["status"] == 200 and requests[0]["if_none_match"] is None
    assert all(r["status"] == 304 and r["if_none_match"] == etag for r in requests[1:])

    changed = catalog("v2")
    find(changed, CEVICHE)["price"] = 3900
    fresh_central.set_catalog(changed)
    wait_version(server, "v2")
    assert items(server)[CEVICHE]["price"] == 3900
    assert [r["status"] for r in catalog_requests(fresh_central)].count(200) == 2


def test_menu_pull_and_status_from_the_command_line(
    fresh_central: CentralDev, device: DeviceFactory
) -> None:
    server = device(fresh_central.url, RESTAI_EDGE_CATALOG_INTERVAL="3600")
    # The pull at start found no catalog: the central does not offer one yet.
    wait_until(lambda: menu_status(server)["state"] == "not_offered", 10, "the first pull")
    fresh_central.set_catalog(catalog("v7"))
    pulled = cli(server, "menu", "pull")
    assert pulled.returncode == 0, pulled.stderr
    assert "Applied catalog v7" in pulled.stdout
    assert items(server)[CEVICHE]["price"] == 3800
    again = cli(server, "menu", "pull", "--json")
    assert json.loads(again.stdout)["outcome"] == "unchanged"
    text = cli(server, "menu", "status").stdout
    assert "version v7" in text and "up to date with the central" in text
    status = cli_menu_status(server)
    assert status == menu_status(server) | {"age_s": status["age_s"]}
    assert status["source"] == "central" and status["version"] == "v7"
    assert status["etag"] and status["last_pull"] and status["last_error"] is None


# --------------------------------------------------------------------------- broken catalogs


def duplicate_id() -> dict[str, Any]:
    document = catalog("dup")
    document["items"].append(item(CEVICHE, STARTERS, "Otro ceviche", 100))
    return document


def negative_price() -> dict[str, Any]:
    document = catalog("neg")
    find(document, CAUSA)["price"] = -100
    return document


def unknown_category() -> dict[str, Any]:
    document = catalog("cat")
    document["items"].append(item(new_id(), new_id(), "Huérfano", 100))
    return document


BROKEN: dict[str, Callable[[], bytes]] = {
    "bad-json": lambda: b'{"version": "v9", "items": [',
    "duplicate-id": lambda: json.dumps(duplicate_id()).encode(),
    "negative-price": lambda: json.dumps(negative_price()).encode(),
    "unknown-category": lambda: json.dumps(unknown_category()).encode(),
    "50-mb": lambda: json.dumps({**catalog("big"), "pad": "x" * (50 * 1024 * 1024)}).encode(),
}
REASONS = {
    "bad-json": "not valid JSON",
    "duplicate-id": f"items[3].id: {CEVICHE} is used by two items",
    "negative-price": "items[1].price: Expected `int` >= 0",
    "unknown-category": "items[3].category_id: unknown category",
    # Refused on its Content-Length, before a byte of the body is read.
    "50-mb": "bytes announced, over the 16,777,216 byte limit",
}


def test_broken_catalogs_are_refused_whole(
    fresh_central: CentralDev, device: DeviceFactory
) -> None:
    fresh_central.set_catalog(catalog())
    server = device(fresh_central.url)
    wait_version(server, "v1")
    good = menu_snapshot(server)
    for case, document in BROKEN.items():
        fresh_central.set_catalog(document())
        # The serving device's own pull: the reason is in its log and in `menu status`.
        status = wait_until(
            lambda: (
                (s := menu_status(server))["state"] == "refused"
                and REASONS[case] in (s["last_error"] or {}).get("message", "")  # noqa: B023
                and s
            ),
            10,
            f"the {case} catalog to be refused",
        )
        assert status["version"] == "v1", case
        assert REASONS[case] in server.log(), case
        assert menu_snapshot(server) == good, f"{case} changed the store"
    # A 50 MB body that does not say its length (chunked) is read only up to the limit.
    # `menu pull` says so, and fails.
    fresh_central.control("chunked", target="catalog")
    fresh_central.set_catalog(json.dumps({**catalog("big2"), "pad": "y" * (50 << 20)}).encode())
    pulled = cli(server, "menu", "pull")
    assert pulled.returncode == 1
    assert "went past the 16,777,216 byte limit" in pulled.stderr, pulled.stderr
    assert "the menu on the device stays as it was" in pulled.stderr
    assert menu_snapshot(server) == good
    fresh_central.control("ok", target="catalog")
    fresh_central.set_catalog(catalog("v2"))
    assert wait_version(server, "v2")["state"] == "ok"


def test_a_refused_catalog_is_not_downloaded_again(
    fresh_central: CentralDev, device: DeviceFactory
) -> None:
    fresh_central.set_catalog(catalog())
    server = device(fresh_central.url)
    wait_version(server, "v1")
    broken_etag = fresh_central.set_catalog(json.dumps(negative_price()).encode())
    wait_until(lambda: menu_status(server)["state"] == "refused", 10, "the refusal")
    seen = len(catalog_requests(fresh_central))
    wait_until(lambda: len(catalog_requests(fresh_central)) >= seen + 3, 10, "more pulls")
    later = catalog_requests(fresh_central)[seen:]
    assert all(r["status"] == 304 and broken_etag in r["if_none_match"] for r in later)
    assert menu_status(server)["state"] == "refused"


def test_a_pull_cut_mid_body_changes_nothing(
    fresh_central: CentralDev, device: DeviceFactory
) -> None:
    fresh_central.set_catalog(catalog())
    server = device(fresh_central.url, RESTAI_EDGE_CATALOG_INTERVAL="3600")
    wait_version(server, "v1")
    good = menu_snapshot(server)
    bigger = catalog("v2")
    bigger["items"] += [
        item(new_id(), STARTERS, f"Plato {n}", 1000 + n, sort_order=n) for n in range(400)
    ]
    fresh_central.set_catalog(bigger)
    fresh_central.control("cut", target="catalog", times=1)
    pulled = cli(server, "menu", "pull")
    assert pulled.returncode == 1
    assert "catalog pull interrupted" in pulled.stderr
    assert menu_snapshot(server) == good
    status = menu_status(server)
    assert status["state"] == "retrying" and status["version"] == "v1"
    assert status["last_error"]["status"] is None
    # The next pull gets the whole body.
    assert cli(server, "menu", "pull").returncode == 0
    assert len(items(server)) == 403


# --------------------------------------------------------------------------- pictures


def test_a_picture_that_is_not_an_image_is_dropped_and_retried(
    fresh_central: CentralDev, device: DeviceFactory
) -> None:
    document = catalog()
    find(document, CEVICHE)["image_url"] = fresh_central.set_media(
        "fake.jpg", b"<html>not a picture</html>", "image/jpeg"
    )
    find(document, CAUSA)["image_url"] = fresh_central.set_media(
        "cut.png", picture("PNG")[:40], "image/png"
    )
    big = picture("PNG") + b"\0" * (2 * 1024 * 1024)
    find(document, LOMO)["image_url"] = fresh_central.set_media("big.png", big, "image/png")
    fresh_central.set_catalog(document)
    server = device(fresh_central.url)
    status = wait_version(server, "v1")
    assert status["pictures"] == {"named": 3, "kept": 0}
    assert all(entry["image_url"] is None for entry in items(server).values())
    log = server.log()
    assert "not a JPEG, PNG or WebP image" in log
    assert "broken png image" in log
    assert "over the 2097152" in log
    assert not list((server.data_dir / "images").glob("*.*"))

    # The central fixes the picture behind the same URL; the catalog is unchanged (304), and the
    # next pull fetches it.
    good = picture("JPEG", (10, 200, 10))
    fresh_central.set_media("fake.jpg", good, "image/jpeg")
    url = wait_until(lambda: items(server)[CEVICHE]["image_url"], 10, "the picture retried")
    assert httpx.get(server.url + url).content == good
    assert catalog_requests(fresh_central)[-1]["status"] == 304


def test_pictures_are_fetched_again_only_when_missing(
    fresh_central: CentralDev, device: DeviceFactory
) -> None:
    document = catalog()
    find(document, CEVICHE)["image_url"] = fresh_central.set_media("a.png", picture("PNG"))
    fresh_central.set_catalog(document)
    server = device(fresh_central.url)
    wait_version(server, "v1")
    changed = catalog("v2")
    find(changed, CEVICHE)["image_url"] = find(document, CEVICHE)["image_url"]
    find(changed, CAUSA)["price"] = 2300
    fresh_central.set_catalog(changed)
    wait_version(server, "v2")
    fetched = [e for e in fresh_central.stats()["endpoints"]["media"] if e["status"] == 200]
    assert len(fetched) == 1, "a picture the device already has was fetched again"


# --------------------------------------------------------------------------- not offered, faults


def test_a_central_without_a_catalog_leaves_the_imported_menu(
    fresh_central: CentralDev, device: DeviceFactory, tmp_path: Any
) -> None:
    server = device(fresh_central.url, start=False)
    menu_file = tmp_path / "menu.json"
    menu_file.write_text(json.dumps(catalog("file-menu")))
    server.cli("menu", "import", str(menu_file))
    server.start()
    status = wait_until(
        lambda: (s := menu_status(server))["state"] == "not_offered" and s, 10, "a 404"
    )
    assert status["source"] == "file" and status["version"] == "file-menu"
    assert status["offered"] is False and status["not_offered"]["status"] == 404
    assert "does not offer a catalog" in cli(server, "menu", "status").stdout
    assert items(server)[CEVICHE]["price"] == 3800

    fresh_central.control("501", target="catalog")
    wait_until(lambda: menu_status(server)["not_offered"]["status"] == 501, 10, "a 501 to be noted")
    # Sessions still go up.
    token = server.staff_token()
    session_id = open_session(server, f"{SLUG}-2")["sessionId"]
    assert approve(server, token, session_id).status_code == 200
    ended = httpx.patch(f"{server.url}/api/tables/sessions/{session_id}/end", headers=auth(token))
    assert ended.status_code == 200
    wait_until(lambda: session_id in fresh_central.stats()["deliveries"], 10, "the upload")
    assert items(server)[CEVICHE]["price"] == 3800
    assert "does not offer a catalog (HTTP 404)" in server.log()


def test_401_stops_pulls_until_sync_now_succeeds(
    fresh_central: CentralDev, device: DeviceFactory
) -> None:
    fresh_central.set_catalog(catalog())
    fresh_central.control("401", target="catalog")
    server = device(fresh_central.url)
    wait_until(lambda: menu_status(server)["state"] == "stopped", 10, "the stop")
    seen = len(catalog_requests(fresh_central))
    time.sleep(2.5)
    assert len(catalog_requests(fresh_central)) == seen, "a stopped device kept pulling"
    assert menu_status(server)["last_error"]["status"] == 401

    refused = cli(server, "menu", "pull")
    assert refused.returncode == 1 and "refused this device" in refused.stderr
    fresh_central.control("ok", target="catalog")
    done = cli(server, "sync", "now")
    assert done.returncode == 0, done.stderr
    assert "Applied catalog v1" in done.stdout
    status = menu_status(server)
    assert status["state"] == "ok" and status["stopped"] is False
    # The serving device pulls on its own again.
    fresh_central.set_catalog(catalog("v2"))
    wait_version(server, "v2")


def test_failures_back_off_and_honour_retry_after(
    fresh_central: CentralDev, device: DeviceFactory
) -> None:
    fresh_central.set_catalog(catalog())
    fresh_central.control("429", target="catalog", retry_after=60)
    server = device(fresh_central.url)
    status = wait_until(
        lambda: (s := menu_status(server))["state"] == "retrying" and s, 10, "the 429"
    )
    assert status["last_error"]["status"] == 429 and status["version"] is None
    seen = len(catalog_requests(fresh_central))
    time.sleep(2.5)
    assert len(catalog_requests(fresh_central)) == seen, "the device did not wait"
    fresh_central.control("500", target="catalog", times=2)
    assert cli(server, "menu", "pull").returncode == 1
    assert menu_status(server)["failures"] == 2
    # A forced pull ignores the backoff; success clears it.
    assert cli(server, "menu", "pull").returncode == 1
    assert cli(server, "menu", "pull").returncode == 0
    status = menu_status(server)
    assert status["state"] == "ok" and status["failures"] == 0


def test_the_uplink_down_for_a_while_then_one_pull_catches_up(
    tmp_path: Any, device: DeviceFactory
) -> None:
    central = CentralDev(tmp_path / "central", TOKEN).start()
    try:
        document = catalog()
        find(document, CEVICHE)["image_url"] = central.set_media("c.png", picture())
        central.set_catalog(document)
        server = device(central.url)
        wait_version(server, "v1")
        picture_url = items(server)[CEVICHE]["image_url"]
        central.stop()
        wait_until(lambda: menu_status(server)["state"] == "retrying", 10, "the outage noticed")
        # The log line follows the state's commit: wait for it rather than race it.
        wait_until(
            lambda: "cannot reach" in server.log() or "interrupted" in server.log(),
            5,
            "the outage logged",
        )
        # Offline: the last good catalog and its pictures are still served.
        assert items(server)[CEVICHE]["image_url"] == picture_url
        assert httpx.get(server.url + picture_url).status_code == 200
        central.start()
        central.set_catalog({**catalog("v2")})
        wait_version(server, "v2", timeout=15)
        assert [r["status"] for r in catalog_requests(central)].count(200) == 1
    finally:
        central.stop()
