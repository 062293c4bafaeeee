"""Sending SMS replies with the ``twilio`` library's async client.

The reply leaves from the number the customer wrote to, with that number's account;
Twilio reports delivery to ``/webhooks/twilio/sms/status?id=<reply>``. A 4xx from Twilio
(a bad number, a blocked recipient) is permanent; 429, 5xx and network errors are retried
by the outbox. A text over 1,600 characters leaves in parts; each accepted part is
recorded on the outbox row before the next is sent, so a retry sends only the parts
still missing (a crash between Twilio's answer and that record can still repeat one).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from connectors.base import ConnectorContext, Outbound, SendFailed, Sent
from connectors.lib.twilio.webhook import TwilioWebhooks
from connectors.sms_twilio.segments import encoding_of, segments, split_text


class TwilioHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """The library's client, sending credentials as a header (aiohttp deprecates its
    BasicAuth helper) and, with ``api_base`` set, to another host (a simulator or a test
    double): only the scheme and host change, the library's requests stay as they are."""

    def __init__(self, api_base: str | None) -> None:
        super().__init__(timeout=15)
        self._base = urlsplit(api_base) if api_base else None

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the library passes it
        allow_redirects: bool = False,
    ) -> Response:
        if self._base is not None:
            parts = urlsplit(url)
            url = urlunsplit((self._base.scheme, self._base.netloc, parts.path, parts.query, parts.fragment))
        headers = dict(headers or {})
        if auth is not None:
            headers["Authorization"] = aiohttp.encode_basic_auth(*auth)
        return await super().request(method, url, params, data, headers, None, timeout, allow_redirects)


class TwilioSmsSender:
    def __init__(self, ctx: ConnectorContext) -> None:
        self._settings = ctx.settings.connectors.twilio
        self._webhooks = TwilioWebhooks(ctx.settings)
        self._http: TwilioHttpClient | None = None

    async def send(self, item: Outbound) -> Sent:
        account = (self._webhooks.account_for_number(item.sender) if item.sender else None) or next(
            iter(self._webhooks.accounts.values())
        )
        sender = item.sender or (account.numbers[0] if account.numbers else None)
        if sender is None:
            raise SendFailed(
                "no Twilio number to send from: list it under the account's numbers", permanent=True
            )
        if self._http is None:
            self._http = TwilioHttpClient(self._settings.api_base)
        client = Client(account.account_sid, account.auth_token.get_secret_value(), http_client=self._http)
        callback = f"{self._webhooks.public_url}/webhooks/twilio/sms/status?id={item.id}"
        ids: list[str] = []
        parts = split_text(item.text)
        for index, part in enumerate(parts):
            if index in item.sent_parts:  # accepted on an earlier attempt: never twice
                ids.append(item.sent_parts[index])
                continue
            try:
                message: Any = await client.messages.create_async(
                    to=item.recipient, from_=sender, body=part, status_callback=callback
                )
            except TwilioRestException as exc:
                permanent = 400 <= exc.status < 500 and exc.status != 429
                raise SendFailed(
                    f"Twilio refused: {exc.msg}", permanent=permanent, code=str(exc.code or exc.status)
                ) from exc
            ids.append(message.sid)
            if len(parts) > 1 and item.record_part is not None:
                await item.record_part(index, message.sid)
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
        if self._http is not None:
            await self._http.close()
