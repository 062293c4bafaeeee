"""A received fax to the ``InboundMessage`` the hub stores. Pure: no I/O.

A fax goes through two steps. At the edge it becomes a *job*: an ``InboundMessage`` of
kind ``fax`` with only its document attached and ``meta["ocr"] = "pending"``, put on the
durable fax queue. The preparer renders its pages and reads its text, and ``finished``
turns the job into the message ingest stores: the text is the OCR text (so search and
routing see it), the subject its first words (rules match ``subject``), and the page
images are attached as ``page-NNN.png`` and ``page-NNN-thumb.png``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from connectors.base import ReceivedFax
from hub.errors import InputError
from hub.model import Address, AddressKind, Attachment, Channel, InboundMessage, MessageKind
from hub.text.addresses import normalise_phone

UNKNOWN_SENDER = "unknown-fax-sender"  # no caller id: such faxes share one customer record
SUBJECT_CHARS = 200


def fax_address(raw: str | None, region: str) -> Address:
    """A fax number in E.164; a withheld or unparseable one is an external identity."""
    value = (raw or "").strip()
    if value:
        try:
            return Address(AddressKind.FAX, normalise_phone(value, default_region=region, field="from"))
        except InputError:
            pass
    return Address(AddressKind.EXTERNAL, value[:100] or UNKNOWN_SENDER)


def fax_job(fax: ReceivedFax, document: Attachment, *, region: str, received_at: datetime) -> InboundMessage:
    """The job the edge queues: the fax with its document, its text still to come."""
    if not fax.fax_id.strip():
        raise InputError("id: the gateway's fax id is missing", field="id")
    recipient = fax_address(fax.recipient, region) if fax.recipient else None
    meta = {"provider": fax.provider, "fax_id": fax.fax_id[:200], "ocr": "pending"}
    if fax.pages is not None:
        meta["pages"] = str(fax.pages)
    return InboundMessage(
        channel=Channel.FAX,
        external_id=f"{fax.provider}:{fax.fax_id}"[:500],
        sender=fax_address(fax.sender, region),
        sender_name=(fax.station_id or "").strip()[:200] or None,
        recipient=recipient if recipient is not None and recipient.kind is AddressKind.FAX else None,
        kind=MessageKind.FAX,
        attachments=(document,),
        received_at=received_at,
        meta=meta,
    )


def fax_subject(text: str) -> str | None:
    """The first words of a fax's text, whole words up to 200 characters."""
    words = " ".join(text.split())
    if len(words) <= SUBJECT_CHARS:
        return words or None
    cut = words[:SUBJECT_CHARS]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + " …"


def finished(
    job: InboundMessage,
    *,
    pages: Sequence[tuple[Attachment, Attachment]],
    total_pages: int,
    made_pdf: Attachment | None,
    render_error: str | None,
    texts: Sequence[str],
    ocr: str,
) -> InboundMessage:
    """The job with its pages (full image, thumbnail), its text and its states:
    ``render`` ok or failed (``render_error`` says why), ``ocr`` done, empty, off,
    failed or none (nothing to read)."""
    text = "\n\n".join(t.strip() for t in texts if t.strip())
    meta = {k: v for k, v in job.meta.items() if k != "ocr"}
    meta["render"] = "failed" if render_error else "ok"
    if render_error:
        meta["render_error"] = render_error[:300]
    else:
        meta["pages"] = str(total_pages)
        if total_pages > len(pages):
            meta["pages_shown"] = str(len(pages))
    meta["ocr"] = "empty" if ocr == "done" and not text else ocr
    files = [*job.attachments, *([made_pdf] if made_pdf else [])]
    for full, thumb in pages:
        files += [full, thumb]
    return replace(job, text=text, subject=fax_subject(text), attachments=tuple(files), meta=meta)


def page_names(number: int) -> tuple[str, str]:
    return f"page-{number:03d}.png", f"page-{number:03d}-thumb.png"
