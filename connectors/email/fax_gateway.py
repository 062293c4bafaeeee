"""Email-to-fax: a mailbox marked ``fax_gateway`` receives faxes as mail from the
gateway's address, the document attached, the sender's number in the subject
("Fax von +49 30 1234567", "Fax from 030/1234567 (2 pages)"). Pure: no I/O.

Mail there from anyone else, or without a PDF or TIFF, stays ordinary mail. The fax it
finds is handed to the fax connector through ``ConnectorContext.accept_fax``: the two
connectors share the ``ReceivedFax`` record of ``connectors.base``, not each other's code.
"""

from __future__ import annotations

import hashlib
import re

from connectors.base import FilePart, ReceivedFax
from connectors.email.payloads import MailFile, ParsedMail
from connectors.email.settings import FaxGatewayMailbox

NAME = "email"
PDF = "application/pdf"
TIFF = "image/tiff"
TYPES = {".pdf": PDF, ".tif": TIFF, ".tiff": TIFF}


def number_from_subject(subject: str | None, pattern: str) -> str | None:
    """The number the pattern's first group finds in the subject, or None."""
    found = re.search(pattern, subject or "")
    if found is None or not found.group(1):
        return None
    return found.group(1).strip()


def fax_document(files: tuple[MailFile, ...]) -> MailFile | None:
    """The first PDF or TIFF attached, by type or by name."""
    for f in files:
        suffix = "." + f.filename.lower().rsplit(".", 1)[-1] if "." in f.filename else ""
        if f.content_type in (PDF, TIFF) or suffix in TYPES:
            return f
    return None


def gateway_fax(parsed: ParsedMail, raw: bytes, gateway: FaxGatewayMailbox) -> ReceivedFax | None:
    """The fax a gateway's mail carries, or None when the mail is not one."""
    if parsed.sender is None or parsed.sender.email != gateway.sender.strip().lower():
        return None
    document = fax_document(parsed.attachments)
    if document is None:
        return None
    suffix = "." + document.filename.lower().rsplit(".", 1)[-1] if "." in document.filename else ""
    content_type = document.content_type if document.content_type in (PDF, TIFF) else TYPES.get(suffix, PDF)
    fax_id = parsed.message_id or f"sha256-{hashlib.sha256(raw).hexdigest()}"
    return ReceivedFax(
        provider=NAME,
        fax_id=fax_id,
        sender=number_from_subject(parsed.subject, gateway.number_pattern) or "",
        recipient=None,
        document=FilePart("file", document.filename, content_type, document.data),
    )
