"""Every API route answers failures with the one envelope, never a bare 500 or an HTML page."""

from __future__ import annotations

import re
import tempfile
import uuid
from pathlib import Path

import httpx
import pytest

from edge.app import create_app
from edge.errors import InternalError, as_api_error
from edge.settings import Settings
from tests.conftest import EdgeServer, provision_device


def _api_routes() -> list[tuple[str, str]]:
    data_dir = Path(tempfile.mkdtemp()) / "data"
    provision_device(data_dir, 1)
    app = create_app(Settings.resolve({"data_dir": data_dir}, {}))
    app.router.finalize()
    routes = []
    for route in app.router.routes:
        if not route.path.startswith("api/"):
            continue
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            routes.append((method, "/" + route.path))
    # The router's order varies between processes; test ids must not (pytest-xdist workers).
    return sorted(routes)


ROUTES = _api_routes()


def _fill(path: str) -> str:
    """Put a value of the right kind in each path parameter: real slug, unknown ids."""
    path = path.replace("<branch_slug:str>", "downtown-lima")
    path = path.replace("<table_code:str>", "downtown-lima-1")
    return re.sub(r"<\w+:str>", str(uuid.uuid4()), path)


def test_every_api_route_is_covered() -> None:
    assert len(ROUTES) >= 20


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-token"}],
    ids=["no token", "bad token"],
)
def test_failures_use_the_envelope(
    server: EdgeServer, method: str, path: str, headers: dict[str, str]
) -> None:
    answer = httpx.request(method, server.url + _fill(path), headers=headers, content=b"{not json")
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert body["success"] is False
    assert re.fullmatch(r"[A-Z][A-Z_]+", body["error"]["code"])
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def test_unexpected_exceptions_become_internal_error_without_internals() -> None:
    error = as_api_error(RuntimeError("/var/lib/restai-edge/edge.db is secret"))
    assert isinstance(error, InternalError)
    assert error.status == 500
    envelope = error.envelope()
    assert envelope == {
        "success": False,
        "error": {"code": "INTERNAL_ERROR", "message": "Error interno del servidor"},
    }
