"""Run the reference central server (`sync.central`) as a subprocess and drive its control API.

For tests and benchmarks: a real HTTP server in its own process, so the device under test meets
real sockets, real timeouts and real connection drops.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx

from provisioning.server_process import ServerProcess, free_port
from sync.central.cli import TOKEN_ENV_VAR


class CentralDev:
    """One `central-dev` process; `start()` waits until it answers, `stop()` ends it."""

    def __init__(self, workdir: Path, token: str, port: int | None = None) -> None:
        self.workdir = workdir
        self.token = token
        port = port or free_port()
        self.db_path = workdir / f"central-{port}.db"
        self.log_path = workdir / f"central-{port}.log"
        self._server = ServerProcess(
            [
                sys.executable,
                "-m",
                "sync.central",
                "--host",
                "127.0.0.1",
                "--db",
                str(self.db_path),
            ],
            # The token goes through the environment, keeping it out of the process list.
            env={TOKEN_ENV_VAR: token, "PYTHONUNBUFFERED": "1"},
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

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = httpx.request(method, f"{self.url}{path}", timeout=10, **kwargs)
        answer.raise_for_status()
        return answer.json()

    def control(self, mode: str, **params: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "/_control", json={"mode": mode, **params})
        return result

    def reset(self) -> None:
        self._call("POST", "/_reset")

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/_stats")
        return result

    def sessions(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/_sessions")["sessions"]
        return result
