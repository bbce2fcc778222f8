"""Diners whose socket is down, for the realtime benchmark: each polls what the diner page polls
then (`GET /api/customer/orders`) every PERIOD seconds, from a random starting point. Reads a
JSON list of diner tokens on stdin, prints `ready` once every diner polls, prints the number of
polls answered when stdin closes.

    python -m bench.poll_diners URL [PERIOD]
"""

from __future__ import annotations

import asyncio
import json
import random
import sys

import httpx


async def diner(http: httpx.AsyncClient, token: str, period: float, answered: list[int]) -> None:
    await asyncio.sleep(random.uniform(0, period))
    headers = {"Authorization": f"Bearer {token}"}
    while True:
        started = asyncio.get_running_loop().time()
        answer = await http.get("/api/customer/orders", headers=headers)
        if answer.status_code == 200:
            answered[0] += 1
        elapsed = asyncio.get_running_loop().time() - started
        await asyncio.sleep(max(0.0, period - elapsed))


async def main(url: str, period: float) -> None:
    tokens = json.loads(sys.stdin.readline())
    answered = [0]
    limits = httpx.Limits(max_connections=len(tokens), max_keepalive_connections=len(tokens))
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:
        tasks = [asyncio.create_task(diner(http, token, period, answered)) for token in tokens]
        await asyncio.sleep(period)
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    print(answered[0], flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 3.0))
