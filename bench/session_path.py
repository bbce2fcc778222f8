"""A created session's own work, without HTTP: what the device's handler runs for
`POST .../session` (the address quotas, `sessions.request_table` with its group commit, the
diner's token, the answer's view), 32 requests at a time on a provisioned store.

The server's instruction count moves by about 1% from run to run (README, Performance, sixth
pass); this path alone repeats to about 0.3%, enough to tell a change of a few thousand
instructions from noise. Not a goal of `make bench`: a tool to decide with.

    python -m bench.session_path [--sessions N]
    valgrind --tool=callgrind --instr-atstart=no python -m bench.session_path --callgrind
    python -m bench.session_path --one-by-one [--sessions N]

With `--callgrind`, instrumentation is on for the measured sessions only, after a warm-up:
callgrind's total divided by N is the instructions per created session.

With `--one-by-one`, the sessions are created one at a time, 1 ms apart, as a dining room
writes, and their latencies are reported (p50, p99, max): the tail of a lone write, which
checkpoints inside a COMMIT used to set (README, Performance, eighth pass).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import time
from pathlib import Path

import uvloop

from bench.device import DEVICE_ENV, SLUG, provisioned_device
from bench.http_bench import CONNECTIONS
from bench.latency import summary
from edge import sessions
from edge.app import build_context
from edge.context import EdgeContext
from edge.quotas import AddressQuotas
from edge.settings import Settings

WARM_UP = 300
ADDRESS = "127.0.0.1"


async def _create(ctx: EdgeContext, number: int, diner: sessions.DinerInfo) -> None:
    branch, table = await ctx.directory.table(SLUG, f"{SLUG}-{number}")
    with AddressQuotas(ctx, ADDRESS) as quotas:
        outcome = await sessions.request_table(ctx, branch, table, diner)
        quotas.settle(outcome)
    assert outcome.session is not None and not outcome.existing
    sessions.session_view(outcome.session)


async def _load(ctx: EdgeContext, first: int, count: int) -> None:
    diner = sessions.DinerInfo("Bench Diner")
    numbers = list(range(first, first + count))

    async def connection(mine: list[int]) -> None:
        for number in mine:
            await _create(ctx, number, diner)

    await asyncio.gather(*(connection(numbers[i::CONNECTIONS]) for i in range(CONNECTIONS)))


async def _one_by_one(ctx: EdgeContext, first: int, count: int) -> list[float]:
    diner = sessions.DinerInfo("Bench Diner")
    took = []
    for number in range(first, first + count):
        started = time.perf_counter()
        await _create(ctx, number, diner)
        took.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.001)
    return took


def _callgrind(switch: str) -> None:
    command = ["callgrind_control", "-i", switch, str(os.getpid())]
    subprocess.run(command, check=True, capture_output=True)


async def measure(data_dir: Path, count: int, callgrind: bool, one_by_one: bool) -> None:
    ctx = build_context(Settings.resolve({"data_dir": data_dir}, DEVICE_ENV))
    await ctx.store.open()
    try:
        await ctx.directory.load()
        await ctx.live.load(ctx.store)
        await _load(ctx, 1, WARM_UP)
        if one_by_one:
            took = await _one_by_one(ctx, WARM_UP + 1, count)
            print(f"{count} sessions one by one: {summary(took)}")
            return
        if callgrind:
            _callgrind("on")
        wall, cpu = time.perf_counter(), time.process_time()
        await _load(ctx, WARM_UP + 1, count)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if callgrind:
            _callgrind("off")
    finally:
        await ctx.store.close()
    each = f"{wall / count * 1e6:.1f} us wall, {cpu / count * 1e6:.1f} us CPU each"
    print(f"{count} sessions: {each}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.session_path", description=__doc__)
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--callgrind", action="store_true", help="instrument only the measure")
    parser.add_argument("--one-by-one", action="store_true", help="latency of lone writes")
    args = parser.parse_args()
    data_dir = provisioned_device(WARM_UP + args.sessions)
    uvloop.run(measure(data_dir, args.sessions, args.callgrind, args.one_by_one))


if __name__ == "__main__":
    main()
