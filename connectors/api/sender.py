"""Replies on the API channel: POSTed as JSON to the integration's ``reply_url``.

Attachments travel inline, base64-encoded. Each POST carries ``X-ContactHub-Timestamp``
and ``X-ContactHub-Signature`` (hex HMAC-SHA256 of ``"<timestamp>.<body>"`` with
``reply_secret``), so the integration can tell the hub's calls from forgeries. A 2xx is
sent; another 4xx fails for good (the integration refused it); 408, 429, 5xx and
network errors are retried by the outbox.
"""

from __future__ import annotations

import base64
import time

import aiohttp
import orjson

from connectors.base import ConnectorContext, Outbound, SendFailed, Sent
from hub.signing import SIGNATURE, TIMESTAMP, sign

RETRIED = {408, 425, 429}


class ApiReplySender:
    carries_attachments = True  # inline, base64: the integration needs no second call

    def __init__(self, ctx: ConnectorContext) -> None:
        settings = ctx.settings.connectors.api
        assert settings.reply_url is not None  # the spec opens a sender only with a URL
        self._url = settings.reply_url
        self._secret = settings.reply_secret.get_secret_value() if settings.reply_secret else ""
        self._ctx = ctx

    async def send(self, item: Outbound) -> Sent:
        files = [
            {
                "filename": f.filename,
                "content_type": f.content_type,
                "size": f.size,
                "content_base64": base64.b64encode(await self._ctx.blobs.get(f.sha256)).decode(),
            }
            for f in item.attachments
        ]
        body = orjson.dumps(
            {
                "id": item.id,
                "channel": "api",
                "to": item.recipient,
                "text": item.text,
                "attachments": files,
                "attempt": item.attempt,
            }
        )
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP: timestamp,
            SIGNATURE: sign(self._secret, timestamp, body),
        }
        try:
            async with self._ctx.http.post(
                self._url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=15)
            ) as resp:
                text = (await resp.text())[:300]
                if resp.status < 300:
                    return Sent(provider_ids=(resp.headers.get("X-Request-ID", item.id),))
                permanent = 400 <= resp.status < 500 and resp.status not in RETRIED
                raise SendFailed(
                    f"the integration answered {resp.status}: {text or resp.reason}",
                    permanent=permanent,
                    code=str(resp.status),
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SendFailed(f"the integration is not reachable: {exc!r}", permanent=False) from exc

    async def close(self) -> None:
        """The shared HTTP session is the app's to close."""
