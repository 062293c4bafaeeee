"""Sending WhatsApp messages with the ``twilio`` library's async client.

A reply leaves from the WhatsApp sender the customer wrote to; a conversation the hub
starts leaves from ``connectors.twilio.whatsapp_from``. Free text goes as ``Body`` (in
parts over 1,600 characters); a template (outside the 24-hour window the only thing
WhatsApp delivers) goes as its Content SID with the variables filled in. Twilio reports
delivery, and WhatsApp's "read", to ``/webhooks/twilio/whatsapp/status?id=<reply>``.
"""

from __future__ import annotations

import orjson

from connectors.base import ConnectorContext, Outbound, SendFailed, Sent
from connectors.lib.twilio.client import TwilioMessages
from connectors.lib.twilio.webhook import WHATSAPP, TwilioWebhooks


class TwilioWhatsAppSender:
    def __init__(self, ctx: ConnectorContext) -> None:
        self._settings = ctx.settings.connectors.twilio
        self._webhooks = TwilioWebhooks(ctx.settings)
        self._messages = TwilioMessages(self._settings.api_base)

    def _from(self, item: Outbound) -> str:
        sender = item.sender or self._settings.whatsapp_from
        if sender is None:
            first = next(iter(self._webhooks.accounts.values()), None)
            sender = first.numbers[0] if first is not None and first.numbers else None
        if sender is None:
            raise SendFailed(
                "no WhatsApp sender: set connectors.twilio.whatsapp_from or list the number under the"
                " account's numbers",
                permanent=True,
            )
        return sender

    async def send(self, item: Outbound) -> Sent:
        sender = self._from(item)
        account = self._webhooks.account_for_number(sender) or next(iter(self._webhooks.accounts.values()))
        fields = {
            "to": WHATSAPP + item.recipient,
            "from_": WHATSAPP + sender,
            "status_callback": f"{self._webhooks.public_url}/webhooks/twilio/whatsapp/status?id={item.id}",
        }
        if item.template is not None:
            variables = orjson.dumps(item.template.get("variables") or {}).decode()
            sid = await self._messages.create(
                account, content_sid=item.template["content_sid"], content_variables=variables, **fields
            )
            return Sent((sid,), {"whatsapp": {"from": sender, "template": item.template.get("name")}})
        ids = await self._messages.create_in_parts(account, item, **fields)
        return Sent(tuple(ids), {"whatsapp": {"from": sender, "parts": len(ids)}})

    async def close(self) -> None:
        await self._messages.close()
