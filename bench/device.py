"""Processes the benchmarks measure: a provisioned device, the bare-Sanic ceiling, wrk."""

from __future__ import annotations

import asyncio
import os
import re
import site
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from provisioning.provision import MAX_TABLES, ProvisionRequest, provision_with_staff
from provisioning.server_process import ServerProcess

SLUG = "downtown-lima"
MANAGER_PIN = "482913"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def provisioned_device(tables: int, **extra: object) -> Path:
    """A provisioned data dir. `tables` may exceed what `provision` allows a branch: the write
    benchmark takes a fresh table per created session and needs more than one run can fill."""
    data_dir = Path(tempfile.mkdtemp(prefix="restai-bench-")) / "data"

    request = ProvisionRequest(
        branch_slug=SLUG,
        branch_name="Downtown Lima",
        tables=tables,
        **extra,  # type: ignore[arg-type]
    )
    staff = [("Bench", "manager", MANAGER_PIN)]
    asyncio.run(provision_with_staff(data_dir, request, staff, max_tables=max(tables, MAX_TABLES)))
    return data_dir


def pinned(cpus: str | None) -> list[str]:
    """The command prefix that keeps a process on the given CPUs (`taskset -c 0`), if any."""
    return ["taskset", "-c", cpus] if cpus else []


# What every benchmark device runs with: its diners all come from 127.0.0.1, so the per-address
# limits on table requests are off.
DEVICE_ENV = {"RESTAI_EDGE_SESSION_RATE_LIMIT": "0", "RESTAI_EDGE_PENDING_PER_ADDRESS": "0"}


def device_process(
    data_dir: Path, log_path: Path | None = None, cpus: str | None = None, **env: str
) -> ServerProcess:
    """`restai-edge serve`; RESTAI_BENCH_DEVICE_TREE serves another checkout instead, so an older
    revision can be measured against the same ceiling (README, Performance)."""
    argv = [*pinned(cpus), sys.executable, "-m", "provisioning"]
    env = {**DEVICE_ENV, "RESTAI_EDGE_LOG_LEVEL": "WARNING", **env}
    tree = os.environ.get("RESTAI_BENCH_DEVICE_TREE")
    if tree:
        # -S skips site-packages' .pth files, among them the editable install's finder, which
        # would otherwise import this checkout whatever the path says.
        argv.insert(argv.index("-m"), "-S")
        env["PYTHONPATH"] = os.pathsep.join([tree, *site.getsitepackages()])
    return ServerProcess(
        [*argv, "--data-dir", str(data_dir), "serve", "--host", "127.0.0.1"],
        env,
        log_path=log_path,
        cwd=tree,
    )


# Start-up work a device finishes within its first second: compressing the pages' assets (about
# a quarter of a second of one core here), the first runs of its scheduled jobs.
SETTLE_SECONDS = 1.0


def settled(device: ServerProcess) -> ServerProcess:
    """`device` once its start-up work is done. The benchmarks measure a device as it runs for a
    shift; measured from its first instant, a one-core run also counted the asset compression
    (a 4 s run lost 9% of its sessions and doubled its p99, README, Performance)."""
    # An asset is answered only once every asset is compressed.
    httpx.get(f"{device.url}/_assets/js/common.js").raise_for_status()
    time.sleep(SETTLE_SECONDS)
    return device


def baseline_process(
    db_path: Path, synchronous: str = "FULL", cpus: str | None = None
) -> ServerProcess:
    return ServerProcess(
        [
            *pinned(cpus),
            sys.executable,
            "-m",
            "bench.baseline",
            "--db",
            str(db_path),
            "--synchronous",
            synchronous,
        ]
    )


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    latency_p99_ms: float
    counted: dict[str, int]


_LATENCY_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(
    url: str,
    seconds: int,
    connections: int = 32,
    script: Path | None = None,
    *args: str,
    cpus: str | None = None,
) -> WrkResult:
    argv = [*pinned(cpus), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script is not None:
        argv += ["-s", str(script)]
    argv.append(url)
    if args:
        argv += ["--", *args]
    output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", output)
    latency = float(p99.group(1)) * _LATENCY_UNITS[p99.group(2)] if p99 else float("nan")
    counted = {k: int(v) for k, v in re.findall(r"COUNT (\w+) (\d+)", output)}
    return WrkResult(rps, latency, counted)
