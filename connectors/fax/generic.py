"""Generic signed gateways (a self-hosted HylaFAX, t38modem or any bridge):
``POST /webhooks/fax/generic`` with a JSON body.

- ``X-ContactHub-Timestamp``: Unix seconds; further than ``replay_window_seconds`` from
  now is refused, so a captured request cannot be replayed later (within the window a
  replayed fax is still stored once: its id is the external id).
- ``X-ContactHub-Signature``: ``sha256=`` and the hex HMAC-SHA256, keyed with the shared
  secret, of ``"<timestamp>.<body>"``.

Bodies::

    {"event": "fax.received", "id": "…", "from": "+49…", "to": "+49…", "pages": 2,
     "station_id": "…", "file": {"filename": "f.pdf", "content_type": "application/pdf", "data": "<base64>"}}
    {"event": "fax.status", "id": "<gateway id>", "reply_id": "…", "status": "delivered", "code": null}

Outgoing faxes are POSTed the same way (signed, JSON) to ``send_url``; the answer names
the gateway's id: ``{"id": "…"}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import datetime
from typing import Any

import aiohttp
import orjson

from connectors.base import FilePart, ReceivedFax, SendFailed
from connectors.fax.provider import (
    PDF,
    Callback,
    OutgoingFax,
    StatusReport,
    base64_bytes,
    json_object,
    page_count,
    status_failed,
)
from connectors.fax.settings import GenericFaxSettings
from hub.errors import Forbidden, Ignored, InputError, PayloadRejected
from hub.untrusted import secrets_equal, strict_int

NAME = "generic"
SIGNATURE = "X-ContactHub-Signature"
TIMESTAMP = "X-ContactHub-Timestamp"
STATUSES = {"delivered", "failed", "undelivered", "sent"}


def generic_signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` over ``"<timestamp>.<body>"``. Pure."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def check_generic(
    secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float, window: int
) -> None:
    """Raise Forbidden unless the signature verifies and the timestamp is within the window. Pure."""
    if not timestamp or not signature:
        raise Forbidden(f"send {TIMESTAMP} and {SIGNATURE}")
    try:
        sent_at = strict_int(timestamp, TIMESTAMP)
    except PayloadRejected as exc:  # '²' passes isdigit() and fails int()
        raise Forbidden(f"{TIMESTAMP}: Unix seconds") from exc
    if abs(now - sent_at) > window:
        raise Forbidden(f"{TIMESTAMP} is outside the replay window of {window} s")
    given = signature.strip().lower()
    if not given.startswith("sha256="):
        given = "sha256=" + given
    if not secrets_equal(given, generic_signature(secret, timestamp, body)):
        raise Forbidden(f"the {SIGNATURE} does not verify")


def parse_generic(body: bytes, content_type: str) -> ReceivedFax | StatusReport:
    if content_type != "application/json":
        raise InputError("send the event as application/json", field="(body)")
    doc = json_object(body)
    event = doc.get("event")
    fax_id = str(doc.get("id") or "")
    if not fax_id:
        raise PayloadRejected("id: missing")
    if event == "fax.status":
        status = str(doc.get("status") or "")
        if status not in STATUSES:
            raise PayloadRejected(f"status: one of {', '.join(sorted(STATUSES))}")
        if not doc.get("reply_id"):
            raise Ignored("a status without our reply id")
        code = doc.get("code")
        return StatusReport(
            reply_id=str(doc["reply_id"]), provider_id=fax_id, status=status, code=str(code) if code else None
        )
    if event != "fax.received":
        raise Ignored(f"event {event!r} is not one the hub needs")
    file = doc.get("file")
    if not isinstance(file, dict) or not file.get("data"):
        raise PayloadRejected("file: missing (filename, content_type, data as base64)")
    data = base64_bytes(file["data"], "file.data")
    pages = doc.get("pages")
    return ReceivedFax(
        provider=NAME,
        fax_id=fax_id,
        sender=str(doc.get("from") or ""),
        recipient=str(doc["to"]) if doc.get("to") else None,
        document=FilePart(
            "file",
            str(file.get("filename") or "fax"),
            str(file.get("content_type") or "application/octet-stream"),
            data,
        ),
        pages=page_count(pages),
        station_id=str(doc["station_id"]) if doc.get("station_id") else None,
    )


def signed_body(secret: str, doc: dict[str, Any], now: float) -> tuple[bytes, dict[str, str]]:
    """A JSON body and the headers that sign it."""
    body = orjson.dumps(doc)
    timestamp = str(int(now))
    return body, {
        "Content-Type": "application/json",
        TIMESTAMP: timestamp,
        SIGNATURE: generic_signature(secret, timestamp, body),
    }


class Generic:
    name = NAME

    def __init__(self, settings: GenericFaxSettings) -> None:
        self._settings = settings
        self._secret = settings.secret.get_secret_value()

    def verify(self, callback: Callback, now: datetime) -> None:
        check_generic(
            self._secret,
            callback.headers.get(TIMESTAMP),
            callback.headers.get(SIGNATURE),
            callback.body,
            now.timestamp(),
            self._settings.replay_window_seconds,
        )

    def parse(self, callback: Callback) -> ReceivedFax | StatusReport:
        return parse_generic(callback.body, callback.content_type)

    @property
    def can_send(self) -> bool:
        return self._settings.send_url is not None

    async def send(self, http: aiohttp.ClientSession, fax: OutgoingFax) -> str:
        url = self._settings.send_url
        if url is None:
            raise SendFailed("set connectors.fax.generic.send_url to send", permanent=True)
        doc = {
            "id": fax.reply_id,
            "to": fax.to,
            "from": fax.sender,
            "callback_url": fax.callback_url,
            "file": {
                "filename": f"{fax.reply_id}.pdf",
                "content_type": PDF,
                "data": base64.b64encode(fax.pdf).decode(),
            },
        }
        body, headers = signed_body(self._secret, doc, time.time())
        try:
            async with http.post(
                url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=60)
            ) as resp:
                answer = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SendFailed(f"the fax gateway is unreachable: {exc!r}", permanent=False) from exc
        if status >= 300:
            raise SendFailed(
                f"the fax gateway refused: HTTP {status}", permanent=status_failed(status), code=str(status)
            )
        try:
            got = orjson.loads(answer)
        except orjson.JSONDecodeError:
            got = None
        if not isinstance(got, dict) or not got.get("id"):
            raise SendFailed("the fax gateway named no id", permanent=False)
        return str(got["id"])
