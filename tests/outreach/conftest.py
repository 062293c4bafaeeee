"""The outreach tests' hub, on both backends: email to an aiosmtpd peer, SMS through the
real twilio library to the local Twilio double, the API channel; agents of every role;
routing rules with a marketing queue."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestServer

from connectors.email.inbound import to_inbound
from connectors.email.settings import MailboxSettings
from hub.auth.sessions import hash_password
from hub.keys import BLOBS, QUEUE, STORE
from hub.store.tables import agents, conversations, events, messages
from tests.conftest import HubClient, drop_backend, make_settings, running_hub, sign_in, sign_in_all
from tests.connectors.conftest import ACCOUNT, NUMBER, TOKEN, FakeTwilio
from tests.connectors.email.smtp_peer import Peer
from tests.waits import eventually

DOMAIN = "hub.example"
PUBLIC_URL = "https://hub.example"
RULES = """
queues:
  service: {}
  marketing: {}
rules:
  - name: everyone
    targets:
      - {queue: service, agents: '"service" in departments'}
"""


# The default contact policy without its quiet hours: the time of day a test runs at must
# not decide it (the tests of quiet hours save their own).
POLICY = """
rules:
  - name: no marketing while service is talking
    purposes: [marketing]
    while_open: {departments: [service]}
  - name: no marketing soon after a complaint
    purposes: [marketing]
    after_closed: {tags: [complaint], days: 14}
  - name: at most two marketing contacts a week
    purposes: [marketing]
    at_most: {contacts: 2, days: 7}
  - name: key accounts through their manager
    purposes: [marketing]
    key_accounts: manager
"""


TEMPLATES = [
    {
        "name": "callback_offer",
        "language": "de",
        "content_sid": "HX" + "d" * 32,
        "body": "Guten Tag {{1}}, wir möchten Sie zu Ihrem Vertrag sprechen. Passt es Ihnen?",
    },
    {
        "name": "green_tariff",
        "language": "de",
        "content_sid": "HX" + "e" * 32,
        "body": "Neu: Ökostrom-Tarif. Keine Angebote mehr? Antworten Sie STOP.",
        "purpose": "marketing",
    },
    {
        "name": "green_tariff_plain",
        "language": "de",
        "content_sid": "HX" + "f" * 32,
        "body": "Neu: Ökostrom-Tarif.",
        "purpose": "marketing",
    },
]


def phone(n: int) -> str:
    """The mobile number of the test's n-th customer."""
    return f"+491761234{n:04d}"


class World:
    def __init__(self, hub: HubClient, roles: dict[str, dict[str, str]], mail: Peer, sms: FakeTwilio) -> None:
        self.hub, self.roles, self.mail, self.sms = hub, roles, mail, sms
        self.n = 0

    async def post(self, path: str, body: dict[str, Any], role: str = "agent") -> Any:
        resp = await self.hub.client.post(path, json=body, headers=self.roles[role])
        return resp.status, await resp.json()

    async def customer(self, role: str = "agent", **fields: Any) -> str:
        """A customer the agent created (so they may see it), with an email and a phone."""
        self.n += 1
        body = {
            "name": f"Kundin {self.n}",
            "identities": [
                {"kind": "email", "value": f"kundin{self.n}@example.com"},
                {"kind": "phone", "value": fields.pop("phone", phone(self.n))},
            ],
            **fields,
        }
        status, found = await self.post("/api/v1/customers", body, role)
        assert status == 201, found
        return str(found["id"])

    async def start(self, customer_id: str, role: str = "agent", **body: Any) -> tuple[int, Any]:
        defaults = {"channel": "email", "subject": "Ihr Zählerwechsel", "text": "Guten Tag, wir melden uns."}
        return await self.post(
            "/api/v1/conversations", {"customer_id": customer_id, **defaults, **body}, role
        )

    async def policy(self, text: str) -> None:
        resp = await self.hub.client.put(
            "/api/v1/contact-policy",
            data=text,
            headers={**self.roles["admin"], "Content-Type": "application/yaml"},
        )
        assert resp.status == 200, await resp.text()

    async def consent(self, customer_id: str, channel: str, purpose: str, granted: bool) -> None:
        resp = await self.hub.client.put(
            f"/api/v1/customers/{customer_id}/consent",
            json={"channel": channel, "purpose": purpose, "granted": granted},
            headers=self.roles["supervisor"],
        )
        assert resp.status == 200, await resp.text()

    async def inbound(self, customer_no: int, text: str) -> str:
        """The customer writes on the API channel (as themselves, by email address); the
        conversation it lands in, once stored."""
        external = f"in-{uuid.uuid4()}"
        resp = await self.hub.post_message(
            {
                "external_id": external,
                "from": {"kind": "email", "value": f"kundin{customer_no}@example.com"},
                "text": text,
            }
        )
        assert resp.status == 202, await resp.text()

        async def stored() -> str | None:
            async with self.hub.app[STORE].read() as conn:
                return await conn.scalar(
                    sa.select(messages.c.conversation_id).where(messages.c.external_id == external)
                )

        return str(await eventually(stored, what="the customer's message stored"))

    async def answer_mail(self, mail: Any, text: str, sender: str = "kundin1@example.com") -> None:
        """The customer answers ``mail`` (one the hub sent), as their mail client would."""
        answer = EmailMessage()
        answer["From"] = sender
        answer["To"] = f"service@{DOMAIN}"
        answer["Subject"] = f"Re: {mail['Subject']}"
        answer["Message-ID"] = f"<{uuid.uuid4()}@example.com>"
        answer["In-Reply-To"] = mail["Message-ID"]
        answer.set_content(text)
        box = MailboxSettings(host="127.0.0.1", user=f"service@{DOMAIN}", password="x")
        inbound = await to_inbound(answer.as_bytes(), "service", box, self.hub.app[BLOBS], datetime.now(UTC))
        await self.hub.app[QUEUE].append(inbound)

    async def row(self, conv_id: str) -> Any:
        async with self.hub.app[STORE].read() as conn:
            return (await conn.execute(sa.select(conversations).where(conversations.c.id == conv_id))).one()

    async def events(self, subject_id: str, action: str) -> list[Any]:
        async with self.hub.app[STORE].read() as conn:
            return list(
                await conn.execute(
                    sa.select(events).where(events.c.subject_id == subject_id, events.c.action == action)
                )
            )


@pytest.fixture
async def world(backend: str, tmp_path: Path) -> AsyncIterator[World]:
    mail = Peer()
    mail.start()
    twilio = FakeTwilio()
    (tmp_path / "routing.yaml").write_text(RULES)
    async with TestServer(twilio.app) as server:
        settings = make_settings(
            tmp_path,
            backend,
            **{
                "connectors.api.reply_url": "http://127.0.0.1:9/replies",
                "server.public_url": PUBLIC_URL,
                "campaigns.step_seconds": 0,  # the tests take the campaign steps themselves
                "connectors.email.enabled": True,
                "connectors.email.domain": DOMAIN,
                "connectors.email.from_address": f"service@{DOMAIN}",
                "connectors.email.smtp": {
                    "host": "127.0.0.1",
                    "port": mail.port,
                    "security": "none",
                    "timeout": 5.0,
                },
                "connectors.twilio.enabled": True,
                "connectors.twilio.public_url": "https://hub.example.com",
                "connectors.twilio.api_base": str(server.make_url("/")),
                "connectors.twilio.accounts": [
                    {"account_sid": ACCOUNT, "auth_token": TOKEN, "numbers": [NUMBER]}
                ],
                "connectors.twilio.whatsapp": True,
                "connectors.twilio.whatsapp_templates": TEMPLATES,
            },
        )
        try:
            async with running_hub(settings) as hub:
                world = World(hub, await sign_in_all(hub), mail, twilio)
                await world.policy(POLICY)
                yield world
        finally:
            mail.stop()
            await drop_backend(settings)


async def add_agent(world: World, name: str, departments: list[str]) -> tuple[str, dict[str, str]]:
    agent_id = str(uuid.uuid4())
    async with world.hub.app[STORE].write() as conn:
        await conn.execute(
            sa.insert(agents).values(
                id=agent_id,
                email=f"{name}@test.example",
                name=name.title(),
                role="agent",
                password_hash=hash_password("pw-x"),
                presence="offline",
                languages=["de"],
                departments=departments,
                capacity={},
                active=True,
                created_at=datetime.now(UTC),
            )
        )
    return agent_id, await sign_in(world.hub, f"{name}@test.example", "pw-x")
