"""Sending SMS replies with the ``twilio`` library's async client (connectors.lib.twilio.client).

The reply leaves from the number the customer wrote to, with that number's account;
Twilio reports delivery to ``/webhooks/twilio/sms/status?id=<reply>``. A text over 1,600
characters leaves in parts (``TwilioMessages.create_in_parts``).
"""

from __future__ import annotations

from connectors.base import ConnectorContext, Outbound, SendFailed, Sent
from connectors.lib.twilio.client import TwilioMessages
from connectors.lib.twilio.messaging import split_text
from connectors.lib.twilio.webhook import TwilioWebhooks
from connectors.sms_twilio.segments import encoding_of, segments


class TwilioSmsSender:
    def __init__(self, ctx: ConnectorContext) -> None:
        self._settings = ctx.settings.connectors.twilio
        self._webhooks = TwilioWebhooks(ctx.settings)
        self._messages = TwilioMessages(self._settings.api_base)

    async def send(self, item: Outbound) -> Sent:
        account = (self._webhooks.account_for_number(item.sender) if item.sender else None) or next(
            iter(self._webhooks.accounts.values())
        )
        sender = item.sender or (account.numbers[0] if account.numbers else None)
        if sender is None:
            raise SendFailed(
                "no Twilio number to send from: list it under the account's numbers", permanent=True
            )
        callback = f"{self._webhooks.public_url}/webhooks/twilio/sms/status?id={item.id}"
        ids = await self._messages.create_in_parts(
            account, item, to=item.recipient, from_=sender, status_callback=callback
        )
        parts = split_text(item.text)
        return Sent(
            tuple(ids),
            {
                "sms": {
                    "from": sender,
                    "parts": len(parts),
                    "encoding": encoding_of(item.text),
                    "segments": sum(segments(p) for p in parts),
                }
            },
        )

    async def close(self) -> None:
        await self._messages.close()
