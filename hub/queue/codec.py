"""InboundMessage <-> JSON bytes for the queue. Pure; raises ValueError on bad input."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from hub.model import (
    Address,
    AddressKind,
    Attachment,
    Channel,
    InboundMessage,
    MessageKind,
    ThreadHint,
)

VERSION = 1


def encode_message(msg: InboundMessage) -> bytes:
    doc: dict[str, Any] = {
        "v": VERSION,
        "channel": msg.channel.value,
        "external_id": msg.external_id,
        "sender": [msg.sender.kind.value, msg.sender.value],
        "sender_name": msg.sender_name,
        "recipient": [msg.recipient.kind.value, msg.recipient.value] if msg.recipient else None,
        "thread": [msg.thread_hint.key, list(msg.thread_hint.references), msg.thread_hint.conversation],
        "subject": msg.subject,
        "text": msg.text,
        "html": msg.html,
        "attachments": [[a.sha256, a.filename, a.content_type, a.size] for a in msg.attachments],
        "kind": msg.kind.value,
        "received_at": msg.received_at,  # orjson writes RFC 3339, faster than isoformat()
        "meta": dict(msg.meta),
    }
    return orjson.dumps(doc)


def decode_message(data: bytes | str) -> InboundMessage:
    try:
        doc = orjson.loads(data)
        if doc.get("v") != VERSION:
            raise ValueError(f"unsupported payload version {doc.get('v')!r}")
        recipient = doc["recipient"]
        thread_key, references, *named = doc["thread"]  # entries queued before ``conversation`` have two
        return InboundMessage(
            channel=Channel(doc["channel"]),
            external_id=doc["external_id"],
            sender=Address(AddressKind(doc["sender"][0]), doc["sender"][1]),
            sender_name=doc["sender_name"],
            recipient=Address(AddressKind(recipient[0]), recipient[1]) if recipient else None,
            thread_hint=ThreadHint(
                key=thread_key, references=tuple(references), conversation=(named or [None])[0]
            ),
            subject=doc["subject"],
            text=doc["text"],
            html=doc["html"],
            attachments=tuple(
                Attachment(sha256=a[0], filename=a[1], content_type=a[2], size=a[3])
                for a in doc["attachments"]
            ),
            kind=MessageKind(doc["kind"]),
            received_at=datetime.fromisoformat(doc["received_at"]),
            meta=doc["meta"],
        )
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ValueError(f"undecodable queue payload: {exc!r}") from exc
