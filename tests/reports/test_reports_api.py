"""The reports API on both backends: roles, strict parameters, JSON and CSV (header in
the caller's language, escaping), day and hour buckets across the changes to and from
summer time in Berlin (expectations worked out by hand), and tier fairness."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.keys import STORE
from hub.reports.refresh import rebuild
from hub.settings import Settings
from hub.store.tables import conversations, customers, events
from tests.conftest import HubClient, drop_backend, make_settings, running_hub, sign_in_all
from tests.reports.history import at, conversation, customer, event, small_history, write_all


@pytest.fixture
async def settings(backend: str, tmp_path: Path) -> AsyncIterator[Settings]:
    # the test runs the refresh itself (rebuild), at the history's times
    s = make_settings(
        tmp_path, backend, **{"reports.refresh_seconds": 0, "reports.timezone": "Europe/Berlin"}
    )
    yield s
    await drop_backend(s)


@pytest.fixture
async def hub(settings: Settings) -> AsyncIterator[HubClient]:
    async with running_hub(settings) as client:
        yield client


async def _history(hub: HubClient) -> dict[str, dict[str, str]]:
    headers = await sign_in_all(hub)
    async with hub.app[STORE].write() as conn:
        await write_all(conn, small_history())
    await rebuild(hub.app[STORE], at(12, 0))
    return headers


async def test_roles_json_and_csv(hub: HubClient) -> None:
    headers = await _history(hub)
    url = "/api/v1/reports/first_response_time?from=2026-03-02&to=2026-03-03&group_by=tier"
    assert (await hub.client.get(url, headers=headers["agent"])).status == 403
    assert (await hub.client.get(url)).status == 401
    for role in ("supervisor", "admin"):
        resp = await hub.client.get(url, headers=headers[role])
        assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["tz"] == "Europe/Berlin" and body["from"] == "2026-03-01T23:00:00+00:00"
    assert body["rows"] == [
        {
            "start": "2026-03-02T00:00:00+01:00",
            "group": "gold",
            "count": 1,
            "mean": 300.0,
            "median": 300,
            "p90": 300,
            "max": 300.0,
        },
        {
            "start": "2026-03-02T00:00:00+01:00",
            "group": "standard",
            "count": 1,
            "mean": 1800.0,
            "median": 1800,
            "p90": 1800,
            "max": 1800.0,
        },
    ]
    resp = await hub.client.get(
        url, headers={**headers["admin"], "Accept": "text/csv", "Accept-Language": "de-DE,de;q=0.9,en;q=0.8"}
    )
    assert resp.status == 200 and resp.content_type == "text/csv"
    text = await resp.text()
    assert (
        text.splitlines()[0]
        == "Beginn,Kundenstufe,Anzahl,Mittelwert (s),Median (s),90. Perzentil (s),Maximum (s)"
    )
    assert text.splitlines()[1] == "2026-03-02T00:00:00+01:00,gold,1,300.0,300,300,300.0"
    resp = await hub.client.get(url + "&format=csv&lang=en", headers=headers["admin"])
    assert (await resp.text()).startswith(
        "Start,Tier,Count,Mean (s),Median (s),90th percentile (s),Maximum (s)\r\n"
    )
    ratio = await (
        await hub.client.get(
            "/api/v1/reports/sla_attainment?from=2026-03-02&to=2026-03-03", headers=headers["admin"]
        )
    ).json()
    assert ratio["totals"] == [{"group": "", "numerator": 1, "denominator": 3, "value": 0.3333}]


async def test_csv_escapes_group_names(hub: HubClient) -> None:
    headers = await _history(hub)
    async with hub.app[STORE].write() as conn:  # queue names an admin may have chosen
        await conn.execute(
            sa.update(conversations).where(conversations.c.id == "conv-a").values(queue='Sales, "DE"')
        )
        await conn.execute(
            sa.update(conversations).where(conversations.c.id == "conv-c").values(queue="=cmd|x")
        )
    await rebuild(hub.app[STORE], at(12, 0))
    resp = await hub.client.get(
        "/api/v1/reports/conversations_opened?from=2026-03-02&to=2026-03-03&group_by=queue&format=csv&lang=en",
        headers=headers["supervisor"],
    )
    rows = list(csv.reader(io.StringIO(await resp.text())))
    assert rows[0] == ["Start", "Queue", "Count"]
    assert sorted(rows[1:]) == [
        ["2026-03-02T00:00:00+01:00", "'=cmd|x", "1"],
        ["2026-03-02T00:00:00+01:00", 'Sales, "DE"', "1"],
        ["2026-03-02T00:00:00+01:00", "sales", "1"],
    ]
    assert '"Sales, ""DE"""' in await resp.text()


BAD_PARAMETERS = [
    ("from=2026-03-02", "to"),
    ("from=yesterday&to=2026-03-03", "from"),
    ("from=2026-03-02&to=2026-02-30", "to"),
    ("from=2026-03-03&to=2026-03-02", "to"),
    ("from=2026-03-02&to=2026-03-03&tz=Mars/Olympus", "tz"),
    ("from=2026-03-02&to=2026-03-03&tz=../../etc/passwd", "tz"),
    ("from=2026-03-02&to=2026-03-03&bucket=fortnight", "bucket"),
    ("from=2026-03-02&to=2026-03-03&group_by=mood", "group_by"),
    ("from=2026-03-02&to=2026-03-03&key_account=yes", "key_account"),
    ("from=2026-03-02&to=2026-03-03&channel=", "channel"),
    ("from=2026-03-02&to=2026-03-03&grup_by=tier", "grup_by"),
    ("from=2026-03-02&to=2026-03-03&format=xlsx", "format"),
    ("from=2026-03-02&to=2026-03-03&lang=fr", "lang"),
    ("from=2026-03-02&to=2026-03-03&tier=a&tier=b", "tier"),
    ("from=1900-01-01&to=2026-03-03", "from"),
    ("from=2020-01-01&to=2026-03-03&bucket=hour", "bucket"),
    ("from=2026-03-02T10:00:00%2B25:00&to=2026-03-03", "from"),
]


async def test_strict_parameters(hub: HubClient) -> None:
    headers = await sign_in_all(hub)
    for query, field in BAD_PARAMETERS:
        resp = await hub.client.get(
            f"/api/v1/reports/conversations_opened?{query}", headers=headers["supervisor"]
        )
        assert resp.status == 422, (query, await resp.text())
        assert (await resp.json())["field"] == field, query
    resp = await hub.client.get(
        "/api/v1/reports/happiness?from=2026-03-02&to=2026-03-03", headers=headers["supervisor"]
    )
    assert resp.status == 404


async def _opened_at(hub: HubClient, times: list) -> None:
    """A conversation opened (recorded) at each time."""
    async with hub.app[STORE].write() as conn:
        await conn.execute(sa.insert(customers).values(**customer("c9", "standard")))
        for n, when in enumerate(times):
            conv = f"conv-dst-{n}"
            await conn.execute(sa.insert(conversations).values(**conversation(conv, "c9", "sms", when)))
            await conn.execute(
                sa.insert(events).values(**event(when, "conversation.opened", conv, "c9", "system:ingest"))
            )
    await rebuild(hub.app[STORE], times[-1] + timedelta(seconds=1))  # counts what came before


async def test_days_across_the_change_to_summer_time(hub: HubClient) -> None:
    """Sunday 29 March 2026, Berlin: 02:00 CET becomes 03:00 CEST; the day has 23 hours
    (2026-03-28T23:00Z to 2026-03-29T22:00Z)."""
    headers = await sign_in_all(hub)
    await _opened_at(
        hub,
        [
            at(22, 30, day=28),  # 23:30 on the 28th (CET)
            at(23, 30, day=28),  # 00:30 on the 29th (CET)
            at(21, 30, day=29),  # 23:30 on the 29th (CEST)
            at(22, 30, day=29),  # 00:30 on the 30th (CEST)
        ],
    )
    body = await (
        await hub.client.get(
            "/api/v1/reports/conversations_opened?from=2026-03-28&to=2026-03-31&bucket=day",
            headers=headers["admin"],
        )
    ).json()
    assert body["from"] == "2026-03-27T23:00:00+00:00" and body["to"] == "2026-03-30T22:00:00+00:00"
    assert [(r["start"], r["count"]) for r in body["rows"]] == [
        ("2026-03-28T00:00:00+01:00", 1),
        ("2026-03-29T00:00:00+01:00", 2),
        ("2026-03-30T00:00:00+02:00", 1),
    ]
    week = await (
        await hub.client.get(
            "/api/v1/reports/conversations_opened?from=2026-03-23&to=2026-04-06&bucket=week",
            headers=headers["admin"],
        )
    ).json()
    # the week of Monday the 23rd ends on Sunday the 29th at 24:00 CEST (2026-03-29T22:00Z)
    assert [(r["start"], r["count"]) for r in week["rows"]] == [
        ("2026-03-23T00:00:00+01:00", 3),
        ("2026-03-30T00:00:00+02:00", 1),
    ]
    # the store sums a month, and the days of a weekday grouping, in local time too
    months = await (
        await hub.client.get(
            "/api/v1/reports/conversations_opened?from=2026-03-01&to=2026-05-01&bucket=month&group_by=weekday",
            headers=headers["admin"],
        )
    ).json()
    assert [(r["start"], r["group"], r["count"]) for r in months["rows"] if r["count"]] == [
        ("2026-03-01T00:00:00+01:00", "1", 1),  # Monday the 30th, 00:30 CEST
        ("2026-03-01T00:00:00+01:00", "6", 1),
        ("2026-03-01T00:00:00+01:00", "7", 2),
    ]
    assert {r["start"] for r in months["rows"]} == {"2026-03-01T00:00:00+01:00", "2026-04-01T00:00:00+02:00"}
    months = await (
        await hub.client.get(
            "/api/v1/reports/conversations_opened?from=2026-03-01&to=2026-05-01&bucket=month",
            headers=headers["admin"],
        )
    ).json()
    assert [(r["start"], r["count"]) for r in months["rows"]] == [
        ("2026-03-01T00:00:00+01:00", 4),
        ("2026-04-01T00:00:00+02:00", 0),
    ]


async def test_hours_across_the_change_back_to_winter_time(hub: HubClient) -> None:
    """Sunday 25 October 2026, Berlin: 03:00 CEST becomes 02:00 CET; 02:00 comes twice."""
    headers = await sign_in_all(hub)
    await _opened_at(
        hub, [at(0, 30, day=25, month=10), at(1, 30, day=25, month=10), at(1, 45, day=25, month=10)]
    )
    body = await (
        await hub.client.get(
            "/api/v1/reports/conversations_opened?from=2026-10-25T01:00&to=2026-10-25T04:00&bucket=hour",
            headers=headers["admin"],
        )
    ).json()
    # 01:00 CEST is 23:00Z; 04:00 CET is 03:00Z: four hours, 02:00 twice
    assert [(r["start"], r["count"]) for r in body["rows"]] == [
        ("2026-10-25T01:00:00+02:00", 0),
        ("2026-10-25T02:00:00+02:00", 1),
        ("2026-10-25T02:00:00+01:00", 2),
        ("2026-10-25T03:00:00+01:00", 0),
    ]
    days = await (
        await hub.client.get(
            "/api/v1/reports/conversations_opened?from=2026-10-25&to=2026-10-26&group_by=hour_of_day",
            headers=headers["admin"],
        )
    ).json()
    assert [(t["group"], t["count"]) for t in days["totals"]] == [("2", 3)]


async def test_business_hours_split_a_report(backend: str, tmp_path: Path) -> None:
    """Grouped by business hours: whether the conversation's queue was open when it was
    counted (Monday 2 March 2026, Berlin; service opens 08:00-18:00, sales never does;
    a queue the rules do not name is open around the clock)."""
    (tmp_path / "routing.yaml").write_text(
        "queues:\n"
        "  service: {hours: {timezone: Europe/Berlin, open: {mon-fri: ['08:00-18:00']}}}\n"
        "  sales: {hours: {timezone: Europe/Berlin, open: {}}}\n"
        "rules:\n"
        "  - {name: all, targets: [{queue: service}]}\n"
    )
    settings = make_settings(
        tmp_path, backend, **{"reports.refresh_seconds": 0, "reports.timezone": "Europe/Berlin"}
    )
    try:
        async with running_hub(settings) as hub:
            headers = await sign_in_all(hub)
            # 06:30 and 09:30 CET in service (the history's queue), 10:30 in sales
            await _opened_at(hub, [at(5, 30), at(8, 30)])
            async with hub.app[STORE].write() as conn:
                await conn.execute(
                    sa.insert(conversations).values(
                        **{**conversation("conv-sales", "c9", "sms", at(9, 30)), "queue": "sales"}
                    )
                )
                await conn.execute(
                    sa.insert(events).values(
                        **event(at(9, 30), "conversation.opened", "conv-sales", "c9", "system:ingest")
                    )
                )
            await rebuild(hub.app[STORE], at(12, 0))
            body = await (
                await hub.client.get(
                    "/api/v1/reports/conversations_opened?from=2026-03-02&to=2026-03-03&group_by=business_hours",
                    headers=headers["supervisor"],
                )
            ).json()
            assert [(t["group"], t["count"]) for t in body["totals"]] == [("closed", 2), ("open", 1)]
            csv_text = await (
                await hub.client.get(
                    "/api/v1/reports/conversations_opened?from=2026-03-02&to=2026-03-03"
                    "&group_by=business_hours&format=csv&lang=de",
                    headers=headers["supervisor"],
                )
            ).text()
            assert csv_text.splitlines()[0].split(",")[:2] == ["Beginn", "Geschäftszeit"]
    finally:
        await drop_backend(settings)


async def test_tags_filter_and_group_a_report(hub: HubClient) -> None:
    """Tags are not in the rollups: a report by tag or of a tag is computed from the
    conversations' events; a conversation with two tags counts under each."""
    headers = await sign_in_all(hub)
    await _opened_at(hub, [at(9, 0), at(10, 0), at(11, 0)])
    async with hub.app[STORE].write() as conn:
        for conv, tags in (("conv-dst-0", ["mahnung", "vip"]), ("conv-dst-1", ["mahnung"])):
            await conn.execute(
                sa.update(conversations).where(conversations.c.id == conv).values(route={"tags": tags})
            )
    base = "/api/v1/reports/conversations_opened?from=2026-03-02&to=2026-03-03"
    grouped = await (await hub.client.get(f"{base}&group_by=tag", headers=headers["supervisor"])).json()
    assert [(t["group"], t["count"]) for t in grouped["totals"]] == [("mahnung", 2), ("vip", 1)]
    only = await (await hub.client.get(f"{base}&tag=vip,none", headers=headers["supervisor"])).json()
    assert [t["count"] for t in only["totals"]] == [1]
    both = await (
        await hub.client.get(f"{base}&tag=mahnung&group_by=channel", headers=headers["supervisor"])
    ).json()
    assert [(t["group"], t["count"]) for t in both["totals"]] == [("sms", 2)]


async def test_tier_fairness_api(hub: HubClient) -> None:
    headers = await _history(hub)
    url = "/api/v1/reports/tier-fairness?from=2026-03-02&to=2026-03-03"
    assert (await hub.client.get(url, headers=headers["agent"])).status == 403
    resp = await hub.client.get(url, headers=headers["supervisor"])
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    tiers = {t["tier"]: t for t in body["tiers"]}
    assert list(tiers)[-1] == "standard"
    assert tiers["gold"]["attainment"] == 1.0 and tiers["gold"]["first_response_s"]["median"] == 300
    assert tiers["standard"]["attainment"] == 0.0 and tiers["standard"]["below_floor"] is True
    assert tiers["standard"]["longest_wait_before_accept_s"] == 300.0 and tiers["standard"]["breaches"] == 1
    assert body["warnings"] == ["standard: SLA attainment 0.0% is below the floor of 90%"]
    # the same as CSV, one row per tier, the header in the caller's language
    resp = await hub.client.get(url + "&format=csv&lang=de", headers=headers["supervisor"])
    assert resp.status == 200 and resp.content_type == "text/csv", await resp.text()
    lines = (await resp.text()).split("\r\n")
    assert lines[0].startswith(
        "Kundenstufe,Zusage erste Antwort (s),SLA eingehalten,SLA verfehlt,SLA-Erfüllung,"
    )
    rows = {line.split(",")[0]: line.split(",") for line in lines[1:] if line}
    assert list(rows) == list(tiers)
    assert rows["standard"][2:5] == ["0", "2", "0.0"] and rows["standard"][-1] == "True"
    assert rows["gold"][5] == "300" and rows["gold"][4] == "1.0"
    english = await hub.client.get(url, headers={**headers["supervisor"], "Accept": "text/csv"})
    assert (await english.text()).startswith("Tier,First-response promise (s),SLA met,")
    assert (await hub.client.get(url + "&bucket=day", headers=headers["supervisor"])).status == 422
