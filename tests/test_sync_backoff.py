"""Retry arithmetic and the reading of the central's answers, without a network."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from sync.backoff import RETRY_AFTER_MAX, full_jitter, retry_after_seconds
from sync.client import Outcome, Timeouts, Uplink, classify, ingest_body

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    "failures,ceiling", [(1, 15), (2, 30), (3, 60), (4, 120), (5, 240), (6, 300), (60, 300)]
)
def test_full_jitter_doubles_from_the_period_up_to_the_cap(failures: int, ceiling: float) -> None:
    assert full_jitter(failures, 15, 300, rand=lambda: 1.0) == ceiling
    assert full_jitter(failures, 15, 300, rand=lambda: 0.0) == 0.0
    assert full_jitter(failures, 15, 300, rand=lambda: 0.5) == ceiling / 2


def test_full_jitter_spreads_the_waits() -> None:
    waits = [full_jitter(3, 15, 300) for _ in range(2000)]
    assert all(0 <= wait <= 60 for wait in waits)
    assert min(waits) < 6 and max(waits) > 54, "waits are not spread over [0, ceiling]"


def test_no_failure_no_wait() -> None:
    assert full_jitter(0, 15, 300, rand=lambda: 1.0) == 0.0


@pytest.mark.parametrize(
    "header,expected",
    [
        ("7", 7.0),
        (" 0 ", 0.0),
        (format_datetime(datetime.fromtimestamp(NOW + 90, UTC), usegmt=True), 90.0),
        (format_datetime(datetime.fromtimestamp(NOW - 90, UTC), usegmt=True), 0.0),
        ("999999", RETRY_AFTER_MAX),
        ("soon", None),
        ("-5", None),
        (None, None),
    ],
)
def test_retry_after_header(header: str | None, expected: float | None) -> None:
    assert retry_after_seconds(header, NOW) == expected


def response(status: int, body: object = None, **headers: str) -> httpx.Response:
    request = httpx.Request("POST", "http://central.test/api/edge/v1/sessions")
    if isinstance(body, bytes):
        return httpx.Response(status, content=body, headers=headers, request=request)
    return httpx.Response(status, json=body, headers=headers, request=request)


def test_an_ack_names_the_accepted_ids() -> None:
    answer = classify(response(200, {"success": True, "data": {"accepted": ["a", "b"]}}))
    assert answer.outcome is Outcome.ACCEPTED and answer.accepted == {"a", "b"}


@pytest.mark.parametrize(
    "body",
    [
        b"<html>502 Bad Gateway</html>",
        {"success": False, "data": {"accepted": ["a"]}},
        {"success": True, "data": {"accepted": "a"}},
        {"success": True, "data": {"accepted": [1]}},
        {"success": True},
        ["a"],
    ],
)
def test_a_200_without_a_readable_ack_is_retried(body: object) -> None:
    answer = classify(response(200, body))
    assert answer.outcome is Outcome.RETRY and answer.accepted == frozenset()
    assert answer.status == 200 and "without an ack" in answer.message


def test_error_answers() -> None:
    envelope = {"success": False, "error": {"code": "UNAUTHORIZED", "message": "bad token"}}
    refused = classify(response(401, envelope))
    assert refused.outcome is Outcome.REFUSED and refused.status == 401
    assert refused.message == "central answered HTTP 401: UNAUTHORIZED: bad token"
    assert classify(response(403, b"no")).outcome is Outcome.REFUSED
    assert classify(response(413, b"")).outcome is Outcome.TOO_LARGE
    limited = classify(response(429, b"", **{"Retry-After": "3"}))
    assert limited.outcome is Outcome.RETRY and limited.retry_after == 3.0
    unavailable = classify(response(503, b"down for maintenance"))
    assert unavailable.outcome is Outcome.RETRY and unavailable.retry_after is None
    assert "down for maintenance" in unavailable.message


def test_the_body_splices_stored_payloads_verbatim() -> None:
    uplink = Uplink("http://c/api", "t" * 20, "device-1", "downtown-lima")
    payloads = [json.dumps({"id": "a", "total": 100}), json.dumps({"id": "b", "note": 'x"y'})]
    assert json.loads(ingest_body(uplink, payloads)) == {
        "deviceId": "device-1",
        "branchSlug": "downtown-lima",
        "sessions": [{"id": "a", "total": 100}, {"id": "b", "note": 'x"y'}],
    }
    assert json.loads(ingest_body(uplink, []))["sessions"] == []
    assert "t" * 20 not in repr(uplink)


def test_timeouts_follow_the_period_within_bounds() -> None:
    assert Timeouts.for_period(15) == Timeouts(connect=5, read=30)
    assert Timeouts.for_period(1) == Timeouts(connect=3, read=3)
    assert Timeouts.for_period(600).read == 30
    timeouts = Timeouts.for_period(15)
    assert timeouts.lease > timeouts.deadline > timeouts.read
