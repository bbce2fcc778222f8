"""Benchmark: `restai-edge qr` printing a PDF sheet for 10,000 tables, as the CLI is run.

Reports the wall time (goal: under 20 s), the command's peak RSS, and how often a progress line
appeared on its stderr, which is a pipe here as it is in a log (goal: a line every few seconds).

    python -m bench.qr_sheet [--tables 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.device import provisioned_device

TABLES = 10_000
GOAL_S = 20.0


def run(tables: int = TABLES) -> dict[str, Any]:
    data_dir = provisioned_device(tables)
    out = Path(tempfile.mkdtemp(prefix="restai-bench-qr-")) / "mesas.pdf"
    argv = [sys.executable, "-m", "provisioning", "--data-dir", str(data_dir), "qr"]
    started = time.perf_counter()
    command = subprocess.Popen(
        [*argv, "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert command.stderr is not None
    seen = [started]
    for _ in command.stderr:
        seen.append(time.perf_counter())
    _, status, usage = os.wait4(command.pid, 0)
    command.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    seen.append(time.perf_counter())
    assert command.returncode == 0, "qr failed"
    return {
        "tables": tables,
        "seconds": round(elapsed, 1),
        "goal_s": GOAL_S,
        "met": elapsed < GOAL_S,
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "progress_lines": len(seen) - 2,
        "longest_silence_s": round(max(b - a for a, b in zip(seen, seen[1:], strict=False)), 1),
        "pdf_mb": round(out.stat().st_size / 1e6, 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.qr_sheet")
    parser.add_argument("--tables", type=int, default=TABLES)
    print(json.dumps(run(parser.parse_args().tables), indent=2))
