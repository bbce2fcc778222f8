"""What the running device holds, typed, handed to every layer (the Sanic app's `ctx`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from edge.branch import BranchDirectory
from edge.events import EventLog
from edge.live import LiveSessions
from edge.ratelimit import Lockout, PendingQuota, SlidingWindow
from edge.settings import Settings
from edge.store import Store
from edge.tokens import TokenService

LOGIN_FAILURE_LIMIT = 5
LOGIN_FAILURE_WINDOW = 300
LOGIN_LOCKOUT = 300


@dataclass
class EdgeContext:
    settings: Settings
    store: Store
    tokens: TokenService
    directory: BranchDirectory
    events: EventLog
    pin_key: str
    session_limiter: SlidingWindow | None
    pending_quota: PendingQuota | None
    live: LiveSessions = field(default_factory=LiveSessions)
    login_lockout: Lockout = field(
        default_factory=lambda: Lockout(LOGIN_FAILURE_LIMIT, LOGIN_FAILURE_WINDOW, LOGIN_LOCKOUT)
    )

    def __repr__(self) -> str:
        return f"EdgeContext(settings={self.settings!r}, store={self.store.path})"
