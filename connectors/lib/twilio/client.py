"""The ``twilio`` library's async client as the hub's senders use it.

Credentials travel as a header (aiohttp deprecates its BasicAuth helper) and, with
``api_base`` set, requests go to another host (a simulator or a test double): only the
scheme and host change, the library's requests stay as they are. A 4xx from Twilio (a bad
number, a blocked recipient, a WhatsApp window closed) is permanent; 429, 5xx and network
errors are retried by the outbox.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from connectors.base import Outbound, SendFailed
from connectors.lib.twilio.messaging import split_text
from connectors.lib.twilio.settings import TwilioAccount


class TwilioHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
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


class TwilioMessages:
    """Creates messages on an account's Messages API; one HTTP client for all accounts."""

    def __init__(self, api_base: str | None) -> None:
        self._api_base = api_base
        self._http: TwilioHttpClient | None = None

    async def create(self, account: TwilioAccount, **fields: Any) -> str:
        """The new message's SID; SendFailed if Twilio refuses."""
        if self._http is None:
            self._http = TwilioHttpClient(self._api_base)
        client = Client(account.account_sid, account.auth_token.get_secret_value(), http_client=self._http)
        try:
            message: Any = await client.messages.create_async(**fields)
        except TwilioRestException as exc:
            permanent = 400 <= exc.status < 500 and exc.status != 429
            raise SendFailed(
                f"Twilio refused: {exc.msg}", permanent=permanent, code=str(exc.code or exc.status)
            ) from exc
        return str(message.sid)

    async def create_in_parts(self, account: TwilioAccount, item: Outbound, **fields: Any) -> list[str]:
        """The item's text in parts of at most 1,600 characters, each recorded on the outbox
        row before the next is sent, so a retry sends only the parts still missing (a crash
        between Twilio's answer and that record can still repeat one): the parts' SIDs."""
        ids: list[str] = []
        parts = split_text(item.text)
        for index, part in enumerate(parts):
            if index in item.sent_parts:  # accepted on an earlier attempt: never twice
                ids.append(item.sent_parts[index])
                continue
            sid = await self.create(account, body=part, **fields)
            ids.append(sid)
            if len(parts) > 1 and item.record_part is not None:
                await item.record_part(index, sid)
        return ids

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
