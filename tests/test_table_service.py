"""Table service against a real device: a diner calls the waiter or asks for the bill, staff are
alerted once per open request and mark it done, and ending the table closes what is left."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import sqlite3
from typing import Any

import httpx
import pytest

from tests.conftest import KITCHEN_PIN, WAITER_PIN, EdgeServer, auth, open_session
from tests.test_menu import db_rows, import_menu
from tests.test_orders import CHICHA, LOMO, MENU, order, seated, set_status
from tests.test_realtime import listening

TABLE_EVENTS = ("table:call_waiter", "table:request_bill", "table:request_done")


@pytest.fixture(scope="module")
def edge(server: EdgeServer, tmp_path_factory: pytest.TempPathFactory) -> EdgeServer:
    done = import_menu(server, tmp_path_factory.mktemp("menu"), MENU)
    assert done.returncode == 0, done.stderr
    return server


def act(edge: EdgeServer, token: str, action: str, session_id: str) -> httpx.Response:
    return httpx.post(
        f"{edge.url}/api/customer/table-action",
        json={"action": action, "tableSessionId": session_id},
        headers=auth(token),
    )


def waiting(edge: EdgeServer, token: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{edge.url}/api/tables/requests", headers=auth(token))
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


def done(edge: EdgeServer, token: str, request_id: str) -> httpx.Response:
    return httpx.patch(f"{edge.url}/api/tables/requests/{request_id}/done", headers=auth(token))


def recorded(edge: EdgeServer, session_id: str) -> list[tuple[str, dict[str, Any]]]:
    rows = db_rows(
        edge,
        "SELECT name, payload FROM events WHERE session_id = ? AND name LIKE 'table:%' ORDER BY id",
        (session_id,),
    )
    return [(name, json.loads(payload)) for name, payload in rows]


def hear_table_events(listener: Any) -> None:
    for name in TABLE_EVENTS:
        listener.client.on(name, listener._recorder(name))


def test_a_call_alerts_once_until_a_waiter_marks_it_done(
    edge: EdgeServer, manager_token: str
) -> None:
    diner = seated(edge, manager_token, "Lucía Quispe")
    session_id = diner["sessionId"]
    first = act(edge, diner["token"], "call_waiter", session_id)
    assert first.status_code == 201, first.text
    data = first.json()["data"]
    assert {"requestId", "action", "created_at"} <= set(data)
    assert data["action"] == "call_waiter" and data["created_at"].endswith("Z")
    assert "alreadyPending" not in data

    again = act(edge, diner["token"], "call_waiter", session_id)
    assert again.status_code == 200, again.text
    assert again.json()["data"]["alreadyPending"] is True
    assert again.json()["data"]["requestId"] == data["requestId"]
    assert again.json()["data"]["created_at"] == data["created_at"]

    mine = [r for r in waiting(edge, manager_token) if r["session_id"] == session_id]
    assert [(r["id"], r["action"], r["status"]) for r in mine] == [
        (data["requestId"], "call_waiter", "open")
    ]
    assert mine[0]["customer_name"] == "Lucía Quispe"
    assert mine[0]["table_number"] == table_row(edge, manager_token, diner)["number"]
    diner_view = httpx.get(f"{edge.url}/api/customer/table-requests", headers=auth(diner["token"]))
    assert [r["id"] for r in diner_view.json()["data"]] == [data["requestId"]]

    waiter = edge.staff_token(WAITER_PIN)
    handled = done(edge, waiter, data["requestId"])
    assert handled.status_code == 200, handled.text
    assert handled.json()["data"]["status"] == "done"
    assert handled.json()["data"]["closed_at"].endswith("Z")
    # A second waiter tapping the same alert sees it handled; the tables hear it once.
    assert done(edge, manager_token, data["requestId"]).json()["data"]["status"] == "done"
    assert not [r for r in waiting(edge, manager_token) if r["session_id"] == session_id]

    events = recorded(edge, session_id)
    assert [name for name, _ in events] == ["table:call_waiter", "table:request_done"]
    call, closed = events[0][1], events[1][1]
    assert call["requestId"] == closed["requestId"] == data["requestId"]
    assert call["tableNumber"] == mine[0]["table_number"]
    assert call["customerName"] == "Lucía Quispe"
    assert closed["requestStatus"] == "done"

    # Once handled, the diner may call again: a new request and a new alert.
    later = act(edge, diner["token"], "call_waiter", session_id)
    assert later.status_code == 201
    assert later.json()["data"]["requestId"] != data["requestId"]


def table_row(edge: EdgeServer, token: str, diner: dict[str, Any]) -> dict[str, Any]:
    """The staff board's row of a diner's table."""
    tables = httpx.get(f"{edge.url}/api/tables", headers=auth(token)).json()["data"]
    return dict(next(t for t in tables if t["id"] == diner["session"]["table_id"]))


def test_concurrent_taps_open_one_request(edge: EdgeServer, manager_token: str) -> None:
    first = seated(edge, manager_token)
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        answers = list(
            pool.map(
                lambda _: act(edge, first["token"], "request_bill", first["sessionId"]), range(12)
            )
        )
    assert sorted(a.status_code for a in answers) == [200] * 11 + [201], [a.text for a in answers]
    assert len({a.json()["data"]["requestId"] for a in answers}) == 1
    assert [name for name, _ in recorded(edge, first["sessionId"])] == ["table:request_bill"]
    rows = db_rows(
        edge,
        "SELECT status FROM table_requests WHERE session_id = ?",
        (first["sessionId"],),
    )
    assert rows == [("open",)]


def test_the_store_itself_allows_one_open_request_per_action(
    edge: EdgeServer, manager_token: str
) -> None:
    diner = seated(edge, manager_token)
    assert act(edge, diner["token"], "call_waiter", diner["sessionId"]).status_code == 201
    conn = sqlite3.connect(edge.data_dir / "edge.db", timeout=5)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
            conn.execute(
                "INSERT INTO table_requests (id, branch_id, session_id, table_id, action, status,"
                " created_at) SELECT 'x', branch_id, session_id, table_id, action, 'open',"
                " created_at FROM table_requests WHERE session_id = ?",
                (diner["sessionId"],),
            )
    finally:
        conn.close()


def test_table_actions_refuse_other_tables_bad_bodies_and_wrong_callers(
    edge: EdgeServer, manager_token: str
) -> None:
    diner = seated(edge, manager_token)
    other = seated(edge, manager_token)
    foreign = act(edge, diner["token"], "call_waiter", other["sessionId"])
    assert foreign.status_code == 403
    assert foreign.json()["error"]["code"] == "FORBIDDEN"
    for body, field in [
        ({"action": "dance", "tableSessionId": diner["sessionId"]}, "action"),
        ({"action": "call_waiter", "tableSessionId": "mesa-5"}, "tableSessionId"),
        ({"action": "call_waiter"}, "tableSessionId"),
        ({"tableSessionId": diner["sessionId"]}, "action"),
        ({"action": 7, "tableSessionId": diner["sessionId"]}, "action"),
    ]:
        answer = httpx.post(
            f"{edge.url}/api/customer/table-action", json=body, headers=auth(diner["token"])
        )
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] == "VALIDATION_ERROR"
        assert field in json.dumps(answer.json()["error"]["details"])
    assert db_rows(
        edge,
        "SELECT COUNT(*) FROM table_requests WHERE session_id IN (?, ?)",
        (diner["sessionId"], other["sessionId"]),
    ) == [(0,)]

    pending = open_session(edge, edge.table_code())
    refused = act(edge, pending["token"], "call_waiter", pending["sessionId"])
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "SESSION_NOT_ACTIVE"
    assert act(edge, manager_token, "call_waiter", diner["sessionId"]).status_code == 403
    no_token = httpx.post(
        f"{edge.url}/api/customer/table-action",
        json={"action": "call_waiter", "tableSessionId": diner["sessionId"]},
    )
    assert no_token.status_code == 401

    opened = act(edge, diner["token"], "call_waiter", diner["sessionId"]).json()["data"]
    kitchen = edge.staff_token(KITCHEN_PIN)
    assert any(r["id"] == opened["requestId"] for r in waiting(edge, kitchen))
    assert done(edge, kitchen, opened["requestId"]).status_code == 403
    assert done(edge, diner["token"], opened["requestId"]).status_code == 403
    unknown = done(edge, manager_token, "6f1c3a4e-8a51-4a3e-9a57-3d1f7a0f2b11")
    assert unknown.status_code == 404
    assert unknown.json()["error"] == {"code": "NOT_FOUND", "message": "Solicitud no encontrada"}
    assert done(edge, manager_token, "not-an-id").status_code == 400
    assert httpx.get(f"{edge.url}/api/tables/requests").status_code == 401
    assert [
        r["status"] for r in waiting(edge, manager_token) if r["id"] == opened["requestId"]
    ] == ["open"]


def test_asking_for_the_bill_shows_the_tables_orders_not_cancelled(
    edge: EdgeServer, manager_token: str
) -> None:
    diner = seated(edge, manager_token)
    kept = order(edge, diner["token"], [{"menuItemId": LOMO, "quantity": 2}]).json()["data"]
    also = order(edge, diner["token"], [{"menuItemId": CHICHA, "quantity": 3}]).json()["data"]
    dropped = order(edge, diner["token"], [{"menuItemId": CHICHA, "quantity": 1}]).json()["data"]
    assert set_status(edge, manager_token, dropped["id"], "cancelled").status_code == 200

    asked = act(edge, diner["token"], "request_bill", diner["sessionId"])
    assert asked.status_code == 201, asked.text
    bill = asked.json()["data"]["bill"]
    assert [o["id"] for o in bill["orders"]] == [kept["id"], also["id"]]
    # 8400 + 3075 = 11475; per order 1512 + 553.5 -> 554 (half up) = 2066.
    assert (bill["subtotal"], bill["tax"], bill["total"]) == (11475, 2066, 13541)
    assert (bill["currency"], bill["tax_rate"]) == ("PEN", 1800)
    assert bill["orders"][1]["items"][0]["name"] == "Chicha morada"

    fetched = httpx.get(f"{edge.url}/api/customer/bill", headers=auth(diner["token"]))
    assert fetched.status_code == 200
    assert fetched.json()["data"] == bill
    # The staff's tables board agrees with the bill the diner sees.
    tables = httpx.get(f"{edge.url}/api/tables", headers=auth(manager_token)).json()["data"]
    session = next(
        t["session"] for t in tables if t["session"] and t["session"]["id"] == bill["session_id"]
    )
    assert (session["subtotal"], session["tax"], session["total"]) == (11475, 2066, 13541)
    again = act(edge, diner["token"], "request_bill", diner["sessionId"])
    assert again.status_code == 200 and again.json()["data"]["bill"] == bill

    other = seated(edge, manager_token)
    empty = httpx.get(f"{edge.url}/api/customer/bill", headers=auth(other["token"])).json()["data"]
    assert (empty["orders"], empty["total"]) == ([], 0)
    assert httpx.get(f"{edge.url}/api/customer/bill").status_code == 401


def test_ending_the_table_closes_its_open_requests(edge: EdgeServer, manager_token: str) -> None:
    diner = seated(edge, manager_token)
    call = act(edge, diner["token"], "call_waiter", diner["sessionId"]).json()["data"]
    bill = act(edge, diner["token"], "request_bill", diner["sessionId"]).json()["data"]
    ended = httpx.patch(
        f"{edge.url}/api/tables/sessions/{diner['sessionId']}/end", headers=auth(manager_token)
    )
    assert ended.status_code == 200, ended.text
    assert not [r for r in waiting(edge, manager_token) if r["session_id"] == diner["sessionId"]]
    rows = db_rows(
        edge,
        "SELECT id, status, closed_at IS NOT NULL, done_by FROM table_requests"
        " WHERE session_id = ? ORDER BY created_at",
        (diner["sessionId"],),
    )
    assert sorted(rows) == sorted(
        [(call["requestId"], "closed", 1, None), (bill["requestId"], "closed", 1, None)]
    )
    names = [
        name
        for (name,) in db_rows(
            edge, "SELECT name FROM events WHERE session_id = ? ORDER BY id", (diner["sessionId"],)
        )
    ]
    # The tablets stop alerting before they hear that the table has left.
    assert names[-3:] == ["table:request_done", "table:request_done", "session:ended"]
    assert act(edge, diner["token"], "call_waiter", diner["sessionId"]).status_code == 403
    # A request closed by the end cannot be marked done afterwards as if handled.
    assert done(edge, manager_token, call["requestId"]).json()["data"]["status"] == "closed"


@pytest.mark.asyncio
async def test_staff_hear_requests_and_the_diner_hears_them_handled(
    edge: EdgeServer, manager_token: str
) -> None:
    diner = seated(edge, manager_token)
    other = seated(edge, manager_token)
    async with (
        listening(edge, manager_token) as staff,
        listening(edge, diner["token"]) as phone,
        listening(edge, other["token"]) as neighbour,
    ):
        for listener in (staff, phone, neighbour):
            hear_table_events(listener)
        async with httpx.AsyncClient() as http:
            url = f"{edge.url}/api/customer/table-action"
            body = {"action": "call_waiter", "tableSessionId": diner["sessionId"]}
            first = await http.post(url, json=body, headers=auth(diner["token"]))
            second = await http.post(url, json=body, headers=auth(diner["token"]))
        request_id = first.json()["data"]["requestId"]
        assert second.json()["data"]["requestId"] == request_id
        alert = await staff.wait_for("table:call_waiter", requestId=request_id)
        assert alert["sessionId"] == diner["sessionId"]
        assert alert["action"] == "call_waiter"
        assert isinstance(alert["eventId"], int)
        assert alert["request"]["status"] == "open"

        assert (await asyncio.to_thread(done, edge, manager_token, request_id)).status_code == 200
        handled = await phone.wait_for("table:request_done", requestId=request_id)
        assert handled["requestStatus"] == "done"
        await staff.wait_for("table:request_done", requestId=request_id)
        await asyncio.sleep(0.3)
        # One alert for two taps; the diner hears the outcome, not the staff's alert; the
        # next table hears nothing of it.
        assert staff.names(diner["sessionId"]).count("table:call_waiter") == 1
        assert "table:call_waiter" not in phone.names()
        assert not [n for n in neighbour.names() if n.startswith("table:")]
