"""Fault injection: how the central misbehaves on purpose, as set through `POST /_control`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sync.central.responses import BadRequest

FAULT_MODES = (
    "ok",
    "500",
    "401",
    "403",
    "slow",
    "413",
    "429",
    "garbage",
    "partial",
    "down",
)

DEFAULT_SLOW_DELAY = 30.0
MAX_SLOW_DELAY = 3600.0
DEFAULT_MAX_BATCH = 10
DEFAULT_RETRY_AFTER = 1
GARBAGE_BODY = b"<html><body><h1>502 Bad Gateway</h1>upstream says hi</body></html>"


@dataclass
class FaultState:
    mode: str = "ok"
    remaining: int | None = None  # None = until changed
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "times": self.remaining, "params": dict(self.params)}

    def take(self) -> tuple[str, dict[str, Any]]:
        """Return the fault for the current request and consume one use."""
        mode, params = self.mode, dict(self.params)
        if self.mode != "ok" and self.remaining is not None:
            self.remaining -= 1
            if self.remaining <= 0:
                self.mode, self.remaining, self.params = "ok", None, {}
        return mode, params


def parse_control(data: Any) -> FaultState:
    """Validate a /_control body and build the new fault state."""
    if not isinstance(data, dict):
        raise BadRequest("Body must be a JSON object")
    mode = data.get("mode")
    if isinstance(mode, int) and not isinstance(mode, bool):
        mode = str(mode)
    if mode not in FAULT_MODES:
        raise BadRequest(f"'mode' must be one of {', '.join(FAULT_MODES)}")

    times = data.get("times")
    if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 1):
        raise BadRequest("'times' must be a positive integer or null")

    def number(name: str, default: float, minimum: float, maximum: float | None = None) -> float:
        value = data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadRequest(f"'{name}' must be a number")
        if value < minimum or (maximum is not None and value > maximum):
            raise BadRequest(f"'{name}' is out of range")
        return value

    def integer(name: str, default: int | None, minimum: int) -> int | None:
        value = data.get(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise BadRequest(f"'{name}' must be an integer >= {minimum}")
        return value

    params: dict[str, Any] = {}
    if mode == "slow":
        params["delay"] = number("delay", DEFAULT_SLOW_DELAY, 0, MAX_SLOW_DELAY)
    elif mode == "413":
        params["max_batch"] = integer("max_batch", DEFAULT_MAX_BATCH, 0)
    elif mode == "429":
        params["retry_after"] = integer("retry_after", DEFAULT_RETRY_AFTER, 0)
    elif mode == "partial":
        params["accept"] = integer("accept", None, 0)  # None = half, rounded up

    if mode == "ok":
        return FaultState()
    return FaultState(mode=mode, remaining=times, params=params)
