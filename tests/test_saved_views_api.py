"""Saved views through the API, on both backends: created, listed, edited and deleted
within who may see and change them (hub/web/saved_views.py says who), with the same
checks on creating and editing; bad input is a 4xx naming the field."""

from __future__ import annotations

from typing import Any

from tests.conftest import HubClient
from tests.routing.test_router_service import Floor

BASE = "/api/v1/saved-views"


async def _floor(hub: HubClient) -> Floor:
    floor = await Floor(hub).start()
    await floor.agent("anna", available=False, teams=["blue", "green"])
    await floor.agent("ben", available=False, teams=["blue"])
    await floor.agent("sam", available=False, teams=["red"])
    await floor.agent("sue", available=False, teams=["blue"], role="supervisor")
    return floor


async def _call(floor: Floor, who: str, method: str, path: str = "", **body: Any) -> tuple[int, Any]:
    resp = await floor.hub.client.request(
        method, BASE + path, headers=floor.headers[who], **({"json": body} if method != "GET" else {})
    )
    return resp.status, (await resp.json() if resp.status != 204 else None)


async def _names(floor: Floor, who: str) -> list[str]:
    status, body = await _call(floor, who, "GET")
    assert status == 200, body
    return [v["name"] for v in body["items"]]


async def test_the_owner_edits_a_view_and_shares_or_unshares_it(hub: HubClient) -> None:
    floor = await _floor(hub)
    status, view = await _call(
        floor, "anna", "POST", name="Rechnungen", q="Rechnung", filters={"channel": ["sms"]}
    )
    assert status == 201, view
    path = f"/{view['id']}"
    # rename, other words and filters; what is left out stays
    status, edited = await _call(
        floor, "anna", "PATCH", path, name="  Offene Rechnungen ", q="Rechnung -bezahlt"
    )
    assert status == 200, edited
    assert (edited["name"], edited["q"], edited["filters"], edited["team"]) == (
        "Offene Rechnungen",
        "Rechnung -bezahlt",
        {"channel": ["sms"]},
        None,
    )
    assert edited["id"] == view["id"] and edited["created_at"] == view["created_at"]
    status, edited = await _call(
        floor, "anna", "PATCH", path, filters={"channel": ["email", "fax"], "tag": ["vip"]}
    )
    assert status == 200 and edited["filters"] == {"channel": ["email", "fax"], "tag": ["vip"]}
    # private: nobody else sees it, and an id of someone else's private view is no view
    assert await _names(floor, "ben") == []
    for who in ("ben", "sue", "sam"):
        status, body = await _call(floor, who, "PATCH", path, name="meins")
        assert (status, body["detail"]) == (404, f"no saved view with id {view['id']}")
    assert (await _call(floor, "anna", "PATCH", "/no-such-id", name="x"))[0] == 404
    # shared with a team of hers: the team sees it; not with a team she is not in
    status, body = await _call(floor, "anna", "PATCH", path, team="red")
    assert (status, body["field"]) == (422, "team")
    status, edited = await _call(floor, "anna", "PATCH", path, team="blue")
    assert status == 200 and edited["team"] == "blue"
    assert await _names(floor, "ben") == ["Offene Rechnungen"] and await _names(floor, "sam") == []
    # unshared again (team: null)
    status, edited = await _call(floor, "anna", "PATCH", path, team=None)
    assert status == 200 and edited["team"] is None
    assert await _names(floor, "ben") == []
    assert await _names(floor, "anna") == ["Offene Rechnungen"]


async def test_a_shared_view_is_its_owner_s_and_the_team_supervisor_s_to_change(hub: HubClient) -> None:
    floor = await _floor(hub)
    status, view = await _call(floor, "anna", "POST", name="VIP", q="dringend", team="blue")
    assert status == 201, view
    path = f"/{view['id']}"
    # ben uses it but may not change it; sam (another team) does not see it
    status, body = await _call(floor, "ben", "PATCH", path, name="Meins")
    assert status == 403, body
    assert (await _call(floor, "sam", "PATCH", path, name="Meins"))[0] == 404
    # sue supervises blue: she may rename and re-word it, not change whom it is shared with
    status, body = await _call(floor, "sue", "PATCH", path, name="VIP-Kunden", q="dringend eilig")
    assert status == 200 and (body["name"], body["q"], body["owner_id"]) == (
        "VIP-Kunden",
        "dringend eilig",
        floor.ids["anna"],
    )
    status, body = await _call(floor, "sue", "PATCH", path, team=None)
    assert (status, body["detail"]) == (403, "only its owner shares or unshares a view")
    status, body = await _call(floor, "sue", "PATCH", path, name="Alle", team="blue")  # unchanged: fine
    assert status == 200 and body["team"] == "blue"
    # the owner moves it to another team of hers: blue no longer sees it
    status, body = await _call(floor, "anna", "PATCH", path, team="green")
    assert status == 200, body
    assert await _names(floor, "ben") == [] and (await _call(floor, "sue", "PATCH", path, name="x"))[0] == 404


BAD_EDITS: list[tuple[dict[str, Any], str]] = [
    ({}, "(body)"),
    ({"name": None}, "name"),
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 81}, "name"),
    ({"q": None}, "q"),
    ({"q": "x" * 501}, "q"),
    ({"q": " ".join(f"w{i}" for i in range(9))}, "q"),
    ({"q": "-nur"}, "q"),
    ({"q": "", "filters": {}}, "q"),
    ({"filters": None}, "filters"),
    ({"filters": {"farbe": ["rot"]}}, "filters"),
    ({"filters": {"channel": "sms"}}, "filters.channel"),
    ({"filters": {"channel": [f"c{i}" for i in range(21)]}}, "filters"),
    ({"filters": {"from": ["gestern"]}}, "filters"),
    ({"filters": {"to": ["2026-12-01T00:00:00"]}}, "filters"),
    ({"filters": {"key_account": ["ja"]}}, "filters"),
    ({"team": 7}, "team"),
]


async def test_bad_edits_are_named_and_change_nothing(hub: HubClient) -> None:
    floor = await Floor(hub).start()
    await floor.agent("anna", available=False, teams=["blue"])
    status, view = await _call(floor, "anna", "POST", name="Stabil", q="Rechnung")
    assert status == 201, view
    for body, field in BAD_EDITS:
        status, problem = await _call(floor, "anna", "PATCH", f"/{view['id']}", **body)
        assert status == 422 and problem["field"] == field, (body, problem)
        # creating checks the same
        if body and "name" not in body:
            status, problem = await _call(floor, "anna", "POST", name="Neu", **{"q": "Rechnung", **body})
            assert status == 422 and problem["field"] == field, (body, problem)
    _, listed = await _call(floor, "anna", "GET")
    assert [(v["name"], v["q"], v["filters"]) for v in listed["items"]] == [("Stabil", "Rechnung", {})]
