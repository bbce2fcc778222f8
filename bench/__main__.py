"""`python -m bench` (or `make bench`): every benchmark, one table, one JSON file.

Each figure is a ratio against a ceiling measured in the same run on the same machine, because
absolute figures on shared machines drift.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import sanic

from bench import (
    catalog_apply,
    http_bench,
    printing,
    qr_sheet,
    realtime_bench,
    store_size,
    sync_drain,
)


def _machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "sanic": sanic.__version__,
        "kernel": platform.release(),
        "load_before": os.getloadavg()[0],
    }


def _row(name: str, device: str, ceiling: str, ratio: str, goal: str, met: bool) -> str:
    return f"| {name} | {device} | {ceiling} | {ratio} | {goal} | {'yes' if met else 'NO'} |"


def _write_rows(results: dict[str, Any]) -> list[str]:
    lines = []
    for layout in http_bench.LAYOUTS:
        for what, per in (("session", "201/s"), ("order", "201/s")):
            for versus, entry in results["http"][f"write {what}, {layout}"].items():
                device, ceiling = entry["device"], entry["baseline"]
                name = f"POST {what} ({per}), {layout}, {versus}"
                lines.append(
                    _row(
                        name,
                        f"{device['created_per_s']:,.0f} /s",
                        f"{ceiling['created_per_s']:,.0f} /s",
                        f"{entry['ratio']:.2f}",
                        f">= {entry['goal']}",
                        entry["ratio"] >= entry["goal"],
                    )
                )
                lines.append(
                    _row(
                        f"  p99 of the same, {layout}, {versus}",
                        f"{device['p99_ms']:.1f} ms",
                        f"{ceiling['p99_ms']:.1f} ms",
                        f"{entry['p99_ratio']:.2f}",
                        f"<= {entry['p99_goal']}",
                        entry["p99_ratio"] <= entry["p99_goal"],
                    )
                )
    return lines


def table(results: dict[str, Any]) -> str:
    lines = [
        "| figure | device | ceiling | ratio | goal | met |",
        "|---|---|---|---|---|---|",
    ]
    for name in ("read check-session", "read session-status"):
        entry = results["http"][name]
        lines.append(
            _row(
                name,
                f"{entry['device']['req_per_s']:,.0f} req/s",
                f"{entry['baseline']['req_per_s']:,.0f} req/s",
                f"{entry['ratio']:.2f}",
                ">= 0.8",
                entry["ratio"] >= 0.8,
            )
        )
    lines += _write_rows(results)
    realtime = results["realtime"]
    for name in (
        "create -> staff session:pending",
        "approve -> diner session:approved",
        "call waiter -> staff table:call_waiter",
        "approve -> diner session:approved, one core, diners polling",
    ):
        entry = realtime[name]
        if "p99_ms" not in entry:
            continue  # an older checkout without table service
        crowd = (
            f"{entry['polling_diners']} diners polling every {entry['poll_period_s']:g} s"
            if "polling_diners" in entry
            else "300 idle sockets"
        )
        lines.append(
            _row(
                f"{name} ({crowd})",
                f"p50 {entry['p50_ms']:.1f} ms, p99 {entry['p99_ms']:.1f} ms",
                "-",
                "-",
                "p99 < 20 ms",
                entry["p99_ms"] < 20,
            )
        )
    rss = realtime["serve RSS with sockets"]["rss_mb"]
    lines.append(_row("serve RSS, 300 sockets", f"{rss:.0f} MB", "-", "-", "< 120 MB", rss < 120))
    drain = results["sync"]
    lines.append(
        _row(
            "sync drain, 10,000 sessions",
            f"{drain['written_to_last_ack_s']:.1f} s ({drain['sessions_per_s']:,}/s)",
            "-",
            "-",
            "< 30 s",
            drain["met"],
        )
    )
    qr = results["qr"]
    lines.append(
        _row(
            f"qr PDF sheet, {qr['tables']:,} tables",
            f"{qr['seconds']:.1f} s, {qr['peak_rss_mb']:.0f} MB, a progress line at least"
            f" every {qr['longest_silence_s']:.1f} s",
            "-",
            "-",
            "< 20 s",
            qr["met"],
        )
    )
    lines.extend(printing.rows(results.get("printing", {})))
    lines.extend(catalog_apply.rows(results.get("catalog", {})))
    lines.extend(store_size.rows(results.get("store", {})))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run")
    parser.add_argument("--out", type=Path, default=Path("artifacts/bench.json"))
    args = parser.parse_args()
    started = time.monotonic()
    results: dict[str, Any] = {"machine": _machine()}
    results["http"] = http_bench.run(args.seconds)
    results["realtime"] = realtime_bench.run()
    results["sync"] = sync_drain.run()
    results["printing"] = printing.run()
    results["catalog"] = catalog_apply.run()
    results["qr"] = qr_sheet.run()
    results["store"] = store_size.run()
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(table(results))
    print(
        f"\n{results['machine']['cpu']}, {results['machine']['cores']} cores;"
        f" took {results['elapsed_s']} s; JSON in {args.out}"
    )


if __name__ == "__main__":
    main()
