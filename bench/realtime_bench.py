"""Realtime latency with a crowd: create -> staff `session:pending`, approve -> diner
`session:approved` and call the waiter -> staff `table:call_waiter`, p50/p99, with 300 idle diner
sockets connected and table service flowing meanwhile; and the server's RSS then.

Then the small-CPU case: the server pinned to one core while 300 diners whose sockets are down
poll their orders every 3 s (from another process on the other core), approve -> diner p99.

Latency is measured from just before the HTTP request is sent to the event's arrival at the
client, so it includes the request, the transaction and the delivery.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import socketio

from bench.device import MANAGER_PIN, SLUG, device_process, pinned, provisioned_device, rss_mb
from bench.latency import summary

IDLE_DINERS = 300
# The first SAMPLES diners are approved one by one; the other sockets only idle.
SAMPLES = 150
# Tables calling the waiter and asking for the bill all along, each request marked done by a
# waiter: about ten table-service events a second, far busier than any dining room.
NOISE_TABLES = 20
NOISE_PER_SECOND = 10
POLLING_DINERS = 300
POLL_PERIOD = 3.0
SERVER_CORE, LOAD_CORE = "0", "1"


class Arrivals:
    """Arrival times of events, keyed by (event name, session id)."""

    def __init__(self) -> None:
        self.times: dict[tuple[str, str], float] = {}
        self.waiters: dict[tuple[str, str], asyncio.Future[float]] = {}

    def handler(self, name: str):  # type: ignore[no-untyped-def]
        async def record(data: dict[str, Any]) -> None:
            key = (name, data["sessionId"])
            now = time.perf_counter()
            self.times[key] = now
            waiter = self.waiters.pop(key, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(now)

        return record

    async def wait(self, name: str, session_id: str) -> float:
        key = (name, session_id)
        if key in self.times:
            return self.times[key]
        future = asyncio.get_running_loop().create_future()
        self.waiters[key] = future
        return await asyncio.wait_for(future, 10)


async def _connect(url: str, token: str, arrivals: Arrivals, events: list[str]) -> Any:
    client = socketio.AsyncClient(reconnection=False)
    for name in events:
        client.on(name, arrivals.handler(name))
    await client.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=10)
    return client


async def _measure(url: str, pid: int) -> dict[str, Any]:
    prefix = f"{url}/api/customer/{SLUG}/{SLUG}-"
    arrivals = Arrivals()
    async with httpx.AsyncClient(timeout=10) as http:
        staff_token = (
            await http.post(f"{url}/api/auth/staff/login", json={"pin": MANAGER_PIN})
        ).json()["data"]["token"]
        headers = {"Authorization": f"Bearer {staff_token}"}
        diners = []
        for number in range(1, IDLE_DINERS + 1):
            answer = await http.post(f"{prefix}{number}/session", json={"customerName": "Idle"})
            diners.append(answer.json()["data"])
        staff = await _connect(url, staff_token, arrivals, ["session:pending", "table:call_waiter"])
        measured = diners[:SAMPLES]
        sockets = await asyncio.gather(
            *(_connect(url, d["token"], arrivals, ["session:approved"]) for d in measured)
        )
        # The rest idle in a process of their own, so their pings cost the server, as idle
        # phones do, but never delay the measuring client.
        idle = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.idle_sockets",
            url,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert idle.stdin is not None and idle.stdout is not None
        idle.stdin.write(json.dumps([d["token"] for d in diners[SAMPLES:]]).encode() + b"\n")
        await idle.stdin.drain()
        await idle.stdout.readline()
        # An older checkout served for a "before" figure may not have table service yet.
        table_service = (await http.get(f"{url}/api/tables/requests", headers=headers)).is_success
        noisy = diners[SAMPLES : SAMPLES + NOISE_TABLES] if table_service else []
        for diner in noisy:
            await http.patch(
                f"{url}/api/tables/sessions/{diner['sessionId']}/approve", headers=headers
            )
        noise = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.table_service_noise",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert noise.stdin is not None and noise.stdout is not None
        plan = {"url": url, "staff": staff_token, "diners": noisy, "per_second": NOISE_PER_SECOND}
        noise.stdin.write(json.dumps(plan).encode() + b"\n")
        await noise.stdin.drain()
        await noise.stdout.readline()
        noise_started = time.perf_counter()
        await asyncio.sleep(1)
        rss_with_sockets = rss_mb(pid)

        created_latency = []
        for number in range(IDLE_DINERS + 1, IDLE_DINERS + 1 + SAMPLES):
            started = time.perf_counter()
            answer = await http.post(f"{prefix}{number}/session", json={"customerName": "New"})
            session_id = answer.json()["data"]["sessionId"]
            arrived = await arrivals.wait("session:pending", session_id)
            created_latency.append((arrived - started) * 1000)

        approved_latency = []
        for diner in measured:
            started = time.perf_counter()
            await http.patch(
                f"{url}/api/tables/sessions/{diner['sessionId']}/approve", headers=headers
            )
            arrived = await arrivals.wait("session:approved", diner["sessionId"])
            approved_latency.append((arrived - started) * 1000)

        called_latency = []
        for diner in measured if table_service else []:
            started = time.perf_counter()
            await http.post(
                f"{url}/api/customer/table-action",
                json={"action": "call_waiter", "tableSessionId": diner["sessionId"]},
                headers={"Authorization": f"Bearer {diner['token']}"},
            )
            arrived = await arrivals.wait("table:call_waiter", diner["sessionId"])
            called_latency.append((arrived - started) * 1000)

        noise.stdin.close()
        noise_requests = int(await noise.stdout.readline())
        noise_seconds = time.perf_counter() - noise_started
        for client in (staff, *sockets):
            await client.disconnect()
        idle.stdin.close()
        await idle.wait()
        await noise.wait()
    return {
        "create -> staff session:pending": {**summary(created_latency), "goal_p99_ms": 20},
        "approve -> diner session:approved": {
            **summary(approved_latency),
            "goal_p99_ms": 20,
        },
        "call waiter -> staff table:call_waiter": {
            **(summary(called_latency) if called_latency else {}),
            "goal_p99_ms": 20,
        },
        # Every request of the noise (a call, a bill, a done) records and delivers one event.
        "table service events meanwhile": {"per_s": round(noise_requests / noise_seconds, 1)},
        "idle diner sockets": IDLE_DINERS,
        "serve RSS with sockets": {"rss_mb": round(rss_with_sockets, 1), "goal_mb": 120},
    }


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def _on_cpus(cpus: set[int]) -> Iterator[None]:
    """Keep this process (the measuring clients) on `cpus` meanwhile."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


async def _approve_latency(
    url: str, http: httpx.AsyncClient, headers: dict[str, str], arrivals: Arrivals, diners: list
) -> list[float]:
    latency = []
    for diner in diners:
        started = time.perf_counter()
        await http.patch(f"{url}/api/tables/sessions/{diner['sessionId']}/approve", headers=headers)
        arrived = await arrivals.wait("session:approved", diner["sessionId"])
        latency.append((arrived - started) * 1000)
    return latency


async def _measure_polling(url: str, pid: int) -> dict[str, Any]:
    prefix = f"{url}/api/customer/{SLUG}/{SLUG}-"
    arrivals = Arrivals()
    async with httpx.AsyncClient(timeout=30) as http:
        staff_token = (
            await http.post(f"{url}/api/auth/staff/login", json={"pin": MANAGER_PIN})
        ).json()["data"]["token"]
        headers = {"Authorization": f"Bearer {staff_token}"}
        pollers = []
        for number in range(1, POLLING_DINERS + 1):
            answer = await http.post(f"{prefix}{number}/session", json={"customerName": "Poll"})
            diner = answer.json()["data"]
            await http.patch(
                f"{url}/api/tables/sessions/{diner['sessionId']}/approve", headers=headers
            )
            pollers.append(diner["token"])
        measured = []
        for number in range(POLLING_DINERS + 1, POLLING_DINERS + 1 + SAMPLES):
            answer = await http.post(f"{prefix}{number}/session", json={"customerName": "New"})
            measured.append(answer.json()["data"])
        sockets = await asyncio.gather(
            *(_connect(url, d["token"], arrivals, ["session:approved"]) for d in measured)
        )
        polling = await asyncio.create_subprocess_exec(
            *pinned(LOAD_CORE),
            sys.executable,
            "-m",
            "bench.poll_diners",
            url,
            str(POLL_PERIOD),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert polling.stdin is not None and polling.stdout is not None
        polling.stdin.write(json.dumps(pollers).encode() + b"\n")
        await polling.stdin.drain()
        await polling.stdout.readline()
        cpu_before, started = _cpu_seconds(pid), time.perf_counter()
        with _on_cpus({int(LOAD_CORE)}):
            latency = await _approve_latency(url, http, headers, arrivals, measured)
        elapsed = time.perf_counter() - started
        busy = (_cpu_seconds(pid) - cpu_before) / elapsed
        polling.stdin.close()
        polls = int((await polling.stdout.read()).split()[-1])
        await polling.wait()
        for client in sockets:
            await client.disconnect()
    return {
        **summary(latency),
        "goal_p99_ms": 20,
        "polling_diners": POLLING_DINERS,
        "poll_period_s": POLL_PERIOD,
        "polls_answered": polls,
        "server_core_busy": round(busy, 2),
    }


def run() -> dict[str, Any]:
    device = device_process(provisioned_device(IDLE_DINERS + SAMPLES + 10)).start()
    try:
        results = asyncio.run(_measure(device.url, device.pid))
    finally:
        device.stop()
    tables = POLLING_DINERS + SAMPLES + 10
    device = device_process(provisioned_device(tables), cpus=SERVER_CORE).start()
    try:
        results["approve -> diner session:approved, one core, diners polling"] = asyncio.run(
            _measure_polling(device.url, device.pid)
        )
    finally:
        device.stop()
    return results


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
