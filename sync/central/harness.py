"""Run the reference central server (`sync.central`) as a subprocess and drive its admin API.

For tests and benchmarks: a real HTTP server in its own process, so the device under test meets
real sockets, real timeouts and real connection drops.
"""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path
from typing import Any

import httpx

from provisioning.server_process import ServerProcess, free_port
from sync.central.cli import ADMIN_TOKEN_ENV_VAR, TOKEN_ENV_VAR


class CentralDev:
    """One `central-dev` process; `start()` waits until it answers, `stop()` ends it."""

    def __init__(
        self,
        workdir: Path,
        token: str,
        port: int | None = None,
        *,
        admin_token: str | None = None,
        catalog_file: Path | None = None,
    ) -> None:
        self.workdir = workdir
        self.token = token
        self.admin_token = admin_token or secrets.token_urlsafe(18)
        port = port or free_port()
        self.db_path = workdir / f"central-{port}.db"
        self.log_path = workdir / f"central-{port}.log"
        argv = [sys.executable, "-m", "sync.central", "--host", "127.0.0.1"]
        argv += ["--db", str(self.db_path)]
        if catalog_file is not None:
            argv += ["--catalog", str(catalog_file)]
        self._server = ServerProcess(
            argv,
            # The tokens go through the environment, keeping them out of the process list.
            env={
                TOKEN_ENV_VAR: token,
                ADMIN_TOKEN_ENV_VAR: self.admin_token,
                "PYTHONUNBUFFERED": "1",
            },
            log_path=self.log_path,
            port=port,
        )

    @property
    def url(self) -> str:
        return self._server.url

    def start(self, timeout: float = 15) -> CentralDev:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._server.start(timeout)
        return self

    def stop(self) -> None:
        self._server.stop()

    def log(self) -> str:
        return self._server.log()

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**self.admin_headers, **kwargs.pop("headers", {})}
        answer = httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)
        answer.raise_for_status()
        return answer.json()

    def control(self, mode: str, target: str = "sessions", **params: Any) -> dict[str, Any]:
        body = {"target": target, "mode": mode, **params}
        result: dict[str, Any] = self._call("POST", "/_control", json=body)
        return result

    def reset(self) -> None:
        self._call("POST", "/_reset")

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/_stats")
        return result

    def sessions(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/_sessions")["sessions"]
        return result

    def set_catalog(self, document: bytes | dict[str, Any]) -> str:
        """Serve `document` (a CATALOG, or any bytes) from now on; returns its ETag."""
        body = document if isinstance(document, bytes) else json.dumps(document).encode()
        etag: str = self._call("PUT", "/_catalog", content=body)["etag"]
        return etag

    def drop_catalog(self) -> None:
        self._call("DELETE", "/_catalog")

    def set_media(self, name: str, body: bytes, content_type: str = "image/png") -> str:
        """Store a picture; returns its public URL for a catalog's `image_url`."""
        self._call("PUT", f"/_media/{name}", content=body, headers={"Content-Type": content_type})
        return f"{self.url}/media/{name}"

    def devices(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/_devices")["devices"]
        return result

    def set_clock_offset(self, seconds: float) -> None:
        self._call("PUT", "/_clock", json={"offset": seconds})
