"""A raw mail from a mailbox -> the InboundMessage the ingest queue takes.

Parsing is ``payloads.parse_mail`` (pure); here the files go to the blob store and the
threading hints are set: the thread is keyed by the root of its References (or the
mail's own Message-ID), every referenced id is offered to ingest to follow, and a
``[#ref]`` subject tag names the conversation. A mail without a Message-ID gets one from
its content, so a second fetch of it is still a duplicate. The message's ``meta`` keeps
what the hub has no column for: the full text with the quoted history (``full_text``)
the files' Content-IDs (``content_ids``, JSON), which the console resolves inline
images with, and the priority the sender marked (``priority``: high or low).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime

from connectors.base import Blobs
from connectors.email.payloads import ParsedMail, parse_mail
from connectors.email.settings import EmailSettings, MailboxSettings
from hub.model import Address, AddressKind, Attachment, Channel, InboundMessage, MessageKind, ThreadHint

TAG = re.compile(r"\[#([0-9a-f]{8})\]", re.I)
# our replies' Message-IDs: <reply id@domain>
OUR_ID = re.compile(r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})@(.+)$", re.I)
UNKNOWN_SENDER = "unknown-sender@invalid"


@dataclass(frozen=True, slots=True)
class BouncedReply:
    """A delivery failure report about one of our replies."""

    reply_id: str
    message_id: str  # as the outbox recorded it: <reply id@domain>
    permanent: bool
    status: str | None
    diagnostic: str | None


def bounced_reply(parsed: ParsedMail, domain: str) -> BouncedReply | None:
    """The reply of ours a bounce is about, or None (not a bounce, or not about ours). Pure."""
    bounce = parsed.bounce
    found = OUR_ID.match(bounce.original_message_id or "") if bounce else None
    if bounce is None or found is None or found.group(2).lower() != domain.lower():
        return None
    return BouncedReply(
        reply_id=found.group(1).lower(),
        message_id=f"<{bounce.original_message_id}>",
        permanent=bounce.permanent,
        status=bounce.status,
        diagnostic=bounce.diagnostic,
    )


async def to_inbound(
    raw: bytes, mailbox: str, settings: MailboxSettings, blobs: Blobs, received_at: datetime
) -> InboundMessage:
    return await stored_inbound(parse_mail(raw), raw, mailbox, settings, blobs, received_at)


def our_addresses(email: EmailSettings) -> frozenset[str]:
    """Every address the hub sends from or receives at: mail from them is never auto-answered."""
    boxes = (box.reply_address() for box in email.mailboxes.values())
    return frozenset(a.lower() for a in (*boxes, email.from_address) if a)


async def stored_inbound(
    parsed: ParsedMail,
    raw: bytes,
    mailbox: str,
    settings: MailboxSettings,
    blobs: Blobs,
    received_at: datetime,
    ours: frozenset[str] = frozenset(),
) -> InboundMessage:
    """The mail's files into the blob store, then the InboundMessage."""
    files = tuple(
        [
            Attachment(
                sha256=await blobs.put(f.data),
                filename=f.filename,
                content_type=f.content_type,
                size=len(f.data),
            )
            for f in parsed.attachments
        ]
    )
    return inbound_message(parsed, raw, mailbox, settings, files, received_at, ours)


def full_text(parsed: ParsedMail) -> str:
    """The whole text, quoted history included, when the visible text leaves some of it
    out; else "" (nothing to keep twice). Pure."""
    if not parsed.text.strip() or parsed.full_text.strip() == parsed.text.strip():
        return ""
    return parsed.full_text


def content_ids(parsed: ParsedMail) -> str:
    """The Content-IDs of the mail's files, as JSON ``{filename: content-id}`` (file names
    are unique within a mail), or "" when none has one. Pure."""
    found = {f.filename: f.content_id for f in parsed.attachments if f.content_id}
    return json.dumps(found, ensure_ascii=False, sort_keys=True) if found else ""


def inbound_message(
    parsed: ParsedMail,
    raw: bytes,
    mailbox: str,
    settings: MailboxSettings,
    files: tuple[Attachment, ...],
    received_at: datetime,
    ours: frozenset[str] = frozenset(),
) -> InboundMessage:
    """Pure: the parsed mail with its stored files as an InboundMessage. Mail from one of
    ``ours`` (our own addresses) is flagged like automatic mail: never auto-answered."""
    message_id = parsed.message_id or f"sha256-{hashlib.sha256(raw).hexdigest()}@contacthub.invalid"
    references = tuple(dict.fromkeys((*parsed.references, *parsed.in_reply_to)))
    tag = TAG.search(parsed.subject or "")
    to = settings.reply_address()
    meta = {
        "mailbox": mailbox,
        "department": settings.department or "",
        "language": settings.language or "",
        "queue": settings.queue or "",
        "auto": parsed.auto or ("own-address" if parsed.sender and parsed.sender.email in ours else ""),
        "out_of_office": "1" if parsed.out_of_office else "",
        "bounce": (parsed.bounce.status or "yes") if parsed.bounce else "",
        "full_text": full_text(parsed),
        "content_ids": content_ids(parsed),
        "priority": parsed.priority or "",  # the conversation takes the most urgent
    }
    sender = parsed.sender.email if parsed.sender else UNKNOWN_SENDER
    return InboundMessage(
        channel=Channel.EMAIL,
        # an out-of-office or a bounce is on the record, but is not the customer answering:
        # it is not routed and does not count as a reply for SLA purposes
        kind=MessageKind.STATUS if parsed.out_of_office or parsed.bounce else MessageKind.MESSAGE,
        external_id=message_id,
        sender=Address(AddressKind.EMAIL, sender),
        sender_name=parsed.sender.name if parsed.sender else None,
        recipient=Address(AddressKind.EMAIL, to.lower()) if to else None,
        thread_hint=ThreadHint(
            key=(references[0] if references else message_id)[:500],
            references=references,
            conversation=tag.group(1).lower() if tag else None,
        ),
        subject=parsed.subject or None,
        text=parsed.text or parsed.full_text,
        html=parsed.html,
        attachments=files,
        received_at=received_at,
        meta={k: v for k, v in meta.items() if v},
    )
