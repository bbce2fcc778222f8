"""Table service flowing during the realtime benchmark, as in a busy dining room: active tables
call the waiter and ask for the bill, and a waiter marks each request done, at a steady rate.
Read `{"url", "staff", "diners": [{"sessionId", "token"}], "per_second"}` on stdin, print `ready`,
keep going until stdin closes, then print how many requests were made.

    python -m bench.table_service_noise
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
from typing import Any

import httpx


async def _loop(plan: dict[str, Any], stop: asyncio.Event) -> int:
    url, pause = plan["url"], 1 / plan["per_second"]
    staff = {"Authorization": f"Bearer {plan['staff']}"}
    made = 0
    actions = itertools.cycle(("call_waiter", "request_bill"))
    async with httpx.AsyncClient(timeout=10) as http:
        for diner in itertools.cycle(plan["diners"]):
            if stop.is_set():
                break
            answer = await http.post(
                f"{url}/api/customer/table-action",
                json={"action": next(actions), "tableSessionId": diner["sessionId"]},
                headers={"Authorization": f"Bearer {diner['token']}"},
            )
            answer.raise_for_status()
            request_id = answer.json()["data"]["requestId"]
            done = await http.patch(f"{url}/api/tables/requests/{request_id}/done", headers=staff)
            done.raise_for_status()
            made += 2
            await asyncio.sleep(pause)
    return made


async def main() -> None:
    plan = json.loads(sys.stdin.readline())
    stop = asyncio.Event()
    work = asyncio.create_task(_loop(plan, stop))
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    stop.set()
    print(await work, flush=True)


if __name__ == "__main__":
    asyncio.run(main())
