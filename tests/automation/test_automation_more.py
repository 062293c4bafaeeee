"""Automations on both backends, what tests/automation/test_automations.py leaves out: a
trigger's ``channel:`` and ``level:`` options, notices to the key account manager, a team
and a named agent, and a low satisfaction score told to the key account manager (else the
supervisors). The app runs on the test's clock (``create_app(clock=...)``), so the
surveys (tests/automation/test_csat_more.py) keep the same time as the runner."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from hub.app import create_app
from hub.csat.surveys import record, token_hash
from hub.customers import audit
from hub.keys import BUS, QUEUE, STORE, TOKENS
from hub.model import AddressKind, Channel
from hub.realtime.bus import Subscription
from hub.store.repos import csat as csat_repo
from hub.store.tables import agents, messages
from tests.automation.test_automations import Auto, Clock
from tests.conftest import HubClient, drop_backend, make_settings, sign_in_all
from tests.connectors.email.smtp_peer import Peer
from tests.helpers import inbound
from tests.waits import eventually


class More(Auto):
    """``Auto``, with messages on any channel, each waited for by its own id (other
    messages, ours or the hub's, may be stored meanwhile)."""

    async def message(self, text: str, sender: str = "erika@example.com", thread: str | None = None) -> str:
        self.sent += 1
        external_id = f"auto-{self.sent}"
        body: dict[str, Any] = {
            "external_id": external_id,
            "from": {"kind": "email", "value": sender, "name": "Erika Muster"},
            "text": text,
        }
        if thread:
            body["thread"] = thread
        resp = await self.hub.post_message(body)
        assert resp.status == 202, await resp.text()
        return await self.stored(external_id)

    async def inbound(
        self,
        channel: Channel,
        sender: str,
        text: str = "Hallo",
        thread: str | None = None,
        kind: AddressKind = AddressKind.EMAIL,
    ) -> str:
        """A message as a connector hands it to ingest; its conversation's id, once stored."""
        self.sent += 1
        external_id = f"in-{self.sent}"
        msg = inbound(external_id, sender, kind=kind, channel=channel, thread=thread, text=text)
        await self.hub.app[QUEUE].append(replace(msg, received_at=self.clock()))
        return await self.stored(external_id)

    async def stored(self, external_id: str) -> str:
        async def conversation() -> str | None:
            async with self.hub.app[STORE].read() as conn:
                return await conn.scalar(
                    sa.select(messages.c.conversation_id).where(messages.c.external_id == external_id)
                )

        return str(await eventually(conversation, what=f"message {external_id} stored"))

    async def agent_id(self, role: str) -> str:
        me = await self.hub.client.get("/api/v1/me", headers=self.roles[role])
        return str((await me.json())["id"])

    async def close(self, conv_id: str) -> None:
        resp = await self.hub.client.post(
            f"/api/v1/conversations/{conv_id}/close", headers=self.roles["supervisor"]
        )
        assert resp.status == 200, await resp.text()

    async def key_account_manager(self, customer_id: str, agent_id: str) -> None:
        resp = await self.hub.client.patch(
            f"/api/v1/customers/{customer_id}",
            json={"key_account": True, "key_account_manager_id": agent_id},
            headers=self.roles["supervisor"],
        )
        assert resp.status == 200, await resp.text()


@contextlib.asynccontextmanager
async def more_hub(backend: str, tmp_path: Path, **overrides: Any) -> AsyncIterator[More]:
    """A hub as ``auto`` of test_automations.py has it, but with the one clock (the
    runner's) handed to the app too."""
    mail = Peer()  # where notices to agents who are away go
    mail.start()
    clock = Clock()
    settings = make_settings(
        tmp_path,
        backend,
        **{
            "automation.step_seconds": 0,  # the test runs the runner itself, on its clock
            "automation.max_actions_per_hour": 10,
            "connectors.api.reply_url": "http://127.0.0.1:9/replies",
            "connectors.email.enabled": True,
            "connectors.email.from_address": "hub@auto.example",
            "connectors.email.smtp": {
                "host": "127.0.0.1",
                "port": mail.port,
                "security": "none",
                "timeout": 5.0,
            },
            **overrides,
        },
    )
    try:
        app = create_app(settings, migrate=True, clock=clock)
        async with TestClient(TestServer(app)) as client:
            _, token = await app[TOKENS].create("tests")
            hub = HubClient(client, token)
            more = More(hub, await sign_in_all(hub), clock, mail)
            await more.runner.follow_events()  # its first round: it follows the log from here on
            yield more
    finally:
        mail.stop()
        await drop_backend(settings)


@pytest.fixture
async def more(backend: str, tmp_path: Path) -> AsyncIterator[More]:
    async with more_hub(backend, tmp_path) as found:
        yield found


async def heard_so_far(more: More, heard: Subscription) -> list[dict[str, Any]]:
    """What the subscription has heard up to now: a marker published now comes after
    everything published before it (the bus keeps the order, also through Redis)."""
    marker = uuid.uuid4().hex
    more.hub.app[BUS].publish(heard.pattern, {"marker": marker})
    got = []
    async with asyncio.timeout(20):
        while (event := await heard.queue.get()).data.get("marker") != marker:
            got.append(event.data)
    return got


async def test_a_message_trigger_with_a_channel_fires_on_that_channel_only(more: More) -> None:
    await more.save(
        """
automations:
  - {name: mail only, trigger: message_received, channel: email, actions: [{tag: mail}]}
  - {name: api only, trigger: message_received, channel: api, actions: [{tag: api}]}
  - {name: sms only, trigger: message_received, channel: sms, actions: [{tag: sms}]}
"""
    )
    by_api = await more.message("Hallo über die API", sender="a@example.com")
    by_mail = await more.inbound(Channel.EMAIL, "b@example.com", "Hallo per Mail")
    assert await more.settle() == 2  # nothing came by SMS
    assert (await more.conversation(by_api)).route["tags"] == ["api"]
    assert (await more.conversation(by_mail)).route["tags"] == ["mail"]
    for conv_id, name in ((by_api, "api only"), (by_mail, "mail only")):
        assert [r.data["name"] for r in await more.events(conv_id, "automation.ran")] == [name]
    # another message on the mail conversation's channel: its automation again, no other
    again = await more.inbound(Channel.EMAIL, "c@example.com", "Noch eine Mail")
    assert await more.settle() == 1
    assert [r.data["name"] for r in await more.events(again, "automation.ran")] == ["mail only"]


async def test_a_health_trigger_with_a_level_fires_on_that_change_only(more: More) -> None:
    await more.save(
        """
automations:
  - {name: at risk, trigger: health_changed, level: at_risk, actions: [{note: now at risk}]}
  - {name: any change, trigger: health_changed, actions: [{note: health changed}]}
"""
    )
    conv_id = await more.message("Hallo")
    assert await more.settle() == 0
    customer_id = (await more.conversation(conv_id)).customer_id

    async def changed(before: str, after: str) -> None:
        async with more.hub.app[STORE].write() as conn:  # as the health step records it
            await audit.record(
                conn,
                actor="system:health",
                action="health.changed",
                subject_type="customer",
                subject_id=customer_id,
                customer_id=customer_id,
                data={"from": before, "to": after},
            )

    async def notes() -> list[str]:
        return [n.data["text"] for n in await more.events(conv_id, "conversation.note")]

    await changed("good", "watch")
    assert await more.settle() == 1  # the change was handled: only the automation without a level
    assert await notes() == ["health changed"]
    await changed("watch", "at_risk")
    assert await more.settle() == 2
    assert sorted(await notes()) == sorted(["health changed", "health changed", "now at risk"])
    await changed("at_risk", "good")
    assert await more.settle() == 1
    assert (await notes()).count("now at risk") == 1


async def test_notices_reach_the_key_account_manager_a_team_and_a_named_agent(more: More) -> None:
    ids = {role: await more.agent_id(role) for role in ("agent", "supervisor", "admin")}
    async with more.hub.app[STORE].write() as conn:
        for role, teams in (("agent", ["north"]), ("supervisor", ["north", "south"]), ("admin", ["south"])):
            await conn.execute(sa.update(agents).where(agents.c.id == ids[role]).values(teams=teams))
    await more.save(
        """
automations:
  - name: tell them
    trigger: message_received
    actions:
      - notify: {to: kam, text: Für die Kundenbetreuung}
      - notify: {to: "team:north", text: Für Team Nord}
      - notify: {to: "agent:Supervisor@Test.Example", text: Für Sie persönlich}
      - notify: {to: "team:east", text: Für niemanden}
"""
    )
    heard = more.hub.app[BUS].subscribe("conversation.mention")
    first = await more.message("Hallo", sender="kunde@example.com")
    assert await more.settle() == 1
    # without a key account manager, the notice to the KAM finds nobody and says so
    (ran,) = await more.events(first, "automation.ran")
    assert [(a["result"], a.get("detail")) for a in ran.data["actions"]] == [
        ("skipped", "nobody to notify (kam)"),
        ("done", None),
        ("done", None),
        ("skipped", "nobody to notify (team:east)"),
    ]
    got = await heard_so_far(more, heard)
    assert sorted((n["agent_id"], n["text"]) for n in got) == sorted(
        [
            (ids["agent"], "Für Team Nord"),
            (ids["supervisor"], "Für Team Nord"),
            (ids["supervisor"], "Für Sie persönlich"),
        ]
    )
    assert {n["conversation_id"] for n in got} == {first}

    await more.key_account_manager((await more.conversation(first)).customer_id, ids["admin"])
    second = await more.message("Noch etwas", sender="kunde@example.com", thread="zwei")
    assert second != first
    assert await more.settle() == 1
    got = await heard_so_far(more, heard)
    assert [(n["agent_id"], n["text"]) for n in got if n["text"] == "Für die Kundenbetreuung"] == [
        (ids["admin"], "Für die Kundenbetreuung")
    ]
    assert len(got) == 4 and {n["conversation_id"] for n in got} == {second}


async def test_a_low_score_tells_the_key_account_manager_else_the_supervisors(more: More) -> None:
    ids = {role: await more.agent_id(role) for role in ("agent", "supervisor", "admin")}
    conv_id = await more.message("Das war nichts")
    conv = await more.conversation(conv_id)
    await more.key_account_manager(conv.customer_id, ids["agent"])
    assert await more.settle() == 0
    heard = more.hub.app[BUS].subscribe("conversation.mention")

    async def answered(score: int, comment: str | None) -> None:
        survey_id, now = str(uuid.uuid4()), more.clock()
        async with more.hub.app[STORE].write() as conn:
            await csat_repo.add(
                conn,
                {
                    "id": survey_id,
                    "conversation_id": conv_id,
                    "customer_id": conv.customer_id,
                    "agent_id": None,
                    "queue": conv.queue,
                    "channel": "email",
                    "language": "de",
                    "token_hash": token_hash(survey_id),
                    "sent_at": now,
                    "expires_at": now + timedelta(days=7),
                },
            )
            survey = await csat_repo.get(conn, survey_id)
            assert survey is not None
            await record(conn, survey, score, comment, now)
        assert await more.settle() == 0  # no automation: what the hub does by itself

    await answered(2, "Zu langsam")  # at the low score (2): low
    assert [(n["agent_id"], n["text"]) for n in await heard_so_far(more, heard)] == [
        (ids["agent"], "Satisfaction 2/5: Zu langsam")
    ]
    await answered(3, None)  # above it: nobody is told
    assert await heard_so_far(more, heard) == []
    # a key account manager who has left: the supervisors and admins instead
    async with more.hub.app[STORE].write() as conn:
        await conn.execute(sa.update(agents).where(agents.c.id == ids["agent"]).values(active=False))
    await answered(1, None)
    got = await heard_so_far(more, heard)
    assert sorted(n["agent_id"] for n in got) == sorted([ids["supervisor"], ids["admin"]])
    assert {(n["conversation_id"], n["text"], n["by"]) for n in got} == {
        (conv_id, "Satisfaction 1/5", "CSAT")
    }
