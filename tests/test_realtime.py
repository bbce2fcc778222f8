"""Socket.IO against a real server: rooms, authorization, both transports, catch-up, expiry."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import httpx
import pytest
import socketio

from tests.conftest import KITCHEN_PIN, EdgeServer, auth

pytestmark = pytest.mark.asyncio

EVENTS = (
    "session:pending",
    "session:approved",
    "session:rejected",
    "session:ended",
    "session:joined",
    "order:new",
    "order:updated",
)
TRANSPORTS = [["websocket"], ["polling"]]


class Listener:
    """A real `socketio.AsyncClient` that records every event it hears, in order."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.arrived = asyncio.Condition()
        self.disconnected = asyncio.Event()
        self.refusal: Any = None
        for name in EVENTS:
            self.client.on(name, self._recorder(name))
        self.client.on("disconnect", self._on_disconnect)
        self.client.on("connect_error", self._on_connect_error)

    def _recorder(self, name: str):  # type: ignore[no-untyped-def]
        async def record(data: dict[str, Any]) -> None:
            async with self.arrived:
                self.events.append((name, data))
                self.arrived.notify_all()

        return record

    async def _on_disconnect(self, reason: Any = None) -> None:
        self.disconnected.set()

    async def _on_connect_error(self, data: Any) -> None:
        self.refusal = data

    async def wait_for(self, name: str, timeout: float = 5, **match: Any) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            for event, data in self.events:
                if event == name and all(data.get(k) == v for k, v in match.items()):
                    return data
            return None

        async with self.arrived:
            await asyncio.wait_for(self.arrived.wait_for(lambda: found() is not None), timeout)
        result = found()
        assert result is not None
        return result

    def names(self, session_id: str | None = None) -> list[str]:
        return [n for n, d in self.events if session_id is None or d["sessionId"] == session_id]


@asynccontextmanager
async def listening(
    server: EdgeServer, token: str, transports: list[str] | None = None, **auth_extra: Any
) -> AsyncIterator[Listener]:
    listener = Listener()
    await listener.client.connect(
        server.url,
        auth={"token": token, **auth_extra},
        transports=transports or ["websocket"],
        wait_timeout=5,
    )
    try:
        yield listener
    finally:
        await hang_up(listener.client)


async def hang_up(client: socketio.AsyncClient) -> None:
    """Disconnect, and wait until the client has let go of its connections.

    When the server hung up first, the client tells its listeners before it closes its own
    connections: left to an event loop that the test then closes, those are a ResourceWarning
    in whichever test happens to come next.
    """
    if client.connected:
        await client.disconnect()
    eio = client.eio
    deadline = asyncio.get_running_loop().time() + 10
    while eio.state != "disconnected" or (eio.http is not None and not eio.http.closed):
        assert asyncio.get_running_loop().time() < deadline, f"the client is still {eio.state}"
        await asyncio.sleep(0.01)


async def post_session(server: EdgeServer, table: str, name: str = "Juan Perez") -> dict:
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            server.customer_url(table, "session"),
            json={"customerName": name, "customerPhone": "+51900000000"},
        )
    assert answer.status_code == 201, answer.text
    return dict(answer.json()["data"])


async def staff_action(server: EdgeServer, token: str, session_id: str, action: str) -> None:
    async with httpx.AsyncClient() as http:
        answer = await http.patch(
            f"{server.url}/api/tables/sessions/{session_id}/{action}", headers=auth(token)
        )
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("transports", TRANSPORTS, ids=["websocket", "polling"])
async def test_staff_hear_pending_and_diner_hears_approval_and_end(
    server: EdgeServer, manager_token: str, transports: list[str]
) -> None:
    table = server.table_code()
    async with listening(server, manager_token, transports) as staff:
        created = await post_session(server, table)
        pending = await staff.wait_for("session:pending", sessionId=created["sessionId"])
        assert pending["customerName"] == "Juan Perez"
        assert pending["customerPhone"] == "+51900000000"
        assert pending["tableId"] == created["session"]["table_id"]
        assert pending["tableNumber"] == int(table.rsplit("-", 1)[1])
        assert isinstance(pending["eventId"], int)
        assert pending["timestamp"].endswith("Z")

        async with listening(server, created["token"], transports) as diner:
            await staff_action(server, manager_token, created["sessionId"], "approve")
            approved = await diner.wait_for("session:approved")
            assert approved["sessionId"] == created["sessionId"]
            assert approved["eventId"] > pending["eventId"]
            await staff_action(server, manager_token, created["sessionId"], "end")
            await diner.wait_for("session:ended")
            # The ended session's token dies: the diner is disconnected after hearing it.
            await asyncio.wait_for(diner.disconnected.wait(), 5)
            assert diner.names() == ["session:approved", "session:ended"]
        await staff.wait_for("session:ended", sessionId=created["sessionId"])


async def test_diner_hears_rejection_with_reason(server: EdgeServer, manager_token: str) -> None:
    created = await post_session(server, server.table_code())
    async with listening(server, created["token"]) as diner:
        await staff_action(server, manager_token, created["sessionId"], "reject")
        rejected = await diner.wait_for("session:rejected")
        assert rejected["reason"] == "rejected"
        await asyncio.wait_for(diner.disconnected.wait(), 5)


async def test_a_diner_never_hears_another_tables_events(
    server: EdgeServer, manager_token: str
) -> None:
    mine = await post_session(server, server.table_code())
    async with listening(server, mine["token"]) as diner:
        other = await post_session(server, server.table_code())
        await staff_action(server, manager_token, other["sessionId"], "approve")
        await staff_action(server, manager_token, mine["sessionId"], "approve")
        await diner.wait_for("session:approved")
        await asyncio.sleep(0.2)
        assert {d["sessionId"] for _, d in diner.events} == {mine["sessionId"]}


@pytest.mark.parametrize("transports", TRANSPORTS, ids=["websocket", "polling"])
async def test_connections_without_a_good_token_are_refused(
    server: EdgeServer, manager_token: str, transports: list[str]
) -> None:
    ended = await post_session(server, server.table_code())
    await staff_action(server, manager_token, ended["sessionId"], "reject")
    for auth_data, code in (
        (None, "UNAUTHORIZED"),
        ({}, "UNAUTHORIZED"),
        ({"token": "garbage"}, "UNAUTHORIZED"),
        ({"token": ended["token"]}, "SESSION_ENDED"),
        ({"token": manager_token, "since": "yesterday"}, "VALIDATION_ERROR"),
    ):
        listener = Listener()
        with pytest.raises(socketio.exceptions.ConnectionError):
            await listener.client.connect(
                server.url, auth=auth_data, transports=transports, wait_timeout=5
            )
        assert listener.refusal["data"]["code"] == code, (auth_data, listener.refusal)


async def test_subscribe_is_authorized_per_channel(server: EdgeServer, manager_token: str) -> None:
    mine = await post_session(server, server.table_code())
    other = await post_session(server, server.table_code())
    async with listening(server, mine["token"]) as diner:
        call = diner.client.call
        assert await call("subscribe", f"session:{mine['sessionId']}", timeout=5) == {"ok": True}
        refused = await call("subscribe", f"session:{other['sessionId']}", timeout=5)
        assert refused["ok"] is False
        assert refused["error"]["code"] == "FORBIDDEN"
        branch = await call("subscribe", "branch:whatever", timeout=5)
        assert branch["error"]["code"] == "FORBIDDEN"
        for junk in (None, 42, {"a": 1}, "nonsense", "x" * 500):
            answer = await call("subscribe", junk, timeout=5)
            assert answer["ok"] is False
            assert answer["error"]["code"] == "VALIDATION_ERROR"
        unknown = await call("launch_missiles", {"now": True}, timeout=5)
        assert unknown["ok"] is False
    async with listening(server, manager_token) as staff:
        answer = await staff.client.call("subscribe", f"session:{other['sessionId']}", timeout=5)
        assert answer == {"ok": True}
        await staff_action(server, manager_token, other["sessionId"], "approve")
        await staff.wait_for("session:approved", sessionId=other["sessionId"])
        # Heard once, although staff are in both the branch room and the session room.
        await asyncio.sleep(0.2)
        assert staff.names(other["sessionId"]).count("session:approved") == 1


async def test_catch_up_delivers_exactly_the_missed_events_in_order(
    server: EdgeServer, manager_token: str
) -> None:
    async with listening(server, manager_token) as staff:
        first = await post_session(server, server.table_code())
        seen = await staff.wait_for("session:pending", sessionId=first["sessionId"])
    last_seen = seen["eventId"]

    # The Wi-Fi blinks: these happen while the tablet is away.
    missed_sessions = [await post_session(server, server.table_code()) for _ in range(3)]
    await staff_action(server, manager_token, missed_sessions[0]["sessionId"], "approve")
    await staff_action(server, manager_token, missed_sessions[1]["sessionId"], "reject")

    async with listening(server, manager_token, since=last_seen) as staff:
        live = await post_session(server, server.table_code())
        await staff.wait_for("session:pending", sessionId=live["sessionId"])
        ids = [d["eventId"] for _, d in staff.events]
        assert ids == sorted(ids) and len(ids) == len(set(ids)), ids
        assert ids[0] > last_seen
        replayed = [(n, d["sessionId"]) for n, d in staff.events[:-1]]
        assert replayed == [
            ("session:pending", missed_sessions[0]["sessionId"]),
            ("session:pending", missed_sessions[1]["sessionId"]),
            ("session:pending", missed_sessions[2]["sessionId"]),
            ("session:approved", missed_sessions[0]["sessionId"]),
            ("session:rejected", missed_sessions[1]["sessionId"]),
        ]


async def test_diner_catch_up_sees_only_their_session(
    server: EdgeServer, manager_token: str
) -> None:
    mine = await post_session(server, server.table_code())
    await post_session(server, server.table_code())
    await staff_action(server, manager_token, mine["sessionId"], "approve")
    async with listening(server, mine["token"], ["polling"], since=0) as diner:
        approved = await diner.wait_for("session:approved")
        assert approved["sessionId"] == mine["sessionId"]
        await asyncio.sleep(0.3)
        assert diner.names() == ["session:approved"]


async def test_expiry_tells_the_waiting_diner(make_server) -> None:  # type: ignore[no-untyped-def]
    edge = make_server()
    edge.cli("settings", "pending_ttl", "5")
    await asyncio.sleep(2.5)
    created = await post_session(edge, edge.table_code())
    async with listening(edge, created["token"]) as diner:
        rejected = await diner.wait_for("session:rejected", timeout=25)
        assert rejected["reason"] == "expired"
        await asyncio.wait_for(diner.disconnected.wait(), 5)


async def test_kitchen_staff_hear_the_branch(server: EdgeServer) -> None:
    async with listening(server, server.staff_token(KITCHEN_PIN), ["polling"]) as kitchen:
        created = await post_session(server, server.table_code())
        await kitchen.wait_for("session:pending", sessionId=created["sessionId"])


async def test_clients_killed_mid_connection_leave_no_errors(server: EdgeServer) -> None:
    """Abrupt transport loss (no disconnect packet), many times: the server log stays clean."""
    created = await post_session(server, server.table_code())
    for i in range(100):
        listener = Listener()
        await listener.client.connect(
            server.url,
            auth={"token": created["token"]},
            transports=[TRANSPORTS[i % 2][0]],
            wait_timeout=5,
        )
        eio = listener.client.eio
        if eio.ws is not None:
            await eio.ws.close()
        await eio.http.close()
        await eio.disconnect(abort=True)
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{server.url}/healthz")).status_code == 200


async def test_expired_tokens_are_disconnected_within_a_minute(make_server) -> None:  # type: ignore[no-untyped-def]
    edge = make_server(RESTAI_EDGE_CUSTOMER_TOKEN_TTL="3")
    created = await post_session(edge, edge.table_code())
    async with listening(edge, created["token"]) as diner:
        await asyncio.wait_for(diner.disconnected.wait(), 3 + 10 + 5)
    refused = Listener()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await refused.client.connect(edge.url, auth={"token": created["token"]}, wait_timeout=5)
    assert refused.refusal["data"]["code"] == "UNAUTHORIZED"


async def test_stopping_the_server_disconnects_clients_promptly_and_cleanly(make_server) -> None:  # type: ignore[no-untyped-def]
    edge = make_server()
    token = edge.staff_token()
    listeners = []
    for transports in TRANSPORTS * 5:
        listener = Listener()
        await listener.client.connect(
            edge.url, auth={"token": token}, transports=transports, wait_timeout=5
        )
        listeners.append(listener)
    started = asyncio.get_running_loop().time()
    await asyncio.to_thread(edge.stop)
    assert asyncio.get_running_loop().time() - started < 5
    assert edge.process is not None and edge.process.returncode == 0
    for listener in listeners:
        await asyncio.wait_for(listener.disconnected.wait(), 5)
        await hang_up(listener.client)


async def test_websocket_upgrades_abandoned_midway_log_no_errors(
    server: EdgeServer, manager_token: str
) -> None:
    """A phone that opens the upgrade websocket and drops it (tab closed, Wi-Fi lost) before
    finishing the upgrade, as a browser does when the server ends its session meanwhile."""
    async with aiohttp.ClientSession() as http:
        for _ in range(10):
            async with http.get(f"{server.url}/socket.io/?EIO=4&transport=polling") as answer:
                handshake = json.loads((await answer.text())[1:])
            sid = handshake["sid"]
            query = f"EIO=4&sid={sid}"
            payload = "40" + json.dumps({"token": manager_token})
            async with http.post(
                f"{server.url}/socket.io/?{query}&transport=polling", data=payload
            ) as answer:
                assert answer.status == 200
            ws_url = server.url.replace("http", "ws") + f"/socket.io/?{query}&transport=websocket"
            async with http.ws_connect(ws_url) as ws:
                await ws.close()
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    assert not re.search(r"\bERROR\b", server.log()), server.log()
