"""The Sanic app both servers run (the device and the reference central): one that stops
whenever it is told to, start-up included."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from sanic import Sanic
from sanic.app import config_type, ctx_type


class ServerApp(Sanic[config_type, ctx_type]):
    """A Sanic app that keeps a stop signal arriving while it starts.

    Sanic installs its SIGTERM and SIGINT handlers before the after_server_start listeners run,
    and its handler stops the event loop there and then. Arriving while those listeners run
    (a `systemctl restart` right after a start, a test stopping the server it has just seen
    answer), the stop either breaks start-up with a RuntimeError that skips every stop listener
    (the store's thread then keeps the process alive, and Sanic ignores the next signals), or is
    swallowed by the start-up step and the server serves on. So until the server serves, a stop
    is only noted, and carried out in the first turn of serving.
    """

    __slots__ = ("_deferred_stop",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deferred_stop: partial[None] | None = None

    def stop(self, terminate: bool = True, unregister: bool = False) -> None:
        if self.state.is_running:
            super().stop(terminate=terminate, unregister=unregister)
        else:
            self._deferred_stop = partial(super().stop, terminate=terminate, unregister=unregister)

    def set_serving(self, serving: bool) -> None:
        super().set_serving(serving)
        # Sanic marks the app serving just before it runs the loop for good: a callback queued
        # now runs in that loop, where stopping it starts the orderly shutdown.
        if serving and self._deferred_stop is not None:
            asyncio.get_event_loop().call_soon(self._deferred_stop)
            self._deferred_stop = None
