"""The reference central's catalog, pictures and heartbeats, over real HTTP to a subprocess."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from sync.central.harness import CentralDev

TOKEN = "catalog-device-token-51c0"
DEVICE = {"Authorization": f"Bearer {TOKEN}"}
CATALOG = "/api/edge/v1/catalog"
HEARTBEAT = "/api/edge/v1/heartbeat"
DOCUMENT: dict[str, Any] = {
    "version": "v1",
    "branch": {"name": "Centro", "currency": "PEN", "tax_rate": 1800},
    "categories": [],
    "items": [],
    "modifier_groups": [],
}


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CentralDev]:
    server = CentralDev(tmp_path_factory.mktemp("central"), TOKEN).start()
    yield server
    server.stop()
    log = server.log()
    assert "Traceback" not in log and " ERROR " not in log, log


@pytest.fixture
def central(started: CentralDev) -> CentralDev:
    started.reset()
    return started


def get_catalog(central: CentralDev, **headers: str) -> httpx.Response:
    return httpx.get(central.url + CATALOG, headers={**DEVICE, **headers}, timeout=10)


def test_catalog_file_given_at_start_is_served(tmp_path: Path) -> None:
    start_file = tmp_path / "start.json"
    start_file.write_text(json.dumps({**DOCUMENT, "version": "from-file"}))
    server = CentralDev(tmp_path, TOKEN, catalog_file=start_file).start()
    try:
        answer = get_catalog(server)
        assert answer.status_code == 200
        assert answer.json()["data"]["version"] == "from-file"
    finally:
        server.stop()


def test_no_catalog_is_not_offered(central: CentralDev) -> None:
    answer = get_catalog(central)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "NOT_FOUND"


def test_catalog_etag_and_304(central: CentralDev) -> None:
    etag = central.set_catalog(DOCUMENT)
    answer = get_catalog(central)
    assert answer.status_code == 200
    assert answer.headers["etag"] == etag
    assert answer.json() == {"success": True, "data": DOCUMENT}

    again = get_catalog(central, **{"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert get_catalog(central, **{"If-None-Match": f'"other", W/{etag}'}).status_code == 304

    # The same bytes keep their ETag; a change gets a new one.
    assert central.set_catalog(DOCUMENT) == etag
    changed = central.set_catalog({**DOCUMENT, "version": "v2"})
    assert changed != etag
    fresh = get_catalog(central, **{"If-None-Match": etag})
    assert fresh.status_code == 200
    assert fresh.headers["etag"] == changed
    statuses = [e["status"] for e in central.stats()["endpoints"]["catalog"]]
    assert statuses == [200, 304, 304, 200]


def test_broken_catalog_is_served_as_set(central: CentralDev) -> None:
    central.set_catalog(b'{"version": "v1", "items": [')
    answer = get_catalog(central)
    assert answer.status_code == 200
    assert answer.content == b'{"success": true, "data": {"version": "v1", "items": [}'


def test_catalog_needs_the_device_token(central: CentralDev) -> None:
    central.set_catalog(DOCUMENT)
    for headers in ({}, {"Authorization": f"Bearer {central.admin_token}"}):
        answer = httpx.get(central.url + CATALOG, headers=headers)
        assert answer.status_code == 401


@pytest.mark.parametrize("mode", ["404", "501", "401", "403", "500"])
def test_catalog_status_faults(central: CentralDev, mode: str) -> None:
    central.set_catalog(DOCUMENT)
    central.control(mode, target="catalog", times=1)
    assert get_catalog(central).status_code == int(mode)
    assert get_catalog(central).status_code == 200
    # Uploads are not affected by a catalog fault.
    assert central.stats()["faults"]["sessions"]["mode"] == "ok"


def test_catalog_cut_mid_body(central: CentralDev) -> None:
    central.set_catalog({**DOCUMENT, "pad": "x" * 200_000})
    central.control("cut", target="catalog", times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        get_catalog(central)
    assert get_catalog(central).status_code == 200


def test_catalog_chunked_has_no_length(central: CentralDev) -> None:
    central.set_catalog(DOCUMENT)
    central.control("chunked", target="catalog", times=1)
    answer = get_catalog(central)
    assert answer.status_code == 200
    assert "content-length" not in answer.headers
    assert answer.headers["transfer-encoding"] == "chunked"
    assert answer.json()["data"] == DOCUMENT


def test_catalog_trickles(central: CentralDev) -> None:
    central.set_catalog(DOCUMENT)
    central.control("trickle", target="catalog", delay=0.6, chunks=3, times=1)
    started = time.monotonic()
    answer = get_catalog(central)
    assert time.monotonic() - started >= 0.5
    assert answer.json()["data"] == DOCUMENT


def test_catalog_fault_modes_are_checked(central: CentralDev) -> None:
    bad = [{"target": "catalog", "mode": "partial"}, {"target": "nope", "mode": "ok"}]
    bad.append({"target": "heartbeat", "mode": "cut"})
    for body in bad:
        answer = httpx.post(central.url + "/_control", json=body, headers=central.admin_headers)
        assert answer.status_code == 400, body


def test_media_served_publicly(central: CentralDev) -> None:
    url = central.set_media("dish.png", b"\x89PNG\r\n\x1a\nfake", "image/png")
    answer = httpx.get(url)
    assert answer.status_code == 200
    assert answer.content == b"\x89PNG\r\n\x1a\nfake"
    assert answer.headers["content-type"] == "image/png"
    assert httpx.get(url, headers={"If-None-Match": answer.headers["etag"]}).status_code == 304
    assert httpx.get(central.url + "/media/missing.png").status_code == 404
    central.control("cut", target="media", times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(url)


def heartbeat(central: CentralDev, **fields: Any) -> httpx.Response:
    body = {"deviceId": "dev-1", "branchSlug": "centro", "queue_depth": 3, **fields}
    return httpx.post(central.url + HEARTBEAT, json=body, headers=DEVICE)


def test_heartbeats_are_listed_per_device(central: CentralDev) -> None:
    now = time.time()
    answer = heartbeat(central, clock=iso(now), catalog_version="v1")
    assert answer.status_code == 200
    server_time = answer.json()["data"]["server_time"]
    assert server_time.endswith("Z")
    heartbeat(central, clock=iso(time.time() + 300), queue_depth=7)
    heartbeat(central, deviceId="dev-2", branchSlug="norte")
    devices = {d["deviceId"]: d for d in central.devices()}
    assert devices["dev-1"]["heartbeats"] == 2
    assert devices["dev-1"]["queueDepth"] == 7
    assert devices["dev-1"]["branchSlug"] == "centro"
    assert 295 <= devices["dev-1"]["clockSkewSeconds"] <= 305
    assert devices["dev-2"]["clockSkewSeconds"] is None


def test_central_clock_offset(central: CentralDev) -> None:
    central.set_clock_offset(-600)
    answer = heartbeat(central, clock=iso(time.time()))
    server = answer.json()["data"]["server_time"]
    offset = datetime.fromisoformat(server.replace("Z", "+00:00")).timestamp() - time.time()
    assert -605 <= offset <= -595
    assert 595 <= central.devices()[0]["clockSkewSeconds"] <= 605


def test_heartbeat_refusals(central: CentralDev) -> None:
    body = {"deviceId": "dev-1", "branchSlug": "centro"}
    assert httpx.post(central.url + HEARTBEAT, json=body).status_code == 401
    for bad in ({"branchSlug": "c"}, {**body, "clock": "yesterday"}, [1]):
        assert httpx.post(central.url + HEARTBEAT, json=bad, headers=DEVICE).status_code == 400
    central.control("501", target="heartbeat", times=1)
    assert heartbeat(central).status_code == 501
    assert central.devices() == []


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")
