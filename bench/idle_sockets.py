"""Idle diner sockets for the realtime benchmark: read a JSON list of tokens on stdin, connect
each over websocket, print `ready`, stay connected until stdin closes.

    python -m bench.idle_sockets URL
"""

from __future__ import annotations

import asyncio
import json
import sys

import socketio


async def main(url: str) -> None:
    tokens = json.loads(sys.stdin.readline())
    clients = [socketio.AsyncClient(reconnection=False) for _ in tokens]
    await asyncio.gather(
        *(
            client.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=10)
            for client, token in zip(clients, tokens, strict=True)
        )
    )
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await asyncio.gather(*(client.disconnect() for client in clients))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
