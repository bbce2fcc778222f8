"""What the pages' HTTP answers promise without a browser: security headers, no inline code,
local hashed assets with long caching, HTML for people and JSON under /api/."""

from __future__ import annotations

import gzip
import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import brotli
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


def main_assets(server: EdgeServer) -> list[str]:
    """Everything the diner and staff pages load, the lazily loaded realtime client included."""
    urls: list[str] = []
    for page in (f"{server.url}/{SLUG}/{server.table_code()}", f"{server.url}/staff"):
        urls += [url for url in parse(httpx.get(page)).assets if url.startswith("/_assets/")]
    return sorted(set(urls))


def raw_get(url: str, accept: str) -> tuple[httpx.Headers, bytes]:
    """An answer's headers and its body as sent (httpx would decompress it)."""
    with httpx.stream("GET", url, headers={"Accept-Encoding": accept}) as answer:
        return answer.headers, b"".join(answer.iter_raw())


def test_main_assets_arrive_compressed_when_asked(server: EdgeServer) -> None:
    urls = main_assets(server)
    assert any("socket.io" in url for url in urls) and any("app.css" in url for url in urls)
    sizes = {"identity": 0, "gzip": 0, "br": 0}
    for url in urls:
        plain, body = raw_get(server.url + url, "identity")
        assert "content-encoding" not in plain, url
        assert plain["vary"] == "Accept-Encoding", url
        sizes["identity"] += len(body)
        if len(body) < 1024:
            continue  # the icon: compressing it would not pay for the header
        for encoding in ("gzip", "br"):
            packed, sent = raw_get(server.url + url, f"{encoding}, identity;q=0.5")
            assert packed.get("content-encoding") == encoding, (url, encoding)
            assert packed["vary"] == "Accept-Encoding"
            assert packed["cache-control"] == "public, max-age=31536000, immutable"
            assert packed["etag"] != plain["etag"]
            assert int(packed["content-length"]) == len(sent)
            unpacked = gzip.decompress(sent) if encoding == "gzip" else brotli.decompress(sent)
            assert unpacked == body, f"{url} decompresses to something else"
            sizes[encoding] += len(sent)
    # The figure: about 75 of 110 KiB could be saved.
    assert sizes["gzip"] < sizes["identity"] * 0.4, sizes
    assert sizes["br"] < sizes["gzip"], sizes


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("gzip, deflate", "gzip"),
        ("gzip, deflate, br, zstd", "br"),
        ("br;q=0, gzip", "gzip"),
        ("gzip;q=0.5, br;q=0.2", "gzip"),
        ("*", "br"),
        ("identity", None),
        ("gzip;q=0, br;q=0", None),
        ("", None),
    ],
)
def test_the_encoding_follows_accept_encoding(
    server: EdgeServer, accept: str, expected: str | None
) -> None:
    headers, _ = raw_get(server.url + asset_url("js/common.js"), accept)
    assert headers.get("content-encoding") == expected


def test_pages_are_compressed_too(server: EdgeServer) -> None:
    for url in page_urls(server):
        headers, body = raw_get(url, "gzip")
        assert headers.get("content-encoding") == "gzip", url
        assert headers["vary"] == "Accept-Encoding"
        text = gzip.decompress(body).decode()
        assert text == httpx.get(url, headers={"Accept-Encoding": "identity"}).text


def test_a_cached_asset_is_confirmed_without_its_body(server: EdgeServer) -> None:
    url = server.url + asset_url("js/staff.js")
    for accept in ("gzip", "identity"):
        first = httpx.get(url, headers={"Accept-Encoding": accept})
        again = httpx.get(
            url, headers={"Accept-Encoding": accept, "If-None-Match": first.headers["etag"]}
        )
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == first.headers["etag"]


def test_every_asset_is_versioned_even_those_a_stylesheet_names(server: EdgeServer) -> None:
    """The icon was fetched again on every view: the stylesheet named it without a version."""
    stylesheet = server.url + asset_url("css/app.css")
    references = re.findall(r"""url\(["']?([^"')]+)["']?\)""", httpx.get(stylesheet).text)
    assert references, "the stylesheet names no file any more: keep this test meaningful"
    for reference in references:
        assert re.search(r"\?v=[0-9a-f]{12}$", reference), reference
        # Kept for good only under its current version.
        answer = httpx.get(urljoin(stylesheet, reference))
        assert answer.status_code == 200, reference
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    for url in main_assets(server):
        assert re.search(r"\?v=[0-9a-f]{12}$", url), url


@pytest.mark.parametrize(
    "path",
    [
        "/_assets/",
        "/_assets/js",
        "/_assets/js/",
        "/_assets/vendor/",
        "/_assets/js/diner.js%00",
        "/_assets/%00",
        "/_assets/js/%00x",
        "/_assets/js/nothing.js",
    ],
)
def test_asset_paths_that_are_not_files_are_not_found(server: EdgeServer, path: str) -> None:
    """Folders and NUL bytes were 500s with a traceback in the log."""
    before = len(server.log().splitlines())
    answer = httpx.get(server.url + path)
    assert answer.status_code == 404
    assert answer.json() == {
        "success": False,
        "error": {"code": "NOT_FOUND", "message": "Recurso no encontrado"},
    }
    added = server.log().splitlines()[before:]
    assert len(added) <= 1 and not any("Traceback" in line for line in added), added
