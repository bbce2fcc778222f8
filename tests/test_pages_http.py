"""What the pages' HTTP answers promise without a browser: security headers, no inline code,
local hashed assets with long caching, HTML for people and JSON under /api/."""

from __future__ import annotations

import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from edge.pages import asset_url
from tests.conftest import SLUG, EdgeServer, auth

STATIC = Path(__file__).resolve().parents[1] / "edge" / "static"


class Markup(HTMLParser):
    """Collects what a strict CSP cares about: scripts, styles, inline handlers, asset URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline: list[str] = []
        self.assets: list[str] = []
        self.labels: set[str] = set()
        self.named: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            self.scripts.append(found)
        if tag == "style":
            self.inline.append("<style>")
        for name, _ in attrs:
            if name == "style" or name.startswith("on"):
                self.inline.append(f"<{tag} {name}>")
        for name in ("src", "href"):
            value = found.get(name)
            if value and not value.startswith("#"):
                self.assets.append(value)
        # The Socket.IO client, which the page's script loads when it first goes live.
        if tag == "meta" and found.get("name") == "restai-realtime-client" and found.get("content"):
            self.assets.append(str(found["content"]))
        if tag == "label" and found.get("for"):
            self.labels.add(str(found["for"]))
        if tag in {"input", "textarea"} and found.get("name"):
            self.named[str(found["name"])] = found.get("id")


def parse(answer: httpx.Response) -> Markup:
    markup = Markup()
    markup.feed(answer.text)
    return markup


def page_urls(server: EdgeServer) -> list[str]:
    return [
        f"{server.url}/staff",
        f"{server.url}/{SLUG}/{server.table_code()}",
        f"{server.url}/{SLUG}/codigo",
    ]


def test_pages_forbid_inline_code_and_foreign_hosts(server: EdgeServer) -> None:
    for url in page_urls(server):
        answer = httpx.get(url)
        assert answer.status_code == 200, url
        assert answer.headers["content-type"].startswith("text/html")
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "default-src 'none'" in policy
        assert "connect-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["cache-control"] == "no-cache"
        markup = parse(answer)
        assert markup.inline == [], f"{url} has inline code the CSP would block"
        assert all(script.get("src") for script in markup.scripts), f"{url}: inline <script>"
        assert all(asset.startswith("/") for asset in markup.assets), markup.assets
        assert '<html lang="es">' in answer.text


def test_form_fields_carry_labels_and_the_api_names(server: EdgeServer) -> None:
    diner = parse(httpx.get(f"{server.url}/{SLUG}/{server.table_code()}"))
    staff = parse(httpx.get(f"{server.url}/staff"))
    for markup, names in ((diner, ("customerName", "customerPhone")), (staff, ("pin",))):
        for name in names:
            assert markup.named[name] in markup.labels, f"{name} has no <label for>"


def test_assets_are_local_hashed_and_cached_for_good(server: EdgeServer) -> None:
    markup = parse(httpx.get(f"{server.url}/{SLUG}/{server.table_code()}"))
    assets = [url for url in markup.assets if url.startswith("/_assets/")]
    assert len(assets) >= 5, assets
    for url in assets:
        answer = httpx.get(server.url + url)
        assert answer.status_code == 200, url
        assert re.search(r"\?v=[0-9a-f]{12}$", url), url
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert answer.headers["x-content-type-options"] == "nosniff"
    unversioned = httpx.get(f"{server.url}/_assets/js/diner.js")
    assert unversioned.headers["cache-control"] == "no-cache"
    again = httpx.get(
        f"{server.url}/_assets/js/diner.js",
        headers={"If-Modified-Since": unversioned.headers["last-modified"]},
    )
    assert again.status_code == 304


def test_asset_urls_follow_the_file_content() -> None:
    digest = re.search(r"v=([0-9a-f]{12})", asset_url("js/common.js"))
    assert digest is not None
    expected = hashlib.sha256((STATIC / "js" / "common.js").read_bytes()).hexdigest()[:12]
    assert digest.group(1) == expected


@pytest.mark.parametrize("path", ["/_assets/../pages.py", "/_assets/%2e%2e/pages.py"])
def test_assets_stay_inside_the_static_folder(server: EdgeServer, path: str) -> None:
    answer = httpx.get(server.url + path)
    assert answer.status_code == 404
    assert "bp = Blueprint" not in answer.text


def test_our_scripts_and_styles_name_no_other_host() -> None:
    own = [*STATIC.glob("js/*.js"), *STATIC.glob("css/*.css"), *STATIC.glob("img/*.svg")]
    assert len(own) >= 4
    for path in own:
        # An SVG's namespace is a name, not a request.
        text = path.read_text(encoding="utf-8").replace('xmlns="http://www.w3.org/2000/svg"', "")
        hosts = re.findall(r"(?:https?:|wss?:)?//[a-z0-9.-]+\.[a-z]{2,}", text)
        assert hosts == [], f"{path.name} names {hosts}"
        assert "innerHTML" not in text and "insertAdjacentHTML" not in text, path.name


def test_unknown_tables_and_branches_get_a_page_for_people(server: EdgeServer) -> None:
    table = httpx.get(f"{server.url}/{SLUG}/{SLUG}-99999")
    assert table.status_code == 404
    assert table.headers["content-type"].startswith("text/html")
    assert "Esta mesa no existe" in table.text
    assert f'href="/{SLUG}/codigo"' in table.text
    branch = httpx.get(f"{server.url}/otra-sucursal/otra-sucursal-1")
    assert branch.status_code == 404
    assert "Este restaurante no existe" in branch.text
    assert "content-security-policy" in branch.headers


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
@pytest.mark.parametrize("path", ["/api/nothing", "/api/codigo", "/api/codigo/ABCDE"])
def test_api_paths_keep_their_json_envelope(server: EdgeServer, method: str, path: str) -> None:
    answer = httpx.request(method, server.url + path)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "NOT_FOUND"


def test_known_paths_still_refuse_other_methods(server: EdgeServer) -> None:
    for path in ("/api/tables", "/staff", f"/{SLUG}/{SLUG}-1", f"/{SLUG}/codigo"):
        answer = httpx.post(server.url + path)
        assert answer.status_code == 405, path
        assert answer.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


def test_short_codes_redirect_to_the_table(server: EdgeServer, manager_token: str) -> None:
    code = server.table_code()
    tables = httpx.get(f"{server.url}/api/tables", headers=auth(manager_token)).json()["data"]
    short = next(table["short_code"] for table in tables if table["code"] == code)
    direct = httpx.get(f"{server.url}/{SLUG}/codigo/{short.lower()}")
    assert direct.status_code == 302
    assert direct.headers["location"] == f"/{SLUG}/{code}"
    typed = httpx.get(f"{server.url}/{SLUG}/codigo", params={"code": f" {short[:2]}-{short[2:]} "})
    assert typed.status_code == 303
    assert typed.headers["location"] == f"/{SLUG}/{code}"
    for wrong in ("ZZZZZ", "<script>", "x" * 40):
        answer = httpx.get(f"{server.url}/{SLUG}/codigo", params={"code": wrong})
        assert answer.status_code == 404
        assert "No encontramos una mesa" in answer.text
        assert "<script>" not in answer.text.split("</head>")[1]
    unknown = httpx.get(f"{server.url}/{SLUG}/codigo/ZZZZZ")
    assert unknown.status_code == 404 and "No encontramos una mesa" in unknown.text
