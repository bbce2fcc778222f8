"""The shipped systemd unit: it parses cleanly and its sandbox stays tight.

`systemd-analyze verify` only *warns* about an unknown directive, a bad value or an unknown
section (exit status 0), so the verify test fails on any diagnostic that names our unit; the
negative-control tests prove a typo really is caught. `systemd-analyze security --offline=yes`
(systemd >= 252) scores the sandbox; it must stay at or below MAX_EXPOSURE.

Without systemd-analyze (or with one older than 252) these tests skip on a developer machine
but fail when the CI environment variable is set: CI installs systemd, so there they must run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "systemd" / "restai-edge.service"
UNIT_NAME = UNIT.name
SHIPPED_EXEC = "/opt/restai-edge/venv/bin/restai-edge"
MAX_EXPOSURE = 2.0
MIN_SYSTEMD_FOR_OFFLINE = 252

# Plain, untranslated, uncoloured output that does not depend on the caller's terminal.
ANALYZE_ENV = {
    **os.environ,
    "LC_ALL": "C.UTF-8",
    "SYSTEMD_COLORS": "0",
    "SYSTEMD_PAGER": "cat",
}


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must install systemd (apt-get install systemd)")
    pytest.skip(reason)


def _systemd_version(analyze: str) -> int:
    out = subprocess.run(
        [analyze, "--version"], capture_output=True, text=True, env=ANALYZE_ENV, check=True
    ).stdout
    match = re.match(r"systemd (\d+)", out)
    assert match, f"unexpected `systemd-analyze --version` output: {out!r}"
    return int(match.group(1))


@pytest.fixture(scope="module")
def analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        _unavailable("systemd-analyze not found")
    assert path is not None
    version = _systemd_version(path)
    if version < MIN_SYSTEMD_FOR_OFFLINE:
        _unavailable(
            f"systemd {version} is too old for `security --offline` "
            f"(needs >= {MIN_SYSTEMD_FOR_OFFLINE})"
        )
    return path


def _parse_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """Sections -> [(key, value)], keeping repeated keys (SystemCallFilter= twice, ...)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None, f"directive outside a section: {raw!r}"
        assert "=" in line, f"not a KEY=VALUE line: {raw!r}"
        key, value = line.split("=", 1)
        current.append((key.strip(), value.strip()))
    return sections


def _values(sections: dict[str, list[tuple[str, str]]], section: str, key: str) -> list[str]:
    return [v for k, v in sections.get(section, []) if k == key]


def _stand_in_executable() -> str:
    """An executable that exists here, to stand in for /opt/restai-edge/venv/bin/restai-edge."""
    candidates = [Path(sys.executable).parent / "restai-edge", Path("/bin/true")]
    which_true = shutil.which("true")
    if which_true:
        candidates.append(Path(which_true))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise AssertionError("no executable to stand in for restai-edge")


def _testable_copy(directory: Path, text: str | None = None) -> Path:
    """The unit (or `text`) with ExecStart= pointing at an executable that exists here.

    verify rightly rejects a missing ExecStart binary; everything else stays byte-identical.
    """
    text = UNIT.read_text(encoding="utf-8") if text is None else text
    exe = _stand_in_executable()
    lines = text.splitlines(keepends=True)
    rewritten = 0
    for i, line in enumerate(lines):
        if line.startswith("ExecStart=") and SHIPPED_EXEC in line:
            lines[i] = line.replace(SHIPPED_EXEC, exe, 1)
            rewritten += 1
    assert rewritten == 1, f"expected one ExecStart= using {SHIPPED_EXEC}"
    copy = directory / UNIT_NAME
    copy.write_text("".join(lines), encoding="utf-8")
    return copy


def _verify_problems(analyze: str, unit: Path) -> tuple[int, list[str], str]:
    """Run verify; return (status, diagnostics about our unit, full output).

    Diagnostics about *other* units (network.target, multi-user.target... as installed on
    the test machine) are not ours to fix, so only lines naming our file or unit count.
    """
    result = subprocess.run(
        [analyze, "verify", "--man=no", "--recursive-errors=no", str(unit)],
        capture_output=True,
        text=True,
        env=ANALYZE_ENV,
        cwd=unit.parent,
        timeout=120,
    )
    output = result.stdout + result.stderr
    ours = [
        line
        for line in output.splitlines()
        if str(unit) in line or UNIT_NAME in line or str(unit.parent) in line
    ]
    return result.returncode, ours, output


# --- Structure (no systemd needed) ------------------------------------------------------------


def test_unit_declares_the_deployment_contract() -> None:
    unit = _parse_unit(UNIT.read_text(encoding="utf-8"))
    assert _values(unit, "Service", "Type") == ["simple"]
    assert _values(unit, "Service", "ExecStart") == [
        f"{SHIPPED_EXEC} serve --host 0.0.0.0 --port 8000"
    ]
    assert _values(unit, "Service", "Restart") == ["on-failure"]
    assert _values(unit, "Service", "RestartSec")
    assert _values(unit, "Service", "DynamicUser") == ["yes"]
    assert _values(unit, "Service", "StateDirectory") == ["restai-edge"]
    assert _values(unit, "Service", "StateDirectoryMode") == ["0700"]
    assert "RESTAI_EDGE_DATA_DIR=/var/lib/restai-edge" in _values(unit, "Service", "Environment")
    assert _values(unit, "Service", "EnvironmentFile") == ["-/etc/restai-edge/restai-edge.env"]
    assert _values(unit, "Install", "WantedBy") == ["multi-user.target"]
    # No notify/watchdog: the server does not call sd_notify().
    assert not _values(unit, "Service", "WatchdogSec")
    assert not _values(unit, "Service", "NotifyAccess")


def test_unit_does_not_need_the_network_to_start() -> None:
    """Offline-first: boot must not wait for, or depend on, an uplink."""
    unit = _parse_unit(UNIT.read_text(encoding="utf-8"))
    for key in ("Wants", "Requires", "BindsTo", "Requisite", "After"):
        for value in _values(unit, "Unit", key):
            assert "network-online.target" not in value.split(), f"{key}={value}"


def test_unit_sandbox_keeps_what_a_python_server_needs() -> None:
    unit = _parse_unit(UNIT.read_text(encoding="utf-8"))
    families = " ".join(_values(unit, "Service", "RestrictAddressFamilies")).split()
    assert {"AF_INET", "AF_INET6", "AF_UNIX"} <= set(families)
    assert not any(f.startswith("~") for f in families), "expected an allow-list"
    # A port >= 1024 needs no capability, and none is granted.
    assert _values(unit, "Service", "CapabilityBoundingSet") == [""]
    assert _values(unit, "Service", "PrivateNetwork") in ([], ["no"])
    filters = _values(unit, "Service", "SystemCallFilter")
    assert "@system-service" in filters
    assert any(f.startswith("~") and "@privileged" in f for f in filters)


# --- systemd-analyze --------------------------------------------------------------------------


def test_systemd_analyze_verify_is_clean(analyze: str, tmp_path: Path) -> None:
    status, ours, output = _verify_problems(analyze, _testable_copy(tmp_path))
    assert status == 0 and not ours, f"systemd-analyze verify:\n{output}"


@pytest.mark.parametrize(
    ("original", "broken"),
    [
        ("PrivateTmp=yes", "PrivateTpm=yes"),  # misspelt directive
        ("ProtectHome=yes", "ProtectHome=maybe"),  # invalid value
        ("[Install]", "[Instal]"),  # misspelt section
        ("Restart=on-failure", "Restart=on-faliure"),  # invalid enum value
    ],
)
def test_systemd_analyze_verify_catches_typos(
    analyze: str, tmp_path: Path, original: str, broken: str
) -> None:
    """Negative control: the verify test above would really fail on a typo."""
    text = UNIT.read_text(encoding="utf-8")
    assert text.count(original) == 1, f"{original!r} no longer in the unit: update this test"
    unit = _testable_copy(tmp_path, text.replace(original, broken))
    status, ours, output = _verify_problems(analyze, unit)
    assert status != 0 or ours, f"typo {broken!r} went unnoticed:\n{output}"


def test_security_exposure_is_low(analyze: str, tmp_path: Path) -> None:
    unit = _testable_copy(tmp_path)
    result = subprocess.run(
        [analyze, "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        env=ANALYZE_ENV,
        cwd=tmp_path,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"systemd-analyze security failed:\n{output}"
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", output)
    assert match, f"no exposure score in:\n{output}"
    score = float(match.group(1))
    assert score <= MAX_EXPOSURE, f"exposure {score} > {MAX_EXPOSURE}:\n{output}"
