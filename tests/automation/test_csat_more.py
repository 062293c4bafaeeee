"""Satisfaction surveys on both backends, what the SMS and browser tests leave out: the
``csat: true`` action sends one, a customer asked within ``quiet_days`` is not asked again
until they have passed (on the injected clock), the report by team, queue, tier and
channel on a fixed history, and the settings through their HTTP API."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from hub.csat.config import DEFAULT_CSAT
from hub.csat.surveys import token_hash
from hub.keys import CSAT, STORE
from hub.model import Channel
from hub.store.repos import csat as csat_repo
from hub.store.tables import agents, csat_surveys, customers, events, messages, outbox
from tests.automation.test_automation_more import More, more_hub

PUBLIC = "http://hub.csat.example"


@pytest.fixture
async def more(backend: str, tmp_path: Path) -> AsyncIterator[More]:
    async with more_hub(backend, tmp_path, **{"server.public_url": PUBLIC}) as found:
        yield found


def settings_text(**changes: Any) -> str:
    """The default settings with some top-level fields changed."""
    doc = yaml.safe_load(DEFAULT_CSAT)
    doc.update(changes)
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


async def surveys_of(more: More) -> list[Any]:
    async with more.hub.app[STORE].read() as conn:
        return list(await conn.execute(sa.select(csat_surveys).order_by(csat_surveys.c.sent_at)))


async def sent_on(more: More, conv_id: str) -> list[Any]:
    async with more.hub.app[STORE].read() as conn:
        return list(
            await conn.execute(
                sa.select(messages).where(
                    messages.c.conversation_id == conv_id, messages.c.direction == "out"
                )
            )
        )


async def test_the_csat_action_sends_a_survey_in_the_customers_language(more: More) -> None:
    texts = yaml.safe_load(DEFAULT_CSAT)["texts"]
    texts["en"]["email"] = "Please rate us here: {link}"
    await more.hub.app[CSAT].save(settings_text(texts=texts), "test")  # queues: [] surveys nothing by itself
    await more.save("automations: [{name: ask, trigger: closed, actions: [{csat: true}]}]")
    conv_id = await more.inbound(Channel.EMAIL, "karla@kunde.example", "Danke, erledigt")
    customer_id = (await more.conversation(conv_id)).customer_id
    resp = await more.hub.client.patch(
        f"/api/v1/customers/{customer_id}", json={"language": "en"}, headers=more.roles["supervisor"]
    )
    assert resp.status == 200, await resp.text()
    await more.close(conv_id)
    assert await more.settle() == 1
    (ran,) = await more.events(conv_id, "automation.ran")
    assert ran.data["actions"] == [{"action": "csat", "value": True, "result": "done"}]

    (survey,) = await surveys_of(more)
    assert (survey.conversation_id, survey.customer_id, survey.channel, survey.language) == (
        conv_id,
        customer_id,
        "email",
        "en",
    )
    assert survey.score is None and survey.answered_at is None
    (question,) = await sent_on(more, conv_id)
    link = re.fullmatch(rf"Please rate us here: ({re.escape(PUBLIC)}/csat/(\S+))", question.text)
    assert link, question.text
    assert token_hash(link.group(2)) == survey.token_hash  # the link is the survey's
    assert question.recipient == "karla@kunde.example" and question.meta == {"auto_reply": "1", "csat": "1"}
    async with more.hub.app[STORE].read() as conn:
        queued = (await conn.execute(sa.select(outbox).where(outbox.c.id == question.id))).one()
    assert (queued.channel, queued.recipient, queued.text) == ("email", "karla@kunde.example", question.text)
    (said,) = await more.events(conv_id, "csat.sent")
    assert said.actor == ran.actor and said.data == {"survey": survey.id, "channel": "email"}
    # the link's page asks the question in the survey's language
    page = await more.hub.client.get(link.group(1).removeprefix(PUBLIC))
    assert page.status == 200 and "How satisfied were you with our help?" in await page.text()


async def test_a_customer_is_asked_again_only_after_the_quiet_days(more: More) -> None:
    await more.hub.app[CSAT].save(settings_text(queues=["all"], channels=["email"], quiet_days=30), "test")

    async def closed_conversation(sender: str, thread: str) -> str:
        conv_id = await more.inbound(Channel.EMAIL, sender, "Hallo", thread=thread)
        await more.close(conv_id)
        await more.settle()
        return conv_id

    first = await closed_conversation("karla@kunde.example", "eins")
    assert [s.conversation_id for s in await surveys_of(more)] == [first]
    second = await closed_conversation("karla@kunde.example", "zwei")
    assert second != first
    other = await closed_conversation("otto@kunde.example", "eins")  # someone else is asked meanwhile
    assert [s.conversation_id for s in await surveys_of(more)] == [first, other]
    assert await sent_on(more, second) == []
    more.clock.ahead = timedelta(days=29, hours=23)  # not quite 30 days on
    third = await closed_conversation("karla@kunde.example", "drei")
    assert [s.conversation_id for s in await surveys_of(more)] == [first, other]
    more.clock.ahead = timedelta(days=30, minutes=1)
    fourth = await closed_conversation("karla@kunde.example", "vier")
    assert [s.conversation_id for s in await surveys_of(more)] == [first, other, fourth]
    assert await sent_on(more, third) == [] and len(await sent_on(more, fourth)) == 1


async def test_the_csat_report_by_team_queue_tier_and_channel(more: More) -> None:
    ids = {role: await more.agent_id(role) for role in ("agent", "supervisor")}
    convs = [await more.message("Hallo", sender=f"k{n}@example.com") for n in range(3)]
    owners = [(await more.conversation(c)).customer_id for c in convs]
    now = more.clock()
    async with more.hub.app[STORE].write() as conn:
        for role, teams in (("agent", ["north"]), ("supervisor", ["north", "south"])):
            await conn.execute(sa.update(agents).where(agents.c.id == ids[role]).values(teams=teams))
        for owner, tier in zip(owners, ("gold", "standard", "standard"), strict=True):
            await conn.execute(sa.update(customers).where(customers.c.id == owner).values(tier=tier))
        # (customer, agent, queue, channel, score, days ago)
        history = [
            (0, "agent", "billing", "email", 5, 0),
            (1, "agent", "billing", "sms", 1, 0),
            (1, "supervisor", "service", "email", None, 0),
            (2, "supervisor", "service", "chat", 4, 0),
            (2, None, None, "sms", 2, 0),
            (0, "agent", "billing", "email", 1, 10),  # before the range: not counted
        ]
        for n, (who, agent, queue, channel, score, days) in enumerate(history):
            sent = now - timedelta(days=days, minutes=n + 1)
            await csat_repo.add(
                conn,
                {
                    "id": str(uuid.uuid4()),
                    "conversation_id": convs[who],
                    "customer_id": owners[who],
                    "agent_id": ids[agent] if agent else None,
                    "queue": queue,
                    "channel": channel,
                    "language": "de",
                    "token_hash": token_hash(f"report-{n}"),
                    "sent_at": sent,
                    "expires_at": sent + timedelta(days=7),
                    "answered_at": sent if score is not None else None,
                    "score": score,
                },
            )

    params = {"from": str((now - timedelta(days=2)).date()), "to": str((now + timedelta(days=2)).date())}

    async def report(by: str) -> list[tuple[Any, ...]]:
        resp = await more.hub.client.get(
            "/api/v1/reports/csat", params={**params, "by": by}, headers=more.roles["supervisor"]
        )
        assert resp.status == 200, await resp.text()
        found = await resp.json()
        assert found["by"] == by
        return [
            (r["key"], r["sent"], r["answered"], r["response_rate"], r["mean_score"], r["low"])
            for r in found["rows"]
        ]

    # key, sent, answered, response rate, mean score, low (at or below 2)
    assert await report("team") == [
        (None, 1, 1, 1.0, 2.0, 1),
        ("north", 4, 3, 0.75, 3.33, 1),  # both agents are in north
        ("south", 2, 1, 0.5, 4.0, 0),
    ]
    assert await report("queue") == [
        (None, 1, 1, 1.0, 2.0, 1),
        ("billing", 2, 2, 1.0, 3.0, 1),
        ("service", 2, 1, 0.5, 4.0, 0),
    ]
    assert await report("tier") == [("gold", 1, 1, 1.0, 5.0, 0), ("standard", 4, 3, 0.75, 2.33, 2)]
    assert await report("channel") == [
        ("chat", 1, 1, 1.0, 4.0, 0),
        ("email", 2, 1, 0.5, 5.0, 0),
        ("sms", 2, 2, 1.0, 1.5, 2),
    ]
    assert sorted(await report("agent"), key=str) == sorted(
        [
            (None, 1, 1, 1.0, 2.0, 1),
            (ids["agent"], 2, 2, 1.0, 3.0, 1),
            (ids["supervisor"], 2, 1, 0.5, 4.0, 0),
        ],
        key=str,
    )
    bad = await more.hub.client.get(
        "/api/v1/reports/csat", params={**params, "by": "weekday"}, headers=more.roles["supervisor"]
    )
    assert bad.status == 422 and (await bad.json())["field"] == "by"
    mine = await more.hub.client.get("/api/v1/reports/csat", params=params, headers=more.roles["agent"])
    assert mine.status == 403  # an agent who manages no key account


async def test_the_csat_settings_are_saved_checked_and_rolled_back_over_http(more: More) -> None:
    base = "/api/v1/csat/settings"
    admin, sup, agent = more.roles["admin"], more.roles["supervisor"], more.roles["agent"]
    as_yaml = {**admin, "Content-Type": "application/yaml"}
    start = await (await more.hub.client.get(base, headers=sup)).json()
    assert start["version"] == 0 and start["text"] == DEFAULT_CSAT
    assert (await more.hub.client.get(base, headers=agent)).status == 403

    texts = yaml.safe_load(DEFAULT_CSAT)["texts"]
    texts["fr"] = {
        "question": "Êtes-vous satisfait de notre aide ?",
        "sms": "Répondez de 1 à 5.",
        "email": "Un clic suffit : {link}",
        "thanks": "Merci !",
        "comment": "Autre chose ?",
    }
    first_text = settings_text(queues=["billing"], channels=["sms", "email"], quiet_days=14, texts=texts)
    assert (
        await more.hub.client.put(base, data=first_text, headers={**sup, "Content-Type": "application/yaml"})
    ).status == 403
    resp = await more.hub.client.put(base, data=first_text, headers=as_yaml)
    assert resp.status == 200, await resp.text()
    first = (await resp.json())["version"]
    live = await (await more.hub.client.get(base, headers=sup)).json()
    assert live["version"] == first and live["text"] == first_text
    settings = more.hub.app[CSAT].settings
    assert (settings.queues, settings.channels, settings.quiet_days) == (
        frozenset({"billing"}),
        frozenset({"sms", "email"}),
        14,
    )
    assert settings.words("fr") == ("fr", texts["fr"]) and settings.words("it")[0] == "de"

    # JSON is taken too (written down as YAML)
    resp = await more.hub.client.put(
        base, json={**yaml.safe_load(first_text), "quiet_days": 3, "channels": ["chat"]}, headers=admin
    )
    assert resp.status == 200, await resp.text()
    second = (await resp.json())["version"]
    assert more.hub.app[CSAT].settings.quiet_days == 3

    # a draft that does not check is refused with its path; the version in force stays
    broken = yaml.safe_load(first_text)
    broken["texts"]["en"]["email"] = "No link here"
    for draft, path in (
        (broken, "texts.en.email"),
        ({**yaml.safe_load(first_text), "channels": ["fax"]}, "channels"),
        ({**yaml.safe_load(first_text), "quiet_days": 400}, "quiet_days"),
        ({**yaml.safe_load(first_text), "colour": "blue"}, "colour"),
    ):
        text = yaml.safe_dump(draft, allow_unicode=True)
        refused = await more.hub.client.put(base, data=text, headers=as_yaml)
        assert refused.status == 422, (path, await refused.text())
        assert (await refused.json())["errors"][0]["field"] == path
        check = await (await more.hub.client.post(f"{base}/validate", data=text, headers=as_yaml)).json()
        assert not check["valid"] and check["errors"][0]["field"] == path and check["diff"]
    assert more.hub.app[CSAT].version == second and more.hub.app[CSAT].settings.quiet_days == 3

    resp = await more.hub.client.post(f"{base}/rollback", json={"version": first}, headers=admin)
    assert resp.status == 200, await resp.text()
    third = (await resp.json())["version"]
    assert third == second + 1
    live = await (await more.hub.client.get(base, headers=sup)).json()
    assert live["version"] == third and live["text"] == first_text
    assert more.hub.app[CSAT].settings.quiet_days == 14
    assert [(v["version"], v["live"], v["comment"]) for v in live["versions"]] == [
        (third, True, f"rollback to version {first}"),
        (second, False, None),
        (first, False, None),
    ]
    one = await (await more.hub.client.get(f"{base}/versions/{second}", headers=sup)).json()
    assert "-quiet_days: 14" in one["diff"] and "+quiet_days: 3" in one["diff"]
    async with more.hub.app[STORE].read() as conn:
        saved = list(
            await conn.scalars(sa.select(events.c.subject_id).where(events.c.action == "csat.settings_saved"))
        )
        rolled = (
            await conn.execute(
                sa.select(events.c.subject_id, events.c.data).where(events.c.action == "config.rolled_back")
            )
        ).one()
    assert {str(first), str(second)} <= set(saved)
    assert (rolled.subject_id, rolled.data) == (
        "satisfaction survey settings",
        {"version": third, "to": first},
    )
