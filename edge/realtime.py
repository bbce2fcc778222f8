"""Socket.IO on the device's own host and port: who may listen to what, and catch-up.

Clients connect with `auth: {token, since?}`. A diner lands in `session:{id}` (and `diners:{id}`
of its branch, for branch-wide news such as `menu:updated`), staff in
`branch:{id}`. Domain events reach clients only through `EventLog` listeners, after commit.

Catch-up: a client that says `since` first gets every event after that id it may see, then live
ones. While a client catches up, live events meant for it are held in its buffer and sent after
the backlog, so nothing arrives out of order or twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import socketio
from engineio.async_drivers.sanic import WebSocket as SanicWebSocket
from sanic import Request, Sanic
from sanic.response import HTTPResponse

from edge.auth import diner_from_token, staff_from_token
from edge.context import EdgeContext
from edge.errors import ApiError, Forbidden, TokenRequired, ValidationError
from edge.events import BRANCH_ONLY_EVENTS, DINER_BROADCAST_EVENTS, Event
from edge.tokens import CustomerClaims, StaffClaims

log = logging.getLogger("restai_edge.realtime")

# Events after which a diner's token is dead: the diner hears the event, then is disconnected.
SESSION_FINAL_EVENTS = frozenset({"session:rejected", "session:ended"})
EXPIRY_CHECK_SECONDS = 10
# Staff rights are re-checked this often: a removed waiter's tablet stops listening within it.
REVOCATION_CHECK_SECONDS = 3
CATCH_UP_LIMIT = 5000
SOCKETIO_PATH = "socket.io"
MAX_MESSAGE_BYTES = 64 * 1024
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


@dataclass
class Client:
    claims: CustomerClaims | StaffClaims
    catching_up: bool = False
    held: list[Event] = field(default_factory=list)
    # Highest event id sent by catch-up: a committed event can be read by catch-up before its
    # live dispatch runs, and must not then arrive twice.
    caught_up_to: int = 0

    @property
    def is_customer(self) -> bool:
        return isinstance(self.claims, CustomerClaims)

    def may_see(self, event: Event) -> bool:
        if isinstance(self.claims, CustomerClaims):
            if event.session_id is None:
                return (
                    event.name in DINER_BROADCAST_EVENTS
                    and event.branch_id == self.claims.branch_id
                )
            return event.session_id == self.claims.session_id and event.name not in (
                BRANCH_ONLY_EVENTS
            )
        return event.branch_id == self.claims.branch_id


def _refusal(error: ApiError) -> socketio.exceptions.ConnectionRefusedError:
    """The client's `connect_error` gets `{message, data: {code, message}}`."""
    return socketio.exceptions.ConnectionRefusedError(
        error.text, {"code": error.code, "message": error.text}
    )


def _failure(error: ApiError) -> dict[str, Any]:
    return {"ok": False, "error": {"code": error.code, "message": error.text}}


class EdgeNamespace(socketio.AsyncNamespace):
    def __init__(self, ctx: EdgeContext) -> None:
        super().__init__("/")
        self._ctx = ctx
        self._clients: dict[str, Client] = {}

    async def trigger_event(self, event: str, *args: Any) -> Any:
        """Answer events we do not know with an error ack instead of silence."""
        if event in {"connect", "disconnect"} or hasattr(self, f"on_{event}"):
            return await super().trigger_event(event, *args)
        return _failure(ValidationError(f"Evento desconocido: {event[:40]}"))

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        since = auth.get("since") if isinstance(auth, dict) else None
        if not isinstance(token, str) or not token:
            raise _refusal(TokenRequired())
        if since is not None and (
            isinstance(since, bool) or not isinstance(since, int) or since < 0
        ):
            raise _refusal(ValidationError("'since' debe ser un eventId entero"))
        try:
            claims = self._ctx.tokens.decode(token)
            if isinstance(claims, CustomerClaims):
                await diner_from_token(self._ctx, claims, need_active=False)
                # Their session, and the branch's news for every diner (a menu change).
                rooms = [f"session:{claims.session_id}", f"diners:{claims.branch_id}"]
            else:
                await staff_from_token(self._ctx, claims)
                rooms = [f"branch:{claims.branch_id}"]
        except ApiError as error:
            raise _refusal(error) from None
        client = Client(claims, catching_up=since is not None)
        self._clients[sid] = client
        for room in rooms:
            await self.enter_room(sid, room)
        if since is not None:
            self.server.start_background_task(self._catch_up, sid, client, since)

    async def _catch_up(self, sid: str, client: Client, since: int) -> None:
        # The connect handshake completes after on_connect returns; events sent before it
        # would be dropped by the client.
        for _ in range(1000):
            if self.server.manager.is_connected(sid, "/"):
                break
            await asyncio.sleep(0.001)
        async with self._ctx.events.dispatch_lock:
            missed = await self._ctx.events.since(since, CATCH_UP_LIMIT)
            last = since
            for event in missed:
                if client.may_see(event):
                    await self.emit(event.name, event.data, to=sid)
                last = event.id
            for event in client.held:
                if event.id > last:
                    await self.emit(event.name, event.data, to=sid)
            client.held.clear()
            client.caught_up_to = last
            client.catching_up = False

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self._clients.pop(sid, None)

    async def on_subscribe(self, sid: str, channel: Any = None) -> dict[str, Any]:
        """The seed's `subscribe`: join a channel one may see."""
        client = self._clients.get(sid)
        if client is None:
            return _failure(Forbidden())
        if not isinstance(channel, str) or ":" not in channel or len(channel) > 100:
            return _failure(ValidationError("Canal invalido: se espera 'session:<id>'"))
        kind, _, ident = channel.partition(":")
        if kind == "session" and isinstance(client.claims, CustomerClaims):
            allowed = ident == client.claims.session_id
        elif kind == "session":
            try:
                # A staff member removed or changed since connecting hears no more tables.
                await staff_from_token(self._ctx, client.claims)
            except ApiError as error:
                return _failure(error)
            owner = await self._ctx.store.fetch_value(
                "SELECT branch_id FROM sessions WHERE id = ?", (ident,)
            )
            allowed = owner == client.claims.branch_id
        elif kind == "branch":
            allowed = not client.is_customer and ident == client.claims.branch_id
        else:
            return _failure(ValidationError("Canal invalido: se espera 'session:<id>'"))
        if not allowed:
            return _failure(Forbidden("No puedes suscribirte a ese canal"))
        await self.enter_room(sid, channel)
        return {"ok": True}

    async def on_unsubscribe(self, sid: str, channel: Any = None) -> dict[str, Any]:
        if not isinstance(channel, str):
            return _failure(ValidationError("Canal invalido"))
        await self.leave_room(sid, channel)
        return {"ok": True}

    async def deliver(self, event: Event) -> None:
        """EventLog listener: send a committed event to every room that may see it."""
        sids = self._sids_in(event.rooms)
        held = []
        for sid in sids:
            client = self._clients.get(sid)
            if client is None:
                continue
            if client.catching_up:
                client.held.append(event)
                held.append(sid)
            elif client.caught_up_to >= event.id:
                held.append(sid)
        # With nobody in its rooms to tell, python-socketio's emit would still encode the packet
        # and walk the rooms again, inside the request that recorded the event.
        if len(held) < len(sids):
            await self.emit(event.name, event.data, to=event.rooms, skip_sid=held or None)
        if event.name in SESSION_FINAL_EVENTS and event.session_id:
            await self._disconnect_diners(event.session_id)

    def _sids_in(self, rooms: list[str]) -> set[str]:
        sids: set[str] = set()
        for room in rooms:
            sids.update(sid for sid, _ in self.server.manager.get_participants("/", room))
        return sids

    async def _disconnect_diners(self, session_id: str) -> None:
        for sid, client in list(self._clients.items()):
            if isinstance(client.claims, CustomerClaims) and client.claims.session_id == session_id:
                await self.disconnect(sid)

    async def drop_revoked(self) -> None:
        """Scheduled: disconnect staff whose token no longer holds: removed, role or PIN
        changed (also by the CLI, in another process: the store is the one truth), logged out.
        The same check as every HTTP request, so a socket cannot outlive its token's rights."""
        for sid, client in list(self._clients.items()):
            if isinstance(client.claims, StaffClaims):
                try:
                    await staff_from_token(self._ctx, client.claims)
                except ApiError:
                    await self.disconnect(sid)

    async def drop_expired(self) -> None:
        """Scheduled: disconnect clients whose token has expired."""
        now = time.time()
        for sid, client in list(self._clients.items()):
            if client.claims.expires_at <= now:
                await self.disconnect(sid)


class ClosingAwareWebSocket(SanicWebSocket):  # type: ignore[misc]
    """engine.io's Sanic websocket, made to end quietly when a phone drops it mid-upgrade.

    Sanic's `recv` raises CancelledError when the connection closes while it waits; engine.io
    expects OSError there during a polling-to-websocket upgrade, so the drop surfaced as an
    unhandled request error (a real cancellation of the task, at shutdown, still propagates).
    And once the socket is done, the connection is a websocket, not HTTP: there is no HTTP
    answer to give, and trying to write one on the closed transport failed too.
    """

    async def __call__(self, environ: dict[str, Any]) -> None:
        await super().__call__(environ)

    async def wait(self) -> Any:
        try:
            return await super().wait()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            raise OSError("websocket closed by the client") from None


class EdgeSocketServer(socketio.AsyncServer):
    """python-socketio's server, with repairs to engine.io's socket lifecycle.

    They touch engine.io internals (`eio.sockets`, a socket's `queue`, the driver's websocket
    class), hence the pin on python-engineio in pyproject.toml.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.eio._async = {**self.eio._async, "websocket": ClosingAwareWebSocket}

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        """A packet that does not decode (JSON nested past the parser's depth, an unknown or
        unexpected packet type) is bad input from a stranger, not a server error: python-socketio
        raises, and engine.io would log each one with a traceback. The packet is dropped with
        one line; the connection stays as it was (one that never connected can do nothing).
        Our event handlers run as tasks of their own, so their failures never land here."""
        try:
            await super()._handle_eio_message(eio_sid, data)
        except (ValueError, RecursionError) as exc:
            log.warning("Dropped a malformed Socket.IO packet: %s", exc)

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        await super()._handle_eio_disconnect(eio_sid, reason)
        # engine.io closes a polling socket on the client's CLOSE packet without waking its
        # pending long-poll GET, which then hangs for ping_interval + ping_timeout (~45 s) and
        # keeps the client's disconnect waiting as long. An empty packet list ends it now.
        if reason == self.eio.reason.CLIENT_DISCONNECT:
            socket = self.eio.sockets.get(eio_sid)
            if socket is not None:
                socket.queue.put_nowait(None)

    async def close_all(self, flush_timeout: float = 2.0) -> None:
        """Disconnect every client before the server stops, so that shutdown is prompt.

        Otherwise pending long-polls hold Sanic's graceful shutdown for its full timeout and
        each client's ping task is destroyed pending when the loop closes (logged as an error).
        Not `eio.disconnect()`: it waits without a limit on each socket's queue and hangs on a
        client that is disconnecting at that moment.
        """
        sockets = list(self.eio.sockets.values())
        for socket in sockets:
            await socket.close(wait=False)
        flushes = [asyncio.create_task(socket.queue.join()) for socket in sockets]
        if flushes:
            _, stuck = await asyncio.wait(flushes, timeout=flush_timeout)
            for task in stuck:
                task.cancel()
        for socket in sockets:
            if not socket.upgraded:
                # A browser polls once more after the CLOSE packet: answer it at once.
                socket.queue.put_nowait(None)
        await self.shutdown()


async def cancel_socket_tasks() -> None:
    """Cancel engine.io's per-client ping tasks still sleeping once the server has stopped."""
    current = asyncio.current_task()
    leftovers = [
        task
        for task in asyncio.all_tasks()
        if task is not current
        and not task.done()
        and getattr(task.get_coro(), "__qualname__", "").startswith("AsyncSocket.")
    ]
    for task in leftovers:
        task.cancel()
    await asyncio.gather(*leftovers, return_exceptions=True)


def mount(app: Sanic, server: EdgeSocketServer) -> None:
    """`server.attach(app)`, with a route Sanic knows may end as a websocket: a finished
    websocket session has no HTTP answer, and Sanic refuses a handler that returns none unless
    the handler is marked as a websocket one."""

    async def socketio_endpoint(request: Request) -> HTTPResponse | None:
        response: HTTPResponse | None = await server.handle_request(request)
        if response is not None:
            # Long-poll answers carry events with diners' names and phones: never cached.
            response.headers.update(NO_STORE)
        return response

    socketio_endpoint.is_websocket = True  # type: ignore[attr-defined]
    app.add_route(
        socketio_endpoint, f"/{SOCKETIO_PATH}/", methods=["GET", "POST", "OPTIONS"], name="socketio"
    )
    app.enable_websocket()


def attach_realtime(app: Sanic, ctx: EdgeContext) -> EdgeNamespace:
    # Same-origin only (the default): the pages are served by the device itself. Messages
    # from clients are small; refuse anything past the HTTP body limit.
    server = EdgeSocketServer(
        async_mode="sanic",
        logger=False,
        engineio_logger=False,
        max_http_buffer_size=MAX_MESSAGE_BYTES,
    )
    namespace = EdgeNamespace(ctx)
    server.register_namespace(namespace)
    mount(app, server)
    ctx.events.listen(namespace.deliver)

    @app.before_server_stop
    async def disconnect_clients(app: Sanic) -> None:
        await server.close_all()

    @app.after_server_stop
    async def cancel_leftovers(app: Sanic) -> None:
        await cancel_socket_tasks()

    return namespace
