"""A real install on Debian with systemd: `provisioning/install.sh` in a freshly bootstrapped
Debian 12, booted with systemd-nspawn, and what systemd does when the device cannot start.

The device is installed from a wheel (offline, from a wheelhouse built here), provisioned with
`restai-edge-admin`, started with `systemctl enable --now`, and answers `/healthz`. Then its
store is emptied: `serve` must stop at once with one `Error:` line, systemd must count the
failure, restart it (`Restart=on-failure`), and give up after `StartLimitBurst` restarts, leaving
the unit `failed` for `systemctl status` to show. Restoring the backup and `reset-failed` brings
it back.

It bootstraps a Debian tree (about two minutes, and network access to a Debian mirror), so it runs
only when asked: `make test` asks (RESTAI_EDGE_SYSTEMD_TEST=1), a bare `pytest` does not:

    RESTAI_EDGE_SYSTEMD_TEST=1 .venv/bin/python -m pytest -q tests/test_install_systemd.py

`RESTAI_EDGE_SYSTEMD_ROOTFS=DIR` bootstraps into DIR once and copies it for each run, and
`RESTAI_EDGE_DEBIAN_MIRROR` picks the mirror (default http://deb.debian.org/debian). Needs root,
`debootstrap`, `systemd-nspawn` and `nsenter` (scripts/install-system-deps.sh installs them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENABLED = os.environ.get("RESTAI_EDGE_SYSTEMD_TEST") == "1"
MIRROR = os.environ.get("RESTAI_EDGE_DEBIAN_MIRROR", "http://deb.debian.org/debian")
PACKAGES = "systemd,systemd-sysv,dbus,python3,python3-venv"
UNIT = "restai-edge.service"
STATE = "/var/lib/private/restai-edge"
CONTAINER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The shipped unit restarts after 5 s; the test waits 1 s so ten restarts take seconds.
FAST_RESTART = "[Service]\nRestartSec=1s\n"

pytestmark = pytest.mark.skipif(
    not ENABLED, reason="real install in a booted Debian: set RESTAI_EDGE_SYSTEMD_TEST=1"
)


def _need(*tools: str) -> None:
    if os.geteuid() != 0:
        pytest.fail("RESTAI_EDGE_SYSTEMD_TEST needs root (debootstrap, systemd-nspawn)")
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run scripts/install-system-deps.sh")


def _bootstrap(target: Path) -> None:
    done = subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={PACKAGES}",
            "bookworm",
            str(target),
            MIRROR,
        ],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    _need("debootstrap", "systemd-nspawn", "nsenter")
    # Not under pytest's tmp: its parents are 0700, and the device's DynamicUser must be able to
    # reach /opt inside the tree.
    work = Path(tempfile.mkdtemp(prefix="restai-edge-debian-", dir="/var/tmp"))
    work.chmod(0o755)
    tree = work / "rootfs"
    cached = os.environ.get("RESTAI_EDGE_SYSTEMD_ROOTFS")
    try:
        if cached:
            if not (Path(cached) / "sbin" / "init").exists():
                _bootstrap(Path(cached))
            subprocess.run(["cp", "-a", cached, str(tree)], check=True)
        else:
            _bootstrap(tree)
        yield tree
    finally:
        shutil.rmtree(work, ignore_errors=True)


class Container:
    """A booted systemd-nspawn container with no network but its own loopback; commands run
    in it through nsenter (the host has no machined to ask)."""

    def __init__(self, tree: Path, log: Path) -> None:
        self.tree = tree
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.init_pid = 0
        self._output: BinaryIO | None = None

    def boot(self, timeout: float = 120) -> None:
        self._output = open(self.log, "wb")  # noqa: SIM115 - closed by stop()
        self.process = subprocess.Popen(
            [
                "systemd-nspawn",
                "--quiet",
                "--register=no",
                "--keep-unit",
                "--private-network",
                f"--directory={self.tree}",
                "--boot",
                "--console=pipe",
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not self.init_pid:
            assert self.process.poll() is None, f"nspawn exited:\n{self.log.read_text()}"
            assert time.monotonic() < deadline, "the container's init never started"
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
            pids = children.read_text().split() if children.exists() else []
            self.init_pid = int(pids[0]) if pids else 0
            time.sleep(0.2)
        while True:
            state = self.run("systemctl", "is-system-running", check=False).stdout.strip()
            if state in {"running", "degraded"}:
                return
            assert time.monotonic() < deadline, f"systemd never finished booting ({state})"
            time.sleep(0.5)

    def run(
        self,
        *argv: str,
        check: bool = True,
        timeout: float = 300,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [
                "nsenter",
                "-t",
                str(self.init_pid),
                "-a",
                "--",
                "env",
                "-i",
                f"PATH={CONTAINER_PATH}",
                "LANG=C.UTF-8",
                "HOME=/root",
                *(f"{k}={v}" for k, v in (env or {}).items()),
                *argv,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check:
            assert done.returncode == 0, (
                f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
            )
        return done

    def show(self, *properties: str) -> dict[str, str]:
        out = self.run("systemctl", "show", UNIT, *(f"--property={p}" for p in properties))
        return dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)

    def healthz(self) -> int:
        probe = (
            "import urllib.request, urllib.error\n"
            "try:\n"
            "    print(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status)\n"
            "except urllib.error.HTTPError as e:\n    print(e.code)\n"
            "except OSError:\n    print(0)\n"
        )
        return int(self.run("python3", "-c", probe).stdout.strip() or 0)

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.healthz() != 200:
            assert time.monotonic() < deadline, self.journal()
            time.sleep(0.5)

    def journal(self) -> str:
        return self.run("journalctl", "-u", UNIT, "--no-pager", "-o", "cat", check=False).stdout

    def stop(self) -> None:
        try:
            if self.process is not None and self.process.poll() is None:
                if self.init_pid:
                    self.run("systemctl", "poweroff", check=False, timeout=30)
                try:
                    self.process.wait(60)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        finally:
            if self._output is not None:
                self._output.close()


def _copy_checkout(target: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = ROOT / name.decode()
        if source.is_file():
            (target / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name.decode())


@pytest.fixture
def container(rootfs: Path, tmp_path: Path) -> Iterator[Container]:
    checkout = rootfs / "root" / "restai-edge"
    wheels = rootfs / "root" / "wheels"
    _copy_checkout(checkout)
    # The device's wheel and every dependency, so the install inside needs no network.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--wheel-dir",
            str(wheels),
            str(checkout),
        ],
        check=True,
        timeout=900,
    )
    box = Container(rootfs, tmp_path / "container.log")
    try:
        box.boot()
        yield box
    finally:
        box.stop()


def test_installed_service_fails_loudly_and_systemd_restarts_then_flags_it(
    container: Container,
) -> None:
    (wheel,) = [p.name for p in (container.tree / "root" / "wheels").glob("restai_edge-*.whl")]
    installed = container.run(
        "/root/restai-edge/provisioning/install.sh",
        f"/root/wheels/{wheel}",
        env={"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "/root/wheels"},
        timeout=900,
    )
    assert "RestAI Edge is installed" in installed.stdout
    admin = "/usr/local/sbin/restai-edge-admin"
    container.run(
        admin,
        "provision",
        "--branch-slug",
        "downtown-lima",
        "--branch-name",
        "Downtown Lima",
        "--tables",
        "3",
    )
    container.run(admin, "backup", "--out", "good.db")
    container.run("systemctl", "enable", "--now", UNIT)
    container.wait_healthy()
    assert container.show("ActiveState")["ActiveState"] == "active"

    # A store that cannot be served: emptied (a disk error, a careless copy).
    container.run("systemctl", "stop", UNIT)
    container.run("truncate", "-s", "0", f"{STATE}/edge.db")
    dropin = container.tree / "etc" / "systemd" / "system" / f"{UNIT}.d"
    dropin.mkdir(parents=True, exist_ok=True)
    (dropin / "fast-restart.conf").write_text(FAST_RESTART)
    container.run("systemctl", "daemon-reload")
    container.run("systemctl", "start", UNIT)

    restarts_seen = 0
    deadline = time.monotonic() + 90
    while True:
        state = container.show("ActiveState", "Result", "NRestarts", "ExecMainStatus")
        restarts_seen = max(restarts_seen, int(state["NRestarts"] or 0))
        if state["ActiveState"] == "failed":
            break
        assert time.monotonic() < deadline, f"never flagged failed: {state}\n{container.journal()}"
        time.sleep(0.5)
    journal = container.journal()
    errors = [line for line in journal.splitlines() if line.startswith("Error:")]
    assert restarts_seen >= 2, journal
    assert state["Result"] in {"start-limit-hit", "exit-code"}, state
    assert state["ExecMainStatus"] == "1", state
    assert len(errors) >= restarts_seen, journal
    assert all("edge.db is empty" in line for line in errors), errors
    assert "Traceback" not in journal
    status = container.run("systemctl", "status", UNIT, "--no-pager", check=False)
    assert status.returncode == 3 and "failed" in status.stdout, status.stdout

    # The way back: restore the backup, clear the failure, start.
    container.run(admin, "restore", "good.db")
    container.run("systemctl", "reset-failed", UNIT)
    container.run("systemctl", "start", UNIT)
    container.wait_healthy()
