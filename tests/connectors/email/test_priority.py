"""The priority a sender marks (``Importance``, ``X-Priority``, ``Priority``): read by the
parser, kept on the conversation (raised by a later, more urgent mail), read and set by
routing rules, and shown by the conversation API the console reads."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.email.payloads import parse_mail
from hub.errors import ConfigError
from hub.routing.rules import parse_rules
from tests.conftest import HubClient
from tests.connectors.email.test_smtp_threading import arrive, mail
from tests.routing.test_router_service import Floor
from tests.waits import eventually

RULES = """
queues:
  urgent: {reservation_timeout: 60}
  service: {reservation_timeout: 60}
rules:
  - name: urgent mail first
    when: priority == "high"
    targets: [{queue: urgent}]
  - name: complaints are urgent too
    when: subject =~~ "(?i)beschwerde"
    actions: {set_priority: high}
    targets: [{queue: urgent}]
  - name: everything else
    targets: [{queue: service}]
"""


@pytest.mark.parametrize(
    ("headers", "priority"),
    [
        ({"Importance": "High"}, "high"),
        ({"Importance": "low"}, "low"),
        ({"X-Priority": "1 (Highest)"}, "high"),
        ({"X-Priority": "2"}, "high"),
        ({"X-Priority": "3 (Normal)"}, None),
        ({"X-Priority": "5"}, "low"),
        ({"Priority": "urgent"}, "high"),
        ({"Priority": "non-urgent"}, "low"),
        ({"X-MSMail-Priority": "High"}, "high"),
        ({"Importance": "Low", "X-Priority": "1"}, "high"),  # the most urgent wins
        ({"Importance": "Normal"}, None),
        ({}, None),
    ],
)
def test_the_parser_reads_the_priority_headers(headers: dict[str, str], priority: str | None) -> None:
    raw = mail("p@firma.example", "Frage", **{k.replace("-", "_"): v for k, v in headers.items()})
    assert parse_mail(raw).priority == priority


async def conversation(floor: Floor, conv_id: str) -> dict[str, Any]:
    resp = await floor.hub.client.get(f"/api/v1/conversations/{conv_id}", headers=floor.headers["admin"])
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


async def routed(floor: Floor, conv_id: str) -> dict[str, Any]:
    async def queued() -> dict[str, Any] | None:
        found = await conversation(floor, conv_id)
        return found if found["queue"] else None

    return await eventually(queued, what="routed")


async def test_a_marked_mail_opens_an_urgent_conversation_the_rules_route(hub: HubClient) -> None:
    floor = await Floor(hub).start(RULES)
    urgent = await arrive(
        hub, mail("u-1@firma.example", "Strom weg", sender="a@firma.example", Importance="High")
    )
    plain = await arrive(hub, mail("n-1@firma.example", "Frage zum Tarif", sender="b@firma.example"))
    complaint = await arrive(hub, mail("c-1@firma.example", "Beschwerde", sender="c@firma.example"))
    got = {name: await routed(floor, row.conversation_id) for name, row in
           (("urgent", urgent), ("plain", plain), ("complaint", complaint))}  # fmt: skip
    assert {k: (v["priority"], v["queue"]) for k, v in got.items()} == {
        "urgent": ("high", "urgent"),
        "plain": ("normal", "service"),
        "complaint": ("high", "urgent"),  # set by the rule's action
    }


async def test_a_later_more_urgent_mail_raises_the_priority(hub: HubClient) -> None:
    floor = await Floor(hub).start(RULES)
    first = await arrive(hub, mail("t-1@firma.example", "Zähler", sender="d@firma.example", X_Priority="5"))
    assert (await conversation(floor, first.conversation_id))["priority"] == "low"
    unmarked = mail(
        "t-0@firma.example", "Re: Zähler", sender="d@firma.example", In_Reply_To="<t-1@firma.example>"
    )
    await arrive(hub, unmarked)
    assert (await conversation(floor, first.conversation_id))["priority"] == "low", (
        "a mail that marks nothing"
    )
    answer = mail(
        "t-2@firma.example",
        "Re: Zähler",
        sender="d@firma.example",
        In_Reply_To="<t-1@firma.example>",
        Priority="urgent",
    )
    second = await arrive(hub, answer)
    assert second.conversation_id == first.conversation_id
    assert (await conversation(floor, first.conversation_id))["priority"] == "high"
    calmer = mail(
        "t-3@firma.example",
        "Re: Zähler",
        sender="d@firma.example",
        In_Reply_To="<t-2@firma.example>",
        X_Priority="5",
    )
    await arrive(hub, calmer)
    assert (await conversation(floor, first.conversation_id))["priority"] == "high", "never lowered by a mail"


def test_set_priority_takes_only_a_known_priority() -> None:
    parse_rules(RULES, {})
    with pytest.raises(ConfigError, match="set_priority: expected one of high, normal, low"):
        parse_rules(RULES.replace("set_priority: high", "set_priority: urgent"), {})
