"""Fetching MMS media (and recordings) from Twilio into the attachment store.

Twilio serves media behind the account's credentials (HTTP basic auth), usually with a
redirect to a storage host; aiohttp drops the Authorization header on a redirect to
another origin.
A file over the limit, an error status or a timeout raises ``MediaError``, and so does a
URL on a host outside ``connectors.twilio.media_hosts``: a webhook names the URL, and the
hub must not be made to fetch (with the account's credentials) from anywhere else.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from urllib.parse import urlsplit

import aiohttp

from connectors.base import Blobs
from connectors.lib.twilio.settings import TwilioAccount
from hub.model import Attachment

TIMEOUT = aiohttp.ClientTimeout(total=10)


_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class MediaError(Exception):
    pass


def media_host_allowed(url: str, hosts: Sequence[str]) -> bool:
    """Whether ``url`` is https on one of ``hosts`` (``*.example.com``: any subdomain). Pure.
    The fetch carries the account's credentials, so plain http only to this machine
    (a local provider stand-in)."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".").lower()
    except ValueError:
        return False
    if not host or not (parts.scheme == "https" or (parts.scheme == "http" and host in _LOOPBACK)):
        return False
    for allowed in (h.lower() for h in hosts):
        if allowed.startswith("*.") and host.endswith(allowed[1:]):
            return True
        if host == allowed:
            return True
    return False


async def fetch_media(
    http: aiohttp.ClientSession,
    url: str,
    content_type: str,
    *,
    account: TwilioAccount,
    blobs: Blobs,
    max_bytes: int,
    name: str,
    hosts: Sequence[str],
) -> Attachment:
    if not media_host_allowed(url, hosts):
        raise MediaError("media URL is not on one of connectors.twilio.media_hosts")
    auth = {
        "Authorization": aiohttp.encode_basic_auth(account.account_sid, account.auth_token.get_secret_value())
    }
    try:
        async with http.get(url, headers=auth, timeout=TIMEOUT) as resp:
            if resp.status != 200:
                raise MediaError(f"media answered {resp.status}")
            if (resp.content_length or 0) > max_bytes:
                raise MediaError(f"media of {resp.content_length} bytes is over {max_bytes}")
            data = bytearray()
            async for chunk in resp.content.iter_chunked(65536):
                data += chunk
                if len(data) > max_bytes:
                    raise MediaError(f"media is over {max_bytes} bytes")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise MediaError(f"media not fetched: {exc!r}") from exc
    sha256 = await blobs.put(bytes(data))
    extension = mimetypes.guess_extension(content_type) or ""
    return Attachment(sha256=sha256, filename=f"{name}{extension}", content_type=content_type, size=len(data))
