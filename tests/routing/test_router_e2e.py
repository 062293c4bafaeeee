"""The Router end to end, on both backends: a burst of 300 conversations, three agents.

The agents work through the API as a console would: accept what is offered, close what
they hold a moment later. Afterwards the event log is replayed to prove that nobody
ever held more than their capacity per channel and that no conversation was assigned
twice.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa

from hub.keys import QUEUE, STORE
from hub.model import AddressKind, Channel
from hub.store.tables import conversations, events
from tests.conftest import HubClient, sign_in, sign_in_all
from tests.helpers import inbound
from tests.waits import eventually

RULES = """
queues:
  key_accounts: {reservation_timeout: 30}
  service: {reservation_timeout: 30}
rules:
  - name: key accounts
    when: customer.key_account
    targets: [{queue: key_accounts, agents: '"key_accounts" in teams'}]
  - name: german
    when: language == "de"
    targets: [{queue: service, agents: '"de" in languages'}]
  - name: english
    targets: [{queue: service, agents: '"en" in languages'}]
"""
FULL = {"chat": 3, "email": 8, "sms": 5, "voice": 1}
AGENTS: dict[str, dict[str, Any]] = {
    "kam": {"languages": ["de"], "teams": ["key_accounts"], "capacity": FULL},
    "english": {"languages": ["en"], "capacity": FULL},
    "german_chat": {"languages": ["de"], "capacity": {"chat": 3}},
}
CHANNELS = [
    (Channel.CHAT, AddressKind.CHAT_VISITOR),
    (Channel.EMAIL, AddressKind.EMAIL),
    (Channel.SMS, AddressKind.PHONE),
    (Channel.VOICE, AddressKind.PHONE),
]


async def setup_floor(hub: HubClient, rules: str) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Rules, the three agents signed in and available; returns their ids and headers."""
    admin = (await sign_in_all(hub))["admin"]
    resp = await hub.client.put(
        "/api/v1/routing/rules", data=rules, headers={**admin, "Content-Type": "application/yaml"}
    )
    assert resp.status == 200, await resp.text()
    ids, headers = {}, {}
    for name, skills in AGENTS.items():
        resp = await hub.client.post(
            "/api/v1/agents",
            headers=admin,
            json={"email": f"{name}@floor.example", "name": name, "password": f"pw-{name}-long", **skills},
        )
        assert resp.status == 201, await resp.text()
        ids[name] = (await resp.json())["id"]
        headers[name] = await sign_in(hub, f"{name}@floor.example", f"pw-{name}-long")
    return ids, headers | {"admin": admin}


async def make_customers(hub: HubClient, admin: dict[str, str], kam_id: str, n: int) -> list[dict]:
    """n customers: every tenth a key account of ``kam``; the rest German or English,
    gold or standard. Each has an email, a phone number and a chat visitor id."""
    made = []
    for i in range(n):
        body: dict[str, Any] = {
            "name": f"Kunde {i}",
            "language": "de" if i % 2 else "en",
            "identities": [
                {"kind": "email", "value": f"kunde{i}@example.com"},
                {"kind": "phone", "value": f"+4930{1000000 + i}"},
                {"kind": "chat_visitor", "value": f"visitor-{i}"},
            ],
        }
        if i % 10 == 0:
            body |= {"key_account": True, "key_account_manager_id": kam_id}
        elif i % 3 == 0:
            body["revenue"] = {"revenue_12m": {"amount": 20000, "currency": "EUR"}}
        resp = await hub.client.post("/api/v1/customers", headers=admin, json=body)
        assert resp.status == 201, await resp.text()
        made.append({**body, "id": (await resp.json())["id"], "n": i})
    return made


def burst(customers: list[dict], per_customer: int) -> list:
    """One message per (customer, channel), channels rotating: distinct conversations."""
    messages = []
    for c in customers:
        for k in range(per_customer):
            channel, kind = CHANNELS[(c["n"] + k) % len(CHANNELS)]
            sender = {
                AddressKind.EMAIL: f"kunde{c['n']}@example.com",
                AddressKind.PHONE: f"+4930{1000000 + c['n']}",
                AddressKind.CHAT_VISITOR: f"visitor-{c['n']}",
            }[kind]
            m = inbound(f"burst-{c['n']}-{k}", sender, kind=kind, channel=channel, text="Hilfe", seconds=k)
            messages.append(m)
    return messages


async def work(hub: HubClient, headers: dict[str, str], stop: asyncio.Event) -> None:
    """Accept every offer; close what was held since the previous look."""
    held_before: set[str] = set()
    while not stop.is_set():
        resp = await hub.client.get("/api/v1/conversations?status=open&view=mine&limit=500", headers=headers)
        assert resp.status == 200, await resp.text()
        mine = (await resp.json())["items"]
        for conv in mine:
            if conv["state"] == "offered":
                resp = await hub.client.post(f"/api/v1/conversations/{conv['id']}/accept", headers=headers)
                assert resp.status in (200, 409), await resp.text()
            elif conv["state"] == "assigned" and conv["id"] in held_before:
                resp = await hub.client.post(f"/api/v1/conversations/{conv['id']}/close", headers=headers)
                assert resp.status == 200, await resp.text()
        held_before = {c["id"] for c in mine if c["state"] == "assigned"}
        await asyncio.sleep(0.05)  # an agent's pace between looks at the console, not a wait


def replay_peaks(rows, channel_of: dict[str, str]) -> Counter:
    """The most each agent held at once per channel, replaying the event log in order."""
    holding: dict[str, str | None] = {}  # conversation -> agent
    now: Counter = Counter()
    peak: Counter = Counter()
    for r in rows:
        conv, agent = r.subject_id, (r.data or {}).get("agent_id")
        if r.action in ("conversation.offered", "conversation.assigned") and holding.get(conv) != agent:
            assert conv not in holding, f"{conv} offered to {agent} while {holding.get(conv)} held it"
            holding[conv] = agent
            now[(agent, channel_of[conv])] += 1
        elif r.action in ("conversation.offer_lapsed", "conversation.rejected", "conversation.closed"):
            if conv in holding:
                now[(holding.pop(conv), channel_of[conv])] -= 1
        for key, value in now.items():
            peak[key] = max(peak[key], value)
    return peak


@pytest.mark.long
async def test_a_burst_of_300_reaches_the_right_agents_within_capacity(hub: HubClient) -> None:
    ids, headers = await setup_floor(hub, RULES)
    names = {v: k for k, v in ids.items()}
    customers = await make_customers(hub, headers["admin"], ids["kam"], 100)
    for name in AGENTS:
        resp = await hub.client.put(
            "/api/v1/me/presence", headers=headers[name], json={"presence": "available"}
        )
        assert resp.status == 200
    await asyncio.gather(*(hub.app[QUEUE].append(m) for m in burst(customers, 3)))

    stop = asyncio.Event()
    workers = [asyncio.create_task(work(hub, headers[name], stop)) for name in AGENTS]

    async def all_closed() -> bool:
        assert not any(w.done() for w in workers), [w.exception() for w in workers if w.done()]
        async with hub.app[STORE].read() as conn:
            closed = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(conversations)
                .where(conversations.c.status == "closed")
            )
        return closed == 300

    try:
        await eventually(all_closed, timeout=240, interval=0.2, what="all 300 closed")
    finally:
        stop.set()
        await asyncio.gather(*workers)

    async with hub.app[STORE].read() as conn:
        convs = (await conn.execute(sa.select(conversations))).all()
        log = (
            await conn.execute(
                sa.select(events).where(events.c.subject_type == "conversation").order_by(events.c.id)
            )
        ).all()
    assert len(convs) == 300 and all(c.status == "closed" for c in convs), "every conversation was served"
    assigned = Counter(r.subject_id for r in log if r.action == "conversation.assigned")
    assert set(assigned) == {c.id for c in convs} and set(assigned.values()) == {1}, (
        "each assigned exactly once"
    )

    channel_of = {c.id: c.channel for c in convs}
    peaks = replay_peaks(log, channel_of)
    for (agent, channel), peak in peaks.items():
        assert peak <= AGENTS[names[agent]]["capacity"].get(channel, 0), (names[agent], channel, peak)
    assert peaks[(ids["german_chat"], "chat")] == 3, "the chat-only agent worked at full chat capacity"
    assert {channel for (agent, channel) in peaks if agent == ids["german_chat"]} == {"chat"}

    key_accounts = {c["id"] for c in customers if c.get("key_account")}
    by_customer = {c.id: c for c in convs}
    served = {
        names[by_customer[cid].assignee_id]
        for cid in by_customer
        if by_customer[cid].customer_id in key_accounts
    }
    assert served == {"kam"}, "key accounts reach their key account manager"
    english = {c["id"] for c in customers if c["language"] == "en" and not c.get("key_account")}
    assert {names[c.assignee_id] for c in convs if c.customer_id in english} == {"english"}
