"""One phone cannot squat the branch's tables: only sessions actually opened use up its
allowance, and it may keep one request waiting for approval at a time (setting)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from edge.settings import Settings
from tests.conftest import EdgeServer, approve


def ask(edge: EdgeServer, table: str, name: str = "Ana") -> httpx.Response:
    return httpx.post(edge.customer_url(table, "session"), json={"customerName": name})


def test_refused_requests_do_not_use_up_the_allowance(make_server) -> None:  # type: ignore[no-untyped-def]
    edge = make_server(RESTAI_EDGE_SESSION_RATE_LIMIT="2/600")
    waiting = edge.table_code()
    # The table now waits for approval: asking for it again is a 409 and must cost nothing.
    assert ask(edge, waiting).status_code == 201
    for _ in range(6):
        refused = ask(edge, waiting, "Squatter")
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["code"] == "SESSION_PENDING"
    second = ask(edge, edge.table_code())
    assert second.status_code == 201, "409s used up the allowance: " + second.text
    third = ask(edge, edge.table_code())
    assert third.status_code == 429


def test_the_default_is_one_waiting_request_per_address() -> None:
    assert Settings.resolve({}, environ={}).pending_per_address == 1


@pytest.mark.asyncio
async def test_one_address_holds_one_waiting_request_even_in_a_burst(make_server) -> None:  # type: ignore[no-untyped-def]
    # "" leaves the setting to its default.
    edge = make_server(RESTAI_EDGE_PENDING_PER_ADDRESS="")
    tables = [edge.table_code() for _ in range(30)]
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=30)) as http:
        answers = await asyncio.gather(
            *(
                http.post(edge.customer_url(table, "session"), json={"customerName": "Ana"})
                for table in tables
            )
        )
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(201) == 1, statuses
    assert statuses.count(429) == 29, statuses
    refused = next(answer for answer in answers if answer.status_code == 429)
    assert refused.json()["error"]["code"] == "RATE_LIMITED"
    assert refused.json()["error"]["message"] == "Demasiadas solicitudes, intenta mas tarde"
    assert 1 <= int(refused.headers["Retry-After"]) <= 600
    free = [
        table
        for table, answer in zip(tables, answers, strict=True)
        if answer.status_code == 429
        and not httpx.get(edge.customer_url(table, "check-session")).json()["data"]["hasSession"]
    ]
    assert len(free) == 29, "a refused request still took a table"

    # Once staff decide on the waiting request, the phone may ask for another table.
    opened = next(answer for answer in answers if answer.status_code == 201).json()["data"]
    assert approve(edge, edge.staff_token(), opened["sessionId"]).status_code == 200
    assert ask(edge, free[0]).status_code == 201
    assert ask(edge, free[1]).status_code == 429


def test_the_waiting_limit_can_be_raised(make_server) -> None:  # type: ignore[no-untyped-def]
    edge = make_server(RESTAI_EDGE_PENDING_PER_ADDRESS="2")
    assert [ask(edge, edge.table_code()).status_code for _ in range(3)] == [201, 201, 429]
