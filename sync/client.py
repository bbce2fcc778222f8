"""The exchange with the central API: where to send, one batch out, a classified answer back."""

from __future__ import annotations

import asyncio
import enum
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from edge.secret_files import DEVICE_TOKEN, read_optional_secret
from edge.store import Store
from sync.backoff import retry_after_seconds

INGEST_PATH = "/api/edge/v1/sessions"
CATALOG_PATH = "/api/edge/v1/catalog"
HEARTBEAT_PATH = "/api/edge/v1/heartbeat"
MESSAGE_MAX = 200


class UplinkError(Exception):
    """The device has a central URL but cannot use it as configured."""


@dataclass(frozen=True)
class Uplink:
    url: str
    token: str = field(repr=False)
    device_id: str
    branch_slug: str
    base: str = ""

    @property
    def catalog_url(self) -> str:
        return self.base + CATALOG_PATH

    @property
    def heartbeat_url(self) -> str:
        return self.base + HEARTBEAT_PATH

    @property
    def auth_header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def load_uplink(store: Store, data_dir: Path) -> Uplink | None:
    """Where this device uploads, or None when it has no central URL (sync disabled).

    Read on every pass, so a re-provisioned URL or a replaced `device.token` needs no restart.
    """
    branch = await store.fetch_one("SELECT slug, device_id, central_url FROM branch LIMIT 1")
    if branch is None or not branch["central_url"]:
        return None
    token = read_optional_secret(data_dir, DEVICE_TOKEN)
    if token is None:
        raise UplinkError(
            f"no device token in {data_dir / DEVICE_TOKEN}: provision again with --device-token"
        )
    base = branch["central_url"].rstrip("/")
    return Uplink(
        url=base + INGEST_PATH,
        token=token,
        device_id=branch["device_id"],
        branch_slug=branch["slug"],
        base=base,
    )


class Outcome(enum.Enum):
    ACCEPTED = "accepted"
    TOO_LARGE = "too_large"
    REFUSED = "refused"
    RETRY = "retry"


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    status: int | None = None
    message: str = ""
    accepted: frozenset[str] = frozenset()
    retry_after: float | None = None


@dataclass(frozen=True)
class Timeouts:
    """How long one request may take; the lease on claimed rows outlasts it."""

    connect: float
    read: float

    @classmethod
    def for_period(cls, period: float) -> Timeouts:
        # A pass blocks the next ones, so an answer is awaited for about two sync periods,
        # within bounds that suit a slow uplink (30 s) and a test run (3 s).
        read = min(30.0, max(3.0, 2.0 * period))
        return cls(connect=min(5.0, read), read=read)

    @property
    def deadline(self) -> float:
        """Whole-request bound: a server that trickles bytes never trips the read timeout."""
        return self.connect + 2 * self.read

    @property
    def lease(self) -> float:
        return self.deadline + 30.0

    def for_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(self.read, connect=self.connect, pool=self.connect)


def ingest_body(uplink: Uplink, payloads: list[str]) -> bytes:
    """The request body, with the stored payloads spliced in as they are (already JSON)."""
    head = json.dumps({"deviceId": uplink.device_id, "branchSlug": uplink.branch_slug})
    return f'{head[:-1]}, "sessions": [{", ".join(payloads)}]}}'.encode()


def error_message(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        message = f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        message = response.text.strip() or response.reason_phrase
    return f"central answered HTTP {response.status_code}: {message}"[:MESSAGE_MAX]


def _accepted_ids(response: httpx.Response) -> frozenset[str] | None:
    try:
        data: Any = response.json()
        accepted = data["data"]["accepted"]
    except (ValueError, KeyError, TypeError):
        return None
    if data.get("success") is not True or not isinstance(accepted, list):
        return None
    if not all(isinstance(item, str) for item in accepted):
        return None
    return frozenset(accepted)


def classify(response: httpx.Response) -> Answer:
    status = response.status_code
    if 200 <= status < 300:
        accepted = _accepted_ids(response)
        if accepted is None:
            snippet = response.text[:60].strip()
            return Answer(
                Outcome.RETRY, status, f"central answered HTTP {status} without an ack: {snippet!r}"
            )
        return Answer(Outcome.ACCEPTED, status, accepted=accepted)
    message = error_message(response)
    if status in (401, 403):
        return Answer(Outcome.REFUSED, status, message)
    if status == 413:
        return Answer(Outcome.TOO_LARGE, status, message)
    retry_after = retry_after_seconds(response.headers.get("retry-after"), time.time())
    return Answer(Outcome.RETRY, status, message, retry_after=retry_after)


async def post_batch(
    client: httpx.AsyncClient, uplink: Uplink, payloads: list[str], timeouts: Timeouts
) -> Answer:
    """Send one batch; every way it can go wrong becomes an Answer, never an exception."""
    try:
        async with asyncio.timeout(timeouts.deadline):
            response = await client.post(
                uplink.url,
                content=ingest_body(uplink, payloads),
                headers={
                    "Authorization": f"Bearer {uplink.token}",
                    "Content-Type": "application/json",
                },
            )
    except (httpx.TimeoutException, TimeoutError):
        return Answer(Outcome.RETRY, None, f"central did not answer within {timeouts.read:g} s")
    except httpx.HTTPError as exc:
        detail = str(exc) or type(exc).__name__
        return Answer(Outcome.RETRY, None, f"cannot reach central: {detail}"[:MESSAGE_MAX])
    return classify(response)
