"""Phaxio-style gateways: ``POST /webhooks/fax/phaxio``, multipart, the PDF in part
``file`` and the fax as JSON in field ``fax``.

``X-Phaxio-Signature`` is Phaxio's published scheme: the hex HMAC-SHA1, keyed with the
webhook (callback) token, of the callback URL, then every field name and value sorted by
name, then every file part's field name and the hex SHA-1 of its bytes, sorted by name.
Phaxio retries a callback up to 16 times: the fax id is the message's external id, so a
retry is stored once.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import aiohttp
import orjson

from connectors.base import FilePart, ReceivedFax, SendFailed
from connectors.fax.provider import PDF, Callback, OutgoingFax, StatusReport, page_count, status_failed
from connectors.fax.settings import PhaxioSettings
from hub.errors import Forbidden, Ignored, PayloadRejected
from hub.untrusted import secrets_equal

log = logging.getLogger("contacthub.fax")
NAME = "phaxio"


def phaxio_signature(
    token: str, url: str, fields: Mapping[str, str], files: Sequence[tuple[str, bytes]]
) -> str:
    """The X-Phaxio-Signature of a callback. Pure."""
    text = url + "".join(name + fields[name] for name in sorted(fields))
    text += "".join(name + hashlib.sha1(data).hexdigest() for name, data in sorted(files))
    return hmac.new(token.encode(), text.encode(), hashlib.sha1).hexdigest()


def _fax_json(fields: Mapping[str, str]) -> dict[str, Any]:
    raw = fields.get("fax")
    if not raw:
        raise PayloadRejected("fax: missing (the fax's JSON)")
    try:
        fax = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise PayloadRejected(f"fax: not JSON ({exc})") from exc
    if not isinstance(fax, dict) or fax.get("id") in (None, ""):
        raise PayloadRejected("fax: no id")
    return fax


def parse_phaxio(
    fields: Mapping[str, str], files: Sequence[FilePart], query: Mapping[str, str]
) -> ReceivedFax | StatusReport:
    """A Phaxio callback's meaning: a received fax with its file, or the outcome of one
    of ours (``?id=<reply>`` in the callback URL we gave). Pure."""
    fax = _fax_json(fields)
    direction = str(fields.get("direction") or fax.get("direction") or "")
    fax_id = str(fax["id"])
    if direction == "sent":
        reply_id = query.get("id", "")
        if not reply_id:
            raise Ignored("a sent fax's report without our reply id")
        outcome = str(fax.get("status") or "")
        success = fields.get("success", "") == "true" or outcome == "success"
        code = None
        for recipient in fax.get("recipients") or ():
            if isinstance(recipient, dict) and recipient.get("error_code"):
                code = str(recipient["error_code"])
        if success:
            status = "delivered"
        elif outcome in ("failure", "partialsuccess") or fields.get("success") == "false":
            status = "failed"
        else:
            status = "sent"
        return StatusReport(reply_id=reply_id, provider_id=fax_id, status=status, code=code)
    if direction != "received":
        raise PayloadRejected(f"direction: {direction or 'missing'} (received or sent)")
    document = next((f for f in files if f.name == "file"), None)
    if document is None:
        raise Ignored("a received-fax report without its file (reception failed)")
    sender = str(fax.get("from_number") or "")
    pages = fax.get("num_pages")
    return ReceivedFax(
        provider=NAME,
        fax_id=fax_id,
        sender=sender,
        recipient=str(fax["to_number"]) if fax.get("to_number") else None,
        document=document,
        pages=page_count(pages),
        station_id=str(fax["caller_name"]) if fax.get("caller_name") else None,
    )


class Phaxio:
    name = NAME

    def __init__(self, settings: PhaxioSettings) -> None:
        self._settings = settings
        self._token = settings.callback_token.get_secret_value()

    def verify(self, callback: Callback, now: datetime) -> None:
        given = callback.headers.get("X-Phaxio-Signature", "")
        files = [(f.name, f.data) for f in callback.files]
        expected = phaxio_signature(self._token, callback.url, callback.fields, files)
        if not secrets_equal(given.strip().lower(), expected):
            log.warning(
                "phaxio callback refused: %s", "no signature" if not given else "signature does not match"
            )
            raise Forbidden("the X-Phaxio-Signature does not verify for this URL and token")

    def parse(self, callback: Callback) -> ReceivedFax | StatusReport:
        return parse_phaxio(callback.fields, callback.files, callback.query)

    @property
    def can_send(self) -> bool:
        return bool(self._settings.api_key and self._settings.api_secret)

    async def send(self, http: aiohttp.ClientSession, fax: OutgoingFax) -> str:
        s = self._settings
        if not (s.api_key and s.api_secret):
            raise SendFailed("set connectors.fax.phaxio.api_key and api_secret to send", permanent=True)
        form = aiohttp.FormData()
        form.add_field("to", fax.to)
        if fax.sender:
            form.add_field("caller_id", fax.sender)
        form.add_field("callback_url", fax.callback_url)
        form.add_field("file", fax.pdf, filename=f"{fax.reply_id}.pdf", content_type=PDF)
        auth = aiohttp.encode_basic_auth(s.api_key, s.api_secret.get_secret_value())
        try:
            async with http.post(
                s.api_base.rstrip("/") + "/v2.1/faxes",
                data=form,
                headers={"Authorization": auth},
                timeout=aiohttp.ClientTimeout(total=60),
            ) as resp:
                body = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SendFailed(f"Phaxio unreachable: {exc!r}", permanent=False) from exc
        doc = _json(body)
        if status >= 300 or not doc.get("success", status < 300):
            message = str(doc.get("message") or f"HTTP {status}")
            raise SendFailed(f"Phaxio refused: {message}", permanent=status_failed(status), code=str(status))
        data = doc.get("data") if isinstance(doc.get("data"), dict) else {}
        fax_id = data.get("id") if data else None
        if fax_id in (None, ""):
            raise SendFailed("Phaxio accepted the fax but named no id", permanent=False)
        return str(fax_id)


def _json(body: bytes) -> dict[str, Any]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    return doc if isinstance(doc, dict) else {}
