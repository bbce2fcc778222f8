"""Run the reference central server (`sync.central_dev`) as a subprocess and drive its control API.

For tests and benchmarks: a real HTTP server in its own process, so the device under test meets
real sockets, real timeouts and real connection drops.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from sync.central_dev import TOKEN_ENV_VAR


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class CentralDev:
    """One `central-dev` process; `start()` waits until it answers, `stop()` ends it."""

    def __init__(self, workdir: Path, token: str, port: int | None = None) -> None:
        self.workdir = workdir
        self.token = token
        self.port = port or free_port()
        self.db_path = workdir / f"central-{self.port}.db"
        self.log_path = workdir / f"central-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15) -> CentralDev:
        self.workdir.mkdir(parents=True, exist_ok=True)
        # The token goes through the environment, keeping it out of the process list.
        env = {**os.environ, TOKEN_ENV_VAR: self.token, "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "sync.central_dev", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--db", str(self.db_path)]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"central-dev exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=0.5).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"central-dev did not come up:\n{self.log()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

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
