"""What a keyboard user and a person with large text see: a focused control is never under a
fixed bar (WCAG 2.4.11), fixed bars leave most of a small screen to the content, amounts do not
wrap or get cut, the skip link stays clear of the header, and fields show focus at 3:1 or more
(WCAG 1.4.11)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, ViewportSize, expect

from tests.conftest import SLUG, EdgeServer, approve
from tests.pages_browser import (
    LIVE_MS,
    PHONE,
    TABLET,
    Opener,
    assert_accessible,
    join,
    menu_item,
    screenshot,
)

SMALL_PHONE: ViewportSize = {"width": 320, "height": 568}
# Share of the screen fixed and sticky bars may take while the menu scrolls under them.
MAX_BARS_SHARE = 0.35

# For the focused element: the points of its box where something else is on top.
OBSCURED = """() => {
  const el = document.activeElement;
  const box = el.getBoundingClientRect();
  // The middle of each edge, just inside (corners may be rounded off), and the centre.
  const inset = 2, x = (box.left + box.right) / 2, y = (box.top + box.bottom) / 2;
  const points = [
    [x, box.top + inset], [x, box.bottom - inset], [box.left + inset, y],
    [box.right - inset, y], [x, y],
  ];
  const name = (node) => node ? (node.id ? "#" + node.id : node.tagName.toLowerCase()
      + (node.className ? "." + String(node.className).split(" ").join(".") : "")) : "nothing";
  const problems = [];
  for (const [x, y] of points) {
    if (x < 0 || y < 0 || x > innerWidth || y > innerHeight) {
      problems.push("off screen at " + Math.round(x) + "," + Math.round(y));
      continue;
    }
    const top = document.elementFromPoint(x, y);
    if (!top || !(top === el || el.contains(top))) {
      const bar = top && top.closest(".cart-bar, .topbar, .category-nav");
      problems.push("under " + name(bar || top) + " at " + Math.round(x) + "," + Math.round(y));
    }
  }
  const text = (el.getAttribute("aria-label") || el.textContent || "").trim().replace(/\\s+/g, " ");
  const item = el.closest("[data-key]");
  const label = name(el) + " '" + text.slice(0, 30) + "'"
    + (item ? " of " + item.getAttribute("data-key") : "");
  return { label, problems };
}"""

# The height fixed and sticky elements take at the screen's edges right now.
BARS_HEIGHT = """() => {
  let covered = 0;
  for (const el of document.querySelectorAll("body *")) {
    const style = getComputedStyle(el);
    if (style.position !== "fixed" && style.position !== "sticky") continue;
    if (el.closest("dialog") || style.visibility === "hidden") continue;
    const box = el.getBoundingClientRect();
    if (!box.height) continue;
    // A sticky element counts only while it is stuck at an edge.
    const stuck = style.position === "fixed"
      || Math.abs(box.top - parseFloat(style.top || "0")) < 1;
    if (stuck) covered += Math.max(0, Math.min(box.bottom, innerHeight) - Math.max(box.top, 0));
  }
  return covered;
}"""


def larger_text(page: Page, scale: float = 2.0) -> None:
    """The browser's own text size setting (what "200% text" is on a phone), which also moves
    media queries written in em."""
    session = page.context.new_cdp_session(page)
    session.send("Page.setFontSizes", {"fontSizes": {"standard": round(16 * scale), "fixed": 13}})


def tab_through(page: Page, backwards: bool = False, limit: int = 60) -> list[str]:
    """Tabs through the whole page from its start (or end); returns what was under a bar."""
    page.evaluate(
        "(end) => window.scrollTo(0, end ? document.documentElement.scrollHeight : 0)", backwards
    )
    # From the first control (the skip link), or the last one (the cart bar's button).
    page.locator("#cart-open" if backwards else ".skip-link").focus()
    failures: list[str] = []
    seen: set[str] = set()
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        if page.evaluate("() => document.activeElement === document.body"):
            break
        where = page.evaluate(OBSCURED)
        if where["label"] in seen:
            break
        seen.add(where["label"])
        if where["problems"]:
            failures.append(f"{where['label']}: {', '.join(where['problems'])}")
    assert len(seen) > 5, f"the keyboard reached only {seen}"
    return failures


@pytest.fixture
def diner_with_cart(
    menu_server: EdgeServer, open_page: Opener, manager_token: str
) -> Iterator[Page]:
    """A diner in the menu with three dishes in the cart, so the cart bar is up."""
    server = menu_server
    code = server.table_code()
    diner = open_page(server, PHONE)
    join(diner, server, code, "Gloria Huaman")
    expect(diner.get_by_role("heading", name="Esperando aprobación")).to_be_visible()
    session_id = httpx.get(server.customer_url(code, "check-session")).json()["data"]["sessionId"]
    assert approve(server, manager_token, session_id).status_code == 200
    expect(diner.get_by_role("heading", name="La carta")).to_be_visible(timeout=LIVE_MS)
    for name in ("Lomo saltado", "Lomo saltado", "Chicha morada"):
        menu_item(diner, name).get_by_role("button", name="Agregar").click()
    expect(diner.locator("#cart-bar")).to_be_visible()
    yield diner


@pytest.mark.parametrize(
    ("size", "scale"), [(PHONE, 1.0), (SMALL_PHONE, 2.0)], ids=["390px", "320px-200pct-text"]
)
def test_the_focused_control_is_never_under_a_bar(
    diner_with_cart: Page, size: ViewportSize, scale: float
) -> None:
    diner = diner_with_cart
    diner.set_viewport_size(size)
    if scale != 1.0:
        larger_text(diner, scale)
    forwards = tab_through(diner)
    backwards = tab_through(diner, backwards=True)
    name = "390" if scale == 1.0 else "320-text200"
    screenshot(diner, f"diner-menu-focus-{name}")
    assert not forwards + backwards, "\n".join(forwards + backwards)


def test_bars_leave_most_of_a_small_screen_with_large_text(diner_with_cart: Page) -> None:
    diner = diner_with_cart
    diner.set_viewport_size(SMALL_PHONE)
    larger_text(diner)
    # The chips must be reachable where the menu starts.
    diner.evaluate("() => window.scrollTo(0, 0)")
    chip = diner.locator("#category-nav a").first
    chip.focus()
    where = diner.evaluate(OBSCURED)
    assert not where["problems"], f"{where['label']}: {where['problems']}"
    # Halfway down the menu: what is left between the bars.
    diner.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight / 2)")
    diner.evaluate("() => document.activeElement.blur()")
    height = SMALL_PHONE["height"]
    covered = diner.evaluate(BARS_HEIGHT)
    screenshot(diner, "diner-menu-320-text200")
    assert_accessible(diner, "diner menu, 320 px, 200% text")
    assert covered <= height * MAX_BARS_SHARE, (
        f"bars take {covered:.0f} of {height} px; the menu gets {1 - covered / height:.0%}"
    )


AMOUNTS = """() => [...document.querySelectorAll("#cart .totals dd, #cart .amount")].map((el) => {
  const box = el.getBoundingClientRect();
  const sheet = document.getElementById("cart").getBoundingClientRect();
  const line = parseFloat(getComputedStyle(el).lineHeight) || 20;
  return {
    text: el.textContent,
    lines: Math.round(box.height / line),
    clipped: box.right > sheet.right - 1 || box.left < sheet.left + 1
      || el.scrollWidth > el.clientWidth + 1,
    sticksOut: document.documentElement.scrollWidth > innerWidth,
  };
})"""


@pytest.mark.parametrize("scale", [1.0, 2.0], ids=["text100", "text200"])
def test_cart_amounts_stay_on_one_line_and_inside(diner_with_cart: Page, scale: float) -> None:
    diner = diner_with_cart
    diner.set_viewport_size(SMALL_PHONE)
    if scale != 1.0:
        larger_text(diner, scale)
    diner.get_by_role("button", name="Ver pedido").click()
    expect(diner.get_by_role("dialog", name="Tu pedido")).to_be_visible()
    amounts = diner.evaluate(AMOUNTS)
    screenshot(diner, f"diner-cart-320-text{int(scale * 100)}")
    assert_accessible(diner, f"diner cart, 320 px, {scale:.0%} text")
    assert len(amounts) >= 5, amounts
    bad = [a for a in amounts if a["lines"] != 1 or a["clipped"] or a["sticksOut"]]
    assert not bad, bad


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


@pytest.mark.parametrize("scale", [1.0, 2.0], ids=["text100", "text200"])
def test_the_skip_link_shows_clear_of_the_header(
    menu_server: EdgeServer, open_page: Opener, scale: float
) -> None:
    diner = open_page(menu_server, PHONE)
    diner.set_viewport_size(SMALL_PHONE)
    if scale != 1.0:
        larger_text(diner, scale)
    diner.goto(f"{menu_server.url}/{SLUG}/{menu_server.table_code()}")
    expect(diner.get_by_role("button", name="Unirme a la mesa")).to_be_visible()
    # The page has put focus on its heading; the skip link is one step back.
    diner.keyboard.press("Shift+Tab")
    skip = diner.get_by_role("link", name="Saltar al contenido")
    expect(skip).to_be_focused()
    link = skip.bounding_box()
    header = diner.locator("header.topbar").bounding_box()
    assert link and header and link["y"] >= 0 and link["height"] > 0
    assert not overlap(link, header), f"skip link {link} over the header {header}"
    diner.keyboard.press("Enter")
    expect(diner.locator("#main")).to_be_focused()


# ---- focus indicators of fields: 3:1 against what surrounds them ----

COLOURS = """(selector) => {
  const el = document.querySelector(selector);
  const style = getComputedStyle(el);
  let node = el.parentElement, surface = "rgb(255, 255, 255)";
  while (node) {
    const bg = getComputedStyle(node).backgroundColor;
    if (bg && bg !== "transparent" && !bg.endsWith(", 0)")) { surface = bg; break; }
    node = node.parentElement;
  }
  return {
    border: style.borderTopColor, borderWidth: parseFloat(style.borderTopWidth),
    outline: style.outlineColor, outlineWidth: parseFloat(style.outlineWidth),
    outlineStyle: style.outlineStyle, surface, inside: style.backgroundColor,
  };
}"""


def rgb(colour: str) -> tuple[float, float, float, float]:
    parts = [float(p) for p in re.findall(r"[\d.]+", colour)]
    return (parts[0], parts[1], parts[2], parts[3] if len(parts) > 3 else 1.0)


def over(colour: str, surface: str) -> tuple[float, float, float]:
    *channels, alpha = rgb(colour)
    below = rgb(surface)
    r, g, b = (c * alpha + under * (1 - alpha) for c, under in zip(channels, below, strict=False))
    return (r, g, b)


def contrast(colour: str, surface: str) -> float:
    def luminance(channels: tuple[float, float, float]) -> float:
        linear = [
            c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
            for c in (x / 255 for x in channels)
        ]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    one, two = luminance(over(colour, surface)), luminance(over(surface, surface))
    return (max(one, two) + 0.05) / (min(one, two) + 0.05)


def check_field(page: Page, selector: str) -> list[str]:
    """The field's resting border and its focus ring, each at 3:1 or more against the surface
    around it."""
    problems = []
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    rest = page.evaluate(COLOURS, selector)
    border = contrast(rest["border"], rest["surface"])
    if border < 3:
        problems.append(f"{selector} border {rest['border']} is {border:.2f}:1")
    page.locator(selector).focus()
    focused = page.evaluate(COLOURS, selector)
    ring = contrast(focused["outline"], focused["surface"])
    if focused["outlineStyle"] == "none" or focused["outlineWidth"] < 2 or ring < 3:
        problems.append(
            f"{selector} focus ring {focused['outlineWidth']}px {focused['outlineStyle']} "
            f"{focused['outline']} is {ring:.2f}:1"
        )
    return problems


def test_fields_show_focus_at_three_to_one(
    menu_server: EdgeServer, open_page: Opener, diner_with_cart: Page
) -> None:
    server = menu_server
    problems: list[str] = []
    staff = open_page(server, TABLET)
    staff.goto(f"{server.url}/staff")
    problems += check_field(staff, "#pin")
    staff.goto(f"{server.url}/{SLUG}/codigo")
    problems += check_field(staff, "#code")
    staff.goto(f"{server.url}/{SLUG}/{server.table_code()}")
    expect(staff.get_by_role("button", name="Unirme a la mesa")).to_be_visible()
    problems += check_field(staff, "#customerName")
    problems += check_field(staff, "#customerPhone")
    diner_with_cart.get_by_role("button", name="Ver pedido").click()
    problems += check_field(diner_with_cart, "#order-notes")
    assert not problems, "\n".join(problems)
