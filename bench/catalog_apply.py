"""Benchmark: a large central catalog (2,000 items, 200 modifier groups) applied on the device.

Two figures. First the apply itself, in process on a provisioned store: checking the document
(`parse_catalog`) and writing it in its one transaction (`apply_catalog`), for a first catalog
(everything inserted) and for a change to every price (everything updated). Goal: under 2 s.
Then a served device (`restai-edge serve`) pulls the same catalogs from the reference central
while a diner's phone polls `check-session` as fast as it can; the latencies taken between the
central sending the catalog and the device having applied it are compared with a quiet device.

    python -m bench.catalog_apply [--items 2000] [--groups 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.device import SLUG, device_process, provisioned_device
from bench.latency import summary
from edge.catalog import apply_catalog, parse_catalog
from edge.store import Store
from sync.central.harness import CentralDev

TOKEN = "bench-catalog-device-token-5e1a"
CATEGORIES = 40
MODIFIERS_PER_GROUP = 5
GROUPS_PER_ITEM = 2
BASELINE_SECONDS = 3.0
GOAL_S = 2.0


def make_catalog(items: int, groups: int, version: str, price_step: int = 0) -> dict[str, Any]:
    """A catalog shaped like a big chain's: ids are stable across versions (seeded uuids)."""

    def ident(kind: str, number: int) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench/{kind}/{number}"))

    modifier_groups = [
        {
            "id": ident("group", g),
            "name": f"Opciones {g}",
            "min_selections": g % 2,
            "max_selections": 2,
            "modifiers": [
                {
                    "id": ident("modifier", g * MODIFIERS_PER_GROUP + m),
                    "name": f"Opción {m} del grupo {g}",
                    "price": 100 * m,
                    "is_available": True,
                    "sort_order": m,
                }
                for m in range(MODIFIERS_PER_GROUP)
            ],
        }
        for g in range(groups)
    ]
    return {
        "version": version,
        "branch": {"name": "Bench Branch", "currency": "PEN", "tax_rate": 1800},
        "categories": [
            {
                "id": ident("category", c),
                "name": f"Categoría {c}",
                "sort_order": c,
                "is_active": True,
            }
            for c in range(CATEGORIES)
        ],
        "items": [
            {
                "id": ident("item", i),
                "category_id": ident("category", i % CATEGORIES),
                "name": f"Plato número {i}",
                "description": "Preparado al momento con insumos del día, " * 2,
                "price": 1500 + (i % 50) * 100 + price_step,
                "image_url": None,
                "is_available": i % 17 != 0,
                "sort_order": i // CATEGORIES,
                "allergens": ["gluten"] if i % 3 == 0 else [],
                "dietary_tags": ["vegetariano"] if i % 5 == 0 else [],
                "spice_level": i % 4,
                "preparation_time_min": 10 + i % 20,
                "modifier_groups": [
                    ident("group", (i + k * 7) % groups) for k in range(GROUPS_PER_ITEM)
                ]
                if groups
                else [],
            }
            for i in range(items)
        ],
        "modifier_groups": modifier_groups,
    }


async def _apply_in_process(data_dir: Path, documents: list[bytes]) -> list[dict[str, float]]:
    timings = []
    async with Store(data_dir / "edge.db") as store:
        for raw in documents:
            started = time.perf_counter()
            catalog = parse_catalog(raw)
            checked = time.perf_counter()
            await apply_catalog(store, catalog, source="central", etag='"bench"')
            done = time.perf_counter()
            timings.append(
                {
                    "check_s": round(checked - started, 3),
                    "write_s": round(done - checked, 3),
                    "total_s": round(done - started, 3),
                }
            )
    return timings


def _summary(latencies: list[float]) -> dict[str, Any]:
    return summary([latency * 1000 for latency in latencies])


def _applied_version(db_path: Path) -> str | None:
    with sqlite3.connect(db_path, timeout=30) as db:
        row = db.execute("SELECT value FROM catalog_state WHERE key = 'version'").fetchone()
    return None if row is None else str(row[0])


def _served(workdir: Path, documents: list[bytes], versions: list[str]) -> list[dict[str, Any]]:
    central = CentralDev(workdir / "central", TOKEN).start()
    data_dir = provisioned_device(20, central_url=central.url, device_token=TOKEN)
    device = device_process(
        data_dir, workdir / "device.log", RESTAI_EDGE_CATALOG_INTERVAL="1"
    ).start(30)
    figures = []
    try:
        with httpx.Client() as diner:
            check = f"{device.url}/api/customer/{SLUG}/{SLUG}-1/check-session"
            diner.post(
                f"{device.url}/api/customer/{SLUG}/{SLUG}-1/session", json={"customerName": "Ana"}
            ).raise_for_status()

            def timed() -> tuple[float, float]:
                started = time.perf_counter()
                diner.get(check).raise_for_status()
                return time.time(), time.perf_counter() - started

            quiet: list[float] = []
            until = time.monotonic() + BASELINE_SECONDS
            while time.monotonic() < until:
                quiet.append(timed()[1])
            for raw, version in zip(documents, versions, strict=True):
                seen = len(central.stats()["endpoints"].get("catalog", []))
                set_at = time.time()
                central.set_catalog(raw)
                samples: list[tuple[float, float]] = []
                next_poll = 0.0
                while True:
                    samples.append(timed())
                    if time.monotonic() >= next_poll:
                        if _applied_version(data_dir / "edge.db") == version:
                            break
                        next_poll = time.monotonic() + 0.05
                    if time.time() - set_at > 60:
                        raise RuntimeError(f"catalog {version} was not applied within 60 s")
                applied_at = time.time()
                pulls = central.stats()["endpoints"]["catalog"][seen:]
                sent_at = min(entry["at"] for entry in pulls if entry["status"] == 200)
                during = [latency for at, latency in samples if at >= sent_at]
                figures.append(
                    {
                        "version": version,
                        "pull_to_applied_s": round(applied_at - sent_at, 3),
                        "check_session_quiet": _summary(quiet),
                        "check_session_during_pull": _summary(during or [0.0]),
                    }
                )
    finally:
        device.stop(15)
        central.stop()
    return figures


def run(items: int = 2000, groups: int = 200) -> dict[str, Any]:
    first = json.dumps(make_catalog(items, groups, "bench-1")).encode()
    update = json.dumps(make_catalog(items, groups, "bench-2", price_step=50)).encode()
    in_process = asyncio.run(_apply_in_process(provisioned_device(20), [first, update]))
    with tempfile.TemporaryDirectory(prefix="restai-bench-") as tmp:
        served = _served(Path(tmp), [first, update], ["bench-1", "bench-2"])
    worst = max(entry["total_s"] for entry in in_process)
    return {
        "items": items,
        "modifier_groups": groups,
        "document_bytes": len(first),
        "apply_first": in_process[0],
        "apply_update": in_process[1],
        "served": served,
        "goal_s": GOAL_S,
        "met": worst < GOAL_S,
    }


def rows(figures: dict[str, Any]) -> list[str]:
    """The lines of `python -m bench`'s table (none for a run without this benchmark)."""
    if not figures:
        return []
    first, update = figures["apply_first"], figures["apply_update"]
    worst = max(figures["served"], key=lambda entry: entry["check_session_during_pull"]["p99_ms"])
    during, quiet = worst["check_session_during_pull"], worst["check_session_quiet"]
    met = "yes" if figures["met"] else "NO"
    return [
        f"| catalog apply, {figures['items']:,} items / {figures['modifier_groups']} groups"
        f" | first {first['total_s']:.2f} s, update {update['total_s']:.2f} s | - | - | < 2 s"
        f" | {met} |",
        f"| check-session during a catalog pull | p50 {during['p50_ms']} ms, p99"
        f" {during['p99_ms']} ms | quiet p99 {quiet['p99_ms']} ms | - | - | - |",
    ]


def report(figures: dict[str, Any]) -> None:
    print(
        f"catalog: {figures['items']} items, {figures['modifier_groups']} modifier groups,"
        f" {figures['document_bytes']:,} bytes"
    )
    for name in ("apply_first", "apply_update"):
        entry = figures[name]
        print(
            f"{name}: {entry['total_s']:.2f} s (check {entry['check_s']:.2f} s,"
            f" write {entry['write_s']:.2f} s)"
        )
    for entry in figures["served"]:
        quiet, during = entry["check_session_quiet"], entry["check_session_during_pull"]
        print(
            f"served pull {entry['version']}: {entry['pull_to_applied_s']:.2f} s from the central's"
            f" answer to applied; check-session p50/p99 {quiet['p50_ms']}/{quiet['p99_ms']} ms"
            f" quiet, {during['p50_ms']}/{during['p99_ms']} ms during (n={during['n']},"
            f" max {during['max_ms']} ms)"
        )
    verdict = "met" if figures["met"] else "MISSED"
    print(f"goal (apply under {figures['goal_s']:g} s): {verdict}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.catalog_apply", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--groups", type=int, default=200)
    args = parser.parse_args(argv)
    figures = run(args.items, args.groups)
    report(figures)
    if not figures["met"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
