"""Sinch-style gateways: ``POST /webhooks/fax/sinch``, multipart (fields ``event`` and
``fax``, the document in part ``file``) or JSON (the document base64 in ``file``).

``INCOMING_FAX`` is a received fax; ``FAX_COMPLETED`` reports one of ours (``?id=<reply>``
in the callback URL we gave). The callback URL carries basic-auth credentials, which
are compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import aiohttp
import orjson

from connectors.base import FilePart, ReceivedFax, SendFailed
from connectors.fax.provider import (
    PDF,
    TIFF,
    Callback,
    OutgoingFax,
    StatusReport,
    base64_bytes,
    json_object,
    page_count,
    status_failed,
)
from connectors.fax.settings import SinchFaxSettings
from hub.errors import Ignored, PayloadRejected, Unauthenticated
from hub.untrusted import secrets_equal

NAME = "sinch"
FILE_TYPES = {"PDF": PDF, "TIF": TIFF, "TIFF": TIFF}


def basic_auth_valid(header: str | None, username: str, password: str) -> bool:
    """Whether an Authorization header carries these credentials. Pure."""
    if not header or not header.lower().startswith("basic "):
        return False
    try:
        given = base64.b64decode(header[6:].strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return secrets_equal(given, f"{username}:{password}")


def sinch_event(
    fields: Mapping[str, str], files: Sequence[FilePart], body: bytes, content_type: str
) -> tuple[str, dict[str, Any], FilePart | None]:
    """The event name, the fax object and the document of a callback. Pure."""
    if content_type == "application/json":
        doc = json_object(body)
        fax = doc.get("fax")
        document = None
        if doc.get("file"):
            data = base64_bytes(doc["file"], "file")
            kind = str(doc.get("fileType") or "PDF").upper()
            content = FILE_TYPES.get(kind, "application/octet-stream")
            document = FilePart("file", f"fax.{kind.lower()}", content, data)
        event = str(doc.get("event") or "")
    else:
        try:
            fax = orjson.loads(fields.get("fax") or "null")
        except orjson.JSONDecodeError as exc:
            raise PayloadRejected(f"fax: not JSON ({exc})") from exc
        document = next((f for f in files if f.name == "file"), None)
        event = fields.get("event", "")
    if not isinstance(fax, dict) or not fax.get("id"):
        raise PayloadRejected("fax: missing, or without an id")
    return event, fax, document


def parse_sinch(
    fields: Mapping[str, str],
    files: Sequence[FilePart],
    body: bytes,
    content_type: str,
    query: Mapping[str, str],
) -> ReceivedFax | StatusReport:
    event, fax, document = sinch_event(fields, files, body, content_type)
    fax_id = str(fax["id"])
    if event == "INCOMING_FAX":
        if document is None:
            raise PayloadRejected("file: an INCOMING_FAX without its document")
        pages = fax.get("numberOfPages")
        return ReceivedFax(
            provider=NAME,
            fax_id=fax_id,
            sender=str(fax.get("from") or ""),
            recipient=str(fax["to"]) if fax.get("to") else None,
            document=document,
            pages=page_count(pages),
        )
    if event == "FAX_COMPLETED":
        if str(fax.get("direction") or "OUTBOUND").upper() != "OUTBOUND" or not query.get("id"):
            raise Ignored("a completed fax that is not a reply of ours")
        outcome = str(fax.get("status") or "").upper()
        status = {"COMPLETED": "delivered", "FAILURE": "failed"}.get(outcome, "sent")
        code = fax.get("errorCode") or fax.get("errorType")
        return StatusReport(
            reply_id=query["id"], provider_id=fax_id, status=status, code=str(code) if code else None
        )
    raise Ignored(f"event {event or '(none)'} is not one the hub needs")


class Sinch:
    name = NAME

    def __init__(self, settings: SinchFaxSettings) -> None:
        self._settings = settings

    def verify(self, callback: Callback, now: datetime) -> None:
        s = self._settings
        if not basic_auth_valid(
            callback.headers.get("Authorization"), s.username, s.password.get_secret_value()
        ):
            raise Unauthenticated("the callback's basic-auth credentials are missing or wrong")

    def parse(self, callback: Callback) -> ReceivedFax | StatusReport:
        return parse_sinch(
            callback.fields, callback.files, callback.body, callback.content_type, callback.query
        )

    @property
    def can_send(self) -> bool:
        s = self._settings
        return bool(s.project_id and s.key_id and s.key_secret)

    async def send(self, http: aiohttp.ClientSession, fax: OutgoingFax) -> str:
        s = self._settings
        if not (s.project_id and s.key_id and s.key_secret):
            raise SendFailed(
                "set connectors.fax.sinch.project_id, key_id and key_secret to send", permanent=True
            )
        form = aiohttp.FormData()
        form.add_field("to", fax.to)
        if fax.sender:
            form.add_field("from", fax.sender)
        form.add_field("callbackUrl", fax.callback_url)
        form.add_field("callbackUrlContentType", "application/json")
        form.add_field("file", fax.pdf, filename=f"{fax.reply_id}.pdf", content_type=PDF)
        auth = aiohttp.encode_basic_auth(s.key_id, s.key_secret.get_secret_value())
        url = f"{s.api_base.rstrip('/')}/v3/projects/{s.project_id}/faxes"
        try:
            async with http.post(
                url, data=form, headers={"Authorization": auth}, timeout=aiohttp.ClientTimeout(total=60)
            ) as resp:
                body = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SendFailed(f"Sinch unreachable: {exc!r}", permanent=False) from exc
        try:
            doc = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            doc = {}
        if status >= 300:
            detail = doc.get("message") if isinstance(doc, dict) else None
            raise SendFailed(
                f"Sinch refused: {detail or f'HTTP {status}'}",
                permanent=status_failed(status),
                code=str(status),
            )
        if not isinstance(doc, dict) or not doc.get("id"):
            raise SendFailed("Sinch accepted the fax but named no id", permanent=False)
        return str(doc["id"])
