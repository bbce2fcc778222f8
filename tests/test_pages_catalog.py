"""The central's catalog reaching open pages in a real Chromium: a price change, a new dish with
a picture and a sold-out dish show up on the diner's and the staff's pages without a reload, the
pictures come from the device, and no request leaves it. The staff page shows a device clock that
is off the central's."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from sync.central.harness import CentralDev
from tests.catalog_docs import CAUSA, CEVICHE, MAINS, catalog, find, item, new_id, picture
from tests.conftest import SLUG, EdgeServer, approve, provision_device
from tests.pages_browser import PHONE, TABLET, Opener, join, menu_item, screenshot, staff_login

TOKEN = "pages-catalog-device-token-77a2"


@pytest.fixture
def central(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CentralDev]:
    server = CentralDev(tmp_path_factory.mktemp("central"), TOKEN).start()
    yield server
    server.stop()


@pytest.fixture
def device(central: CentralDev, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeServer]:
    data_dir = tmp_path_factory.mktemp("device") / "data"
    provision_device(data_dir, 5, central_url=central.url, device_token=TOKEN)
    env = {"RESTAI_EDGE_CATALOG_INTERVAL": "1", "RESTAI_EDGE_SYNC_INTERVAL": "1"}
    server = EdgeServer(data_dir, env)
    yield server
    server.stop()
    server.assert_clean_log()


def test_a_central_change_reaches_open_pages_without_a_reload(
    central: CentralDev, device: EdgeServer, open_page: Opener
) -> None:
    document = catalog("v1")
    find(document, CEVICHE)["image_url"] = central.set_media("ceviche.png", picture("PNG"))
    central.set_catalog(document)
    device.start()

    diner = open_page(device, PHONE)
    code = f"{SLUG}-3"
    join(diner, device, code, "Lucía Quispe")
    expect(diner.get_by_role("heading", name="Esperando aprobación")).to_be_visible()
    session_id = diner.evaluate(f"JSON.parse(localStorage['restai:visit:{code}']).sessionId")
    assert approve(device, device.staff_token(), session_id).status_code == 200
    ceviche = menu_item(diner, "Ceviche clásico")
    expect(ceviche).to_contain_text("S/ 38.00", timeout=5000)
    expect(ceviche.locator("img")).to_have_attribute("src", "/_media/" + media_file(device, ".png"))

    staff = open_page(device, TABLET)
    staff_login(staff, device)
    staff.get_by_role("tab", name="Carta").click()
    staff_ceviche = staff.locator("#menu-admin li", has_text="Ceviche clásico")
    expect(staff_ceviche).to_contain_text("S/ 38.00")
    for page in (diner, staff):
        page.evaluate("window.__sameDocument = true")

    # The manager edits the menu on the central.
    changed = catalog("v2")
    find(changed, CEVICHE)["image_url"] = find(document, CEVICHE)["image_url"]
    find(changed, CEVICHE)["price"] = 3950
    find(changed, CAUSA)["is_available"] = False
    tiradito = item(new_id(), MAINS, "Tiradito nikkei", 4100, sort_order=5)
    tiradito["image_url"] = central.set_media("tiradito.jpg", picture("JPEG", (240, 120, 0)))
    changed["items"].append(tiradito)
    central.set_catalog(changed)

    # One catalog interval (1 s here) and the realtime event: no reload, no polling wait.
    expect(ceviche).to_contain_text("S/ 39.50", timeout=8000)
    expect(menu_item(diner, "Causa limeña").get_by_text("Agotado")).to_be_visible()
    new_dish = menu_item(diner, "Tiradito nikkei")
    expect(new_dish).to_contain_text("S/ 41.00")
    expect(new_dish.locator("img")).to_have_attribute(
        "src", "/_media/" + media_file(device, ".jpg")
    )
    expect(staff_ceviche).to_contain_text("S/ 39.50", timeout=8000)
    expect(staff.locator("#menu-admin li", has_text="Tiradito nikkei")).to_be_visible()
    for page in (diner, staff):
        assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"
    # The picture the phone shows came from the device (the watch fails any other request).
    assert diner.evaluate(
        "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
    )
    screenshot(diner, "diner-menu-from-central-phone", PHONE)

    # The central's clock is ten minutes ahead: the device's is behind, and staff are told.
    central.set_clock_offset(600)
    banner = staff.locator("#clock-banner")
    expect(banner).to_contain_text("10 minutos atrasado", timeout=20000)
    screenshot(staff, "staff-clock-skew-tablet", TABLET)
    assert re.search(r"clock is (59\d|60\d) s behind the central's", device.log())


def media_file(device: EdgeServer, suffix: str) -> str:
    """The one picture of that type the device keeps."""
    files = [p.name for p in (device.data_dir / "images").iterdir() if p.suffix == suffix]
    assert len(files) == 1, files
    return files[0]
