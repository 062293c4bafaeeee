"""WhatsApp in the console, in real Chromium: the customer's last message is over 24 hours
old, so the composer offers the registered templates instead of a text box; the agent
fills the placeholders, sees the text it makes, and sends it (the real twilio library
posts its Content SID to the local Twilio double). When the customer writes again the
window opens and the text box is back."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest_asyncio
import sqlalchemy as sa
from aiohttp.test_utils import TestServer

from hub.keys import CONTACT_POLICY, QUEUE, STORE
from hub.model import Address, AddressKind, Channel, InboundMessage
from hub.store.tables import messages
from tests.conftest import drop_backend, make_settings
from tests.connectors.conftest import ACCOUNT, NUMBER, TOKEN, FakeTwilio
from tests.e2e.conftest import E2E, LiveHub, Replies, _need_browser, add_agent, sign_in
from tests.waits import eventually

pytestmark = E2E
CUSTOMER = "+4917612349999"
TEMPLATE = {
    "name": "order_update",
    "language": "de",
    "content_sid": "HX" + "a" * 32,
    "body": "Hallo {{1}}, Ihre Bestellung {{2}} ist unterwegs.",
}


@dataclass
class WhatsAppHub:
    hub: LiveHub
    twilio: FakeTwilio


@pytest_asyncio.fixture(loop_scope="session")
async def whatsapp_hub(tmp_path: Path) -> AsyncIterator[WhatsAppHub]:
    _need_browser()
    from hub.app import create_app

    fake = FakeTwilio()
    async with TestServer(fake.app) as twilio:
        settings = make_settings(
            tmp_path,
            "embedded",
            **{
                "connectors.twilio.enabled": True,
                "connectors.twilio.sms": False,
                "connectors.twilio.voice": False,
                "connectors.twilio.whatsapp": True,
                "connectors.twilio.public_url": "https://hub.example.com",
                "connectors.twilio.api_base": str(twilio.make_url("/")),
                "connectors.twilio.accounts": [
                    {"account_sid": ACCOUNT, "auth_token": TOKEN, "numbers": [NUMBER]}
                ],
                "connectors.twilio.whatsapp_templates": [TEMPLATE],
            },
        )
        app = create_app(settings, migrate=True)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        # no quiet hours: the time of day the test runs at must not decide it
        await app[CONTACT_POLICY].save("rules: []\n", "tests", None)
        try:
            yield WhatsAppHub(LiveHub(str(server.make_url("")).rstrip("/"), app, "", {}, Replies()), fake)
        finally:
            await server.close()
            await drop_backend(settings)


async def written(hub: LiveHub, sid: str, text: str, at: datetime) -> str:
    """The customer writes on WhatsApp (at ``at``); the conversation it lands in."""
    msg = InboundMessage(
        channel=Channel.WHATSAPP,
        external_id=sid,
        sender=Address(AddressKind.PHONE, CUSTOMER),
        recipient=Address(AddressKind.PHONE, NUMBER),
        sender_name="Wilma Whatsapp",
        text=text,
        received_at=at,
    )
    await hub.app[QUEUE].append(msg)

    async def stored() -> Any:
        async with hub.app[STORE].read() as conn:
            return await conn.scalar(
                sa.select(messages.c.conversation_id).where(messages.c.external_id == sid)
            )

    return str(await eventually(stored, what="the WhatsApp message stored"))


async def test_the_composer_switches_to_templates_outside_the_window(
    whatsapp_hub: WhatsAppHub, browser: Any
) -> None:
    hub = whatsapp_hub.hub
    await add_agent(hub, "sara@e2e.example", "Sara Supervisor", "supervisor")
    conv_id = await written(
        hub, "SMwa-e2e-1", "Wo bleibt mein Paket?", datetime.now(UTC) - timedelta(hours=26)
    )
    sara = await sign_in(browser, hub, "sara@e2e.example")
    await sara.goto(f"{hub.url}/console/#/c/{conv_id}")
    await sara.wait_for_selector("#composer-templates:not([hidden])")
    assert "24-hour window closed" in await sara.inner_text("#composer-whatsapp-window")
    assert await sara.is_hidden("#composer-text")
    assert await sara.inner_text("#composer-template") == "order_update (de)"
    await sara.fill("#composer-template-var-1", "Wilma")
    await sara.fill("#composer-template-var-2", "4711")
    assert (
        await sara.inner_text("#composer-template-preview")
        == "Hallo Wilma, Ihre Bestellung 4711 ist unterwegs."
    )
    await sara.click("#composer-send")
    await sara.wait_for_selector(".msg-text >> text=Hallo Wilma, Ihre Bestellung 4711 ist unterwegs.")

    async def at_twilio() -> bool:
        return bool(whatsapp_hub.twilio.messages)

    await eventually(at_twilio, what="the template at the Twilio double")
    [out] = whatsapp_hub.twilio.messages
    assert out["ContentSid"] == TEMPLATE["content_sid"] and out["To"] == f"whatsapp:{CUSTOMER}"
    assert json.loads(out["ContentVariables"]) == {"1": "Wilma", "2": "4711"}

    # the customer answers: the window is open, and free text goes again
    await written(hub, "SMwa-e2e-2", "Danke!", datetime.now(UTC))
    await sara.wait_for_selector("#composer-whatsapp-window >> text=free text until")
    assert await sara.is_visible("#composer-text")
    assert await sara.is_hidden("#composer-templates")

    # a day later, with the conversation closed, Sara starts a new one from the customer
    # panel: the dialog offers the templates too
    closed = await sara.evaluate(
        "async (id) => { const { api } = await import('/console/js/api.js');"
        " return api('POST', `/api/v1/conversations/${id}/close`, {}); }",
        conv_id,
    )
    assert closed["status"] == "closed"
    async with hub.app[STORE].write() as conn:
        for row in (await conn.execute(sa.select(messages.c.id, messages.c.received_at))).all():
            await conn.execute(
                sa.update(messages)
                .where(messages.c.id == row.id)
                .values(received_at=row.received_at - timedelta(hours=30))
            )
    await sara.goto(f"{hub.url}/console/#/c/{conv_id}")
    await sara.click("#cust-start")
    await sara.wait_for_selector("dialog.start-dialog")
    await sara.select_option("#out-channel", "whatsapp")
    await sara.wait_for_selector("#out-templates:not([hidden])")
    assert await sara.is_hidden("#out-text")
    await sara.fill("#out-template-var-1", "Wilma")
    await sara.fill("#out-template-var-2", "4712")
    await sara.click("#out-send")
    await sara.wait_for_function(f"location.hash.startsWith('#/c/') && location.hash !== '#/c/{conv_id}'")
    await sara.wait_for_selector(".msg-text >> text=Hallo Wilma, Ihre Bestellung 4712 ist unterwegs.")
    await eventually(lambda: _two(whatsapp_hub.twilio), what="the second template at the Twilio double")
    assert json.loads(whatsapp_hub.twilio.messages[1]["ContentVariables"]) == {"1": "Wilma", "2": "4712"}


async def _two(fake: FakeTwilio) -> bool:
    return len(fake.messages) == 2
