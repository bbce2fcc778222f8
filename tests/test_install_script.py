"""provisioning/install.sh: valid bash, and a --dry-run that shows the plan and changes nothing.

The dry run is executed with stub `install`, `systemctl`, `chown`, ... first on PATH and a stub
Python that only lets the read-only preflight checks through, so an accidental real action
would be recorded (and would not touch the machine) instead of silently installing.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "provisioning" / "install.sh"
UNIT = ROOT / "systemd" / "restai-edge.service"
BASH = shutil.which("bash") or "/bin/bash"

# Paths a real install writes; a dry run must leave every one of them as it was.
INSTALL_TARGETS = [
    Path("/opt"),
    Path("/opt/restai-edge"),
    Path("/etc/systemd/system/restai-edge.service"),
    Path("/etc/restai-edge"),
    Path("/usr/local/sbin/restai-edge-admin"),
]
# Commands only the real install runs (the dry run may only print them).
MUTATING_COMMANDS = ["install", "systemctl", "systemd-run", "chown", "chmod", "mv", "mktemp"]


def _snapshot() -> dict[str, tuple[int, int, int] | None]:
    state: dict[str, tuple[int, int, int] | None] = {}
    for path in INSTALL_TARGETS:
        try:
            st = path.lstat()
        except FileNotFoundError:
            state[str(path)] = None
        else:
            state[str(path)] = (st.st_mtime_ns, st.st_mode, st.st_ino)
    if Path("/opt").is_dir():
        state["/opt entries"] = (len(os.listdir("/opt")), 0, 0)
    return state


def _write_executable(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@pytest.fixture
def stubbed_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """Environment whose mutating commands only log their arguments to `calls.log`."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "calls.log"
    log.touch()
    for name in MUTATING_COMMANDS:
        _write_executable(bindir / name, f'#!/bin/sh\necho "{name} $*" >> "{log}"\nexit 97\n')
    # Preflight (`python -c ...` checks) goes to the real interpreter; anything else
    # (`-m venv`, `-m pip`) is logged and refused.
    _write_executable(
        bindir / "python3",
        f'#!/bin/sh\nif [ "$1" = "-c" ]; then exec "{sys.executable}" "$@"; fi\n'
        f'echo "python3 $*" >> "{log}"\nexit 97\n',
    )
    env = {
        **os.environ,
        "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PYTHON": "python3",
        "LC_ALL": "C.UTF-8",
    }
    return env, log


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BASH, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )


def test_script_is_executable_strict_bash() -> None:
    assert os.access(SCRIPT, os.X_OK), "install.sh must be executable"
    text = SCRIPT.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash\n") or text.startswith("#!/bin/bash\n")
    assert re.search(r"^set -euo pipefail$", text, re.MULTILINE)


def test_bash_syntax() -> None:
    result = subprocess.run([BASH, "-n", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_dry_run_prints_plan_and_changes_nothing(
    stubbed_env: tuple[dict[str, str], Path],
) -> None:
    env, log = stubbed_env
    before = _snapshot()
    result = _run("--dry-run", env=env)
    after = _snapshot()

    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    planned = [
        "[dry-run] install -d -m 0755 /opt/restai-edge",
        "[dry-run] python3 -m venv /opt/restai-edge/venv",
        f"[dry-run] /opt/restai-edge/venv/bin/python -m pip install --disable-pip-version-check"
        f" --upgrade {ROOT}",
        f"[dry-run] install -m 0644 -o root -g root {UNIT} /etc/systemd/system/restai-edge.service",
        "[dry-run] write /usr/local/sbin/restai-edge-admin (mode 0755)",
        "[dry-run] install -d -m 0750 -o root -g root /etc/restai-edge",
        "[dry-run] systemctl daemon-reload",
    ]
    positions = []
    for step in planned:
        assert step in out, f"missing planned step {step!r} in:\n{out}"
        positions.append(out.index(step))
    assert positions == sorted(positions), "planned steps out of order"
    if not Path("/etc/restai-edge/restai-edge.env").exists():
        assert "[dry-run] write /etc/restai-edge/restai-edge.env (mode 0640)" in out

    # Not started without --enable ...
    assert "[dry-run] systemctl enable" not in out
    # ... but the next steps tell the installer exactly what to run.
    for command in (
        "sudo restai-edge-admin provision",
        "sudo restai-edge-admin staff add",
        "sudo restai-edge-admin qr",
        "sudo systemctl enable --now restai-edge.service",
    ):
        assert command in out

    assert log.read_text(encoding="utf-8") == "", "dry run executed commands"
    assert before == after, "dry run changed the filesystem"


def test_dry_run_with_enable_plans_enable_now(stubbed_env: tuple[dict[str, str], Path]) -> None:
    env, log = stubbed_env
    result = _run("--dry-run", "--enable", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[dry-run] systemctl enable --now restai-edge.service" in result.stdout
    assert log.read_text(encoding="utf-8") == ""


def test_dry_run_installs_a_given_wheel(
    stubbed_env: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, log = stubbed_env
    wheel = tmp_path / "restai_edge-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    result = _run("--dry-run", str(wheel), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"pip install --disable-pip-version-check --upgrade {wheel}" in result.stdout
    assert log.read_text(encoding="utf-8") == ""


@pytest.mark.parametrize(
    "args", [("--dry-run", "--bogus"), ("--dry-run", "/nonexistent/restai_edge.whl")]
)
def test_bad_arguments_fail_before_doing_anything(
    stubbed_env: tuple[dict[str, str], Path], args: tuple[str, ...]
) -> None:
    env, log = stubbed_env
    result = _run(*args, env=env)
    assert result.returncode != 0
    assert "error:" in result.stderr
    assert log.read_text(encoding="utf-8") == ""


def test_admin_wrapper_matches_the_unit(stubbed_env: tuple[dict[str, str], Path]) -> None:
    """restai-edge-admin must run as the unit's user in the unit's state directory."""
    env, _ = stubbed_env
    out = _run("--dry-run", env=env).stdout
    unit = UNIT.read_text(encoding="utf-8")
    for key in ("DynamicUser", "User", "Group", "StateDirectory", "StateDirectoryMode", "UMask"):
        match = re.search(rf"^{key}=(.*)$", unit, re.MULTILINE)
        assert match, f"{key}= missing from the unit"
        assert f"--property={key}={match.group(1).strip()}" in out
    env_file = re.search(r"^EnvironmentFile=(.*)$", unit, re.MULTILINE)
    assert env_file and f"--property=EnvironmentFile={env_file.group(1)}" in out
    data_dir = re.search(r"^Environment=(RESTAI_EDGE_DATA_DIR=\S+)$", unit, re.MULTILINE)
    assert data_dir and f"--setenv={data_dir.group(1)}" in out
    exec_start = re.search(r"^ExecStart=(\S+)", unit, re.MULTILINE)
    assert exec_start and f'{exec_start.group(1)} "$@"' in out
