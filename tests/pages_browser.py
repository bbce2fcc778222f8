"""What the page tests share: Debian's Chromium driven by Playwright, contexts that must never
leave the device, the test menu, axe-core, and helpers that find things on the pages.

Loaded into every test module by `pytest_plugins` in conftest.py, so its fixtures (`browser`,
`open_page`, `menu_server`) are there for any module that asks for them."""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import (
    APIResponse,
    Browser,
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    Playwright,
    Request,
    Response,
    Route,
    ViewportSize,
    WebSocket,
    expect,
    sync_playwright,
)

from tests.conftest import MANAGER_PIN, SLUG, EdgeServer, auth

CHROMIUM = Path("/usr/bin/chromium")
# axe-core from the npm registry, pinned with its checksum in tests/browser/package-lock.json and
# installed by `make browser-tools` (part of `make test`); injected from disk, never fetched.
AXE = Path(__file__).resolve().parent / "browser" / "node_modules" / "axe-core" / "axe.min.js"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE: ViewportSize = {"width": 390, "height": 844}
TABLET: ViewportSize = {"width": 1024, "height": 768}
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
# Realtime answers in well under a second; the polling fallback needs up to 5 s.
LIVE_MS = 5000
# How long the pages wait for an API answer before giving up (common.js).
API_TIMEOUT_MS = 20000
POLL_MS = 9000

MENU = {
    "currency": "PEN",
    "taxRate": 1800,
    "categories": [
        {
            "name": "Entradas",
            "items": [
                {
                    "name": "Ceviche clasico",
                    "description": "Pescado del dia en leche de tigre, camote y choclo",
                    "price": 3800,
                },
                {
                    "name": "Causa limena",
                    "description": "Papa amarilla con aji, rellena de pollo y palta",
                    "price": 2200,
                },
            ],
        },
        {
            "name": "Platos de fondo",
            "items": [
                {
                    "name": "Lomo saltado",
                    "description": "Lomo fino al wok con cebolla, tomate, papas fritas y arroz",
                    "price": 4200,
                },
                {
                    "name": "Aji de gallina",
                    "description": "En crema de aji amarillo, con arroz y huevo",
                    "price": 3200,
                    "available": False,
                },
            ],
        },
        {
            "name": "Bebidas",
            "items": [
                {"name": "Chicha morada", "description": "Hecha en casa", "price": 900},
                {"name": "Inca Kola", "description": "Botella de 500 ml", "price": 600},
            ],
        },
    ],
}


def cli(data_dir: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "provisioning", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists() and not os.environ.get("CI"):
        pytest.skip("Debian's Chromium is not installed (CI must have it)")
    playwright: Playwright
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def menu_server(server: EdgeServer, tmp_path_factory: pytest.TempPathFactory) -> EdgeServer:
    """The module's shared device with the test menu loaded through the CLI."""
    path = tmp_path_factory.mktemp("menu") / "menu.json"
    path.write_text(json.dumps(MENU), encoding="utf-8")
    cli(server.data_dir, "menu", "import", str(path))
    return server


@dataclass
class Watch:
    """What a browser context did that it must not: leave the device, throw, break CSP."""

    origin: str
    foreign: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def leave(self, route: Route, request: Request) -> None:
        self.foreign.append(request.url)
        route.abort()

    def is_local(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme in {"data", "blob", "about"}:
            return True
        return f"{parts.hostname}:{parts.port}" == self.origin

    def websocket(self, socket: WebSocket) -> None:
        if not self.is_local(socket.url):
            self.foreign.append(socket.url)

    def console(self, message: ConsoleMessage) -> None:
        # The browser logs every non-2xx fetch; those answers are part of the flows under test.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(f"console: {message.text}")

    def response(self, response: Response) -> None:
        if "/_assets/" in response.url and response.status >= 400:
            self.problems.append(f"asset {response.url} answered {response.status}")


Opener = Callable[..., Page]


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Opener]:
    """`open_page(server, size, beeps=False, realtime=True)`: a page in a fresh context (its
    own storage); `realtime=False` cuts Socket.IO off, as a hostile Wi-Fi or proxy would."""
    contexts: list[tuple[BrowserContext, Watch]] = []

    def open_(
        server: EdgeServer, size: ViewportSize, beeps: bool = False, realtime: bool = True
    ) -> Page:
        watch = Watch(f"127.0.0.1:{server.port}")
        context = browser.new_context(
            viewport=size,
            device_scale_factor=2 if size == PHONE else 1,
            is_mobile=size == PHONE,
            has_touch=size == PHONE,
            locale="es-PE",
        )
        # Only what must be stopped is routed, by patterns the browser's driver matches on its
        # own: a routed request waits for this test's thread to handle it, which a sync
        # Playwright client does only inside a Playwright call. Routing everything held each
        # request a page made while the test waited on anything else (a printer, an HTTP call):
        # a reprint's POST sat 35 s until the test's teardown. (WebSockets are never routed;
        # `Watch.websocket` records a foreign one.)
        port = server.port
        context.route(re.compile(rf"^https?://(?!127\.0\.0\.1:{port}/)"), watch.leave)
        if not realtime:
            context.route(re.compile(r"/socket\.io/"), lambda route: route.abort())
        if beeps:
            # Count the oscillators the page starts: each beep is one or more.
            context.add_init_script(
                "window.__beeps = 0; const make = AudioContext.prototype.createOscillator;"
                "AudioContext.prototype.createOscillator = function () {"
                " window.__beeps += 1; return make.call(this); };"
            )
        page = context.new_page()
        page.on("websocket", watch.websocket)
        page.on("console", watch.console)
        page.on("pageerror", lambda error: watch.problems.append(f"page error: {error}"))
        page.on("response", watch.response)
        contexts.append((context, watch))
        return page

    yield open_
    for context, watch in contexts:
        # Requests still in flight (a long poll) are dropped with the context, not continued.
        context.unroute_all(behavior="ignoreErrors")
        context.close()
        assert watch.foreign == [], f"requests left the device: {watch.foreign}"
        assert watch.problems == [], watch.problems


def screenshot(page: Page, name: str, size: ViewportSize | None = None) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if size is not None:
        page.set_viewport_size(size)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), animations="disabled")


def screenshot_both(page: Page, name: str, current: ViewportSize) -> None:
    """The page at phone and tablet size, back to where it was; axe-core checks it there."""
    screenshot(page, f"{name}-phone", PHONE)
    screenshot(page, f"{name}-tablet", TABLET)
    page.set_viewport_size(current)
    assert_accessible(page, name)


def table_number(code: str) -> int:
    return int(code.rsplit("-", 1)[1])


def diner_url(server: EdgeServer, code: str, scanned: bool = True) -> str:
    """The diner page as the table's QR code opens it (with the table's key), or as a diner who
    typed the address or the short code reaches it (no key)."""
    url = f"{server.url}/{SLUG}/{code}"
    return f"{url}?k={server.table_key(code)}" if scanned else url


def join(page: Page, server: EdgeServer, code: str, name: str, phone: str = "") -> None:
    page.goto(diner_url(server, code))
    page.get_by_label("Tu nombre").fill(name)
    if phone:
        page.get_by_label("Teléfono").fill(phone)
    page.get_by_role("button", name="Unirme a la mesa").click()


def staff_login(
    page: Page, server: EdgeServer, pin: str = MANAGER_PIN, state: str = "En vivo"
) -> None:
    page.goto(f"{server.url}/staff")
    page.get_by_label("PIN").fill(pin)
    page.get_by_role("button", name="Entrar").click()
    expect(page.locator("#live-state")).to_have_text(state, timeout=LIVE_MS)


def request_card(staff: Page, number: int) -> Locator:
    return staff.locator(".requests-panel li", has_text=f"Mesa {number}")


def menu_item(page: Page, name: str) -> Locator:
    return page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=name))


def board_card(staff: Page, number: int) -> Locator:
    return staff.locator("#orders-board .order-card", has_text=f"Mesa {number}")


def table_card(staff: Page, number: int) -> Locator:
    return staff.locator(f"button.table-card[data-table-number='{number}']")


def place_order(server: EdgeServer, token: str, code: str) -> dict[str, Any]:
    """One of the menu's first dish, ordered through the API by the diner holding `token`."""
    item = httpx.get(server.customer_url(code, "menu")).json()["data"]["items"][0]
    placed = httpx.post(
        f"{server.url}/api/customer/orders",
        json={"items": [{"menuItemId": item["id"], "quantity": 1}]},
        headers=auth(token),
    )
    assert placed.status_code == 201, placed.text
    return dict(placed.json()["data"])


class LateAnswer:
    """The page's first request to `pattern`, answered by the device at once and handed to the
    page only on `release()`: an answer overtaken by newer ones, as on a busy device when two
    loads of the same thing are in flight. Later requests go through."""

    def __init__(self, page: Page, pattern: str) -> None:
        self.page = page
        self.pattern = re.compile(pattern)
        self.answer: APIResponse | None = None
        self._route: Route | None = None
        self._passed: list[Request] = []
        self._finished = 0
        page.route(self.pattern, self._hold)
        page.on("requestfinished", self._count)

    def _hold(self, route: Route) -> None:
        if self._route is not None:
            self._passed.append(route.request)
            route.continue_()
            return
        self.answer = route.fetch()
        self._route = route

    def _count(self, request: Request) -> None:
        if request in self._passed:
            self._finished += 1

    def _within(self, ms: int, done: Callable[[], bool]) -> bool:
        # Route and request handlers run only while this thread is in a Playwright call.
        for _ in range(ms // 50):
            if done():
                return True
            self.page.wait_for_timeout(50)
        return done()

    def held(self) -> APIResponse:
        """The held answer, once the page has asked."""
        if not self._within(5000, lambda: self.answer is not None):
            raise AssertionError(f"the page made no request matching {self.pattern.pattern}")
        assert self.answer is not None
        return self.answer

    def let_newer_arrive(self) -> None:
        """Give a later request time to be answered first (a page that holds it back until the
        first is answered makes none)."""
        self._within(2000, lambda: self._finished > 0)

    def release(self) -> None:
        assert self._route is not None and self.answer is not None
        with self.page.expect_response(self.pattern):
            self._route.fulfill(response=self.answer)
        # The page's handler of that answer runs before anyone looks.
        self.page.evaluate("() => new Promise((done) => setTimeout(done, 200))")


# ---- accessibility and keyboard focus ----


@functools.cache
def axe_source() -> str:
    if not AXE.exists():
        pytest.fail(
            f"axe-core is missing ({AXE}): run `make browser-tools` (npm ci in tests/browser)"
        )
    return AXE.read_text(encoding="utf-8")


def assert_accessible(page: Page, state: str) -> None:
    """axe-core finds no violation in the page as it is now (`state` names it in the failure).

    The script goes in through the DevTools protocol, which the pages' CSP does not govern, so
    the page under test stays exactly as served."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(axe_source() + "\n;0")
    violations = page.evaluate(
        """async () => {
          const result = await axe.run(document, { resultTypes: ["violations"] });
          return result.violations.map((v) => ({
            id: v.id,
            help: v.help,
            nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ") + " — " + n.failureSummary),
          }));
        }"""
    )
    report = "\n".join(
        f"  {v['id']}: {v['help']}\n" + "\n".join(f"    {node}" for node in v["nodes"])
        for v in violations
    )
    assert not violations, f"axe-core, {state}:\n{report}"


def remember_focus(page: Page) -> None:
    page.evaluate("() => { window.__focused = document.activeElement; }")


def focus_unchanged(page: Page) -> bool:
    """The element focused at `remember_focus` is still on the page and still focused."""
    return bool(
        page.evaluate(
            "() => document.activeElement === window.__focused"
            " && document.documentElement.contains(window.__focused)"
        )
    )


def focused_description(page: Page) -> str:
    return str(
        page.evaluate(
            """() => {
              const el = document.activeElement;
              if (!el || el === document.body) return "<body>";
              const card = el.closest("[data-key]");
              return el.tagName.toLowerCase() + " '" + (el.textContent || "").trim() + "'"
                + (card ? " in " + (card.textContent || "").trim().slice(0, 40) : "");
            }"""
        )
    )
