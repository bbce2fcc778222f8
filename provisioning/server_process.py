"""A server run as a subprocess on a free loopback port, ready once its health path answers.

Tests, benchmarks and the central-dev harness all start the device and the reference central
this way: real processes, so they meet real sockets, signals and crashes.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

START_ATTEMPTS = 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PortTaken(RuntimeError):
    """The free port picked for a server was taken before the server bound it."""


@dataclass
class ServerProcess:
    """`argv --port PORT`, with `env` added to this process's environment.

    Output goes to `log_path` (appended, so a restart keeps the earlier run's lines), or nowhere.
    """

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    cwd: str | None = None
    health_path: str = "/healthz"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    def start(self, timeout: float = 20) -> ServerProcess:
        """Start and wait until the health path answers; a port taken meanwhile gets a new one."""
        for _ in range(START_ATTEMPTS):
            try:
                return self._start(timeout)
            except PortTaken:
                self.port = free_port()
        raise RuntimeError(f"no free port for {self.argv} after {START_ATTEMPTS} tries")

    def _start(self, timeout: float) -> ServerProcess:
        log_start = len(self.log())
        output = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                [*self.argv, "--port", str(self.port)],
                env={**os.environ, **self.env},
                cwd=self.cwd,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        finally:
            if self.log_path:
                output.close()  # type: ignore[union-attr]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                this_run = self.log()[log_start:]
                if "address already in use" in this_run.lower():
                    raise PortTaken()
                raise RuntimeError(f"{self.argv} exited early:\n{this_run}")
            try:
                if httpx.get(self.url + self.health_path, timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        # Given up on: it must not live on unwatched (and hold the data dir's lock).
        self.kill()
        raise RuntimeError(f"{self.argv} did not answer within {timeout} s:\n{self.log()}")

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM, then SIGKILL if it has not stopped within `timeout` seconds."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        assert self.process is not None, "not started"
        self.process.kill()
        self.process.wait()

    def log(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")
