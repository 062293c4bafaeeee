"""An agent's reply as a MIME message. Pure: no I/O.

Text and HTML alternatives (the HTML is the text, escaped, in paragraphs), the files as
attachments, UTF-8 where needed (the stdlib picks quoted-printable or base64), and the
threading headers the hub gives: Message-ID on our domain, In-Reply-To, References and
the ``[#ref]`` tag in the subject. Auto-replies say so (RFC 3834) and carry no bounce
address, so that nothing ever answers them.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate

from connectors.base import MailThread


@dataclass(frozen=True, slots=True)
class OutgoingFile:
    filename: str
    content_type: str
    data: bytes


def text_to_html(text: str) -> str:
    paragraphs = [p for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    body = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    return f'<!doctype html><html><body style="font-family:sans-serif">{body}</body></html>'


def reply_message(
    *,
    thread: MailThread,
    sender: str,
    sender_name: str | None,
    recipient: str,
    text: str,
    files: Sequence[OutgoingFile] = (),
    auto_reply: bool = False,
    unsubscribe: str | None = None,
) -> EmailMessage:
    msg = EmailMessage()
    msg["Message-ID"] = thread.message_id
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["From"] = formataddr((sender_name, sender)) if sender_name else sender
    msg["To"] = recipient
    msg["Subject"] = thread.subject
    if thread.in_reply_to:
        msg["In-Reply-To"] = thread.in_reply_to
    if thread.references:
        msg["References"] = " ".join(thread.references)
    if auto_reply:
        msg["Auto-Submitted"] = "auto-replied"
        msg["X-Auto-Response-Suppress"] = "All"
    if unsubscribe:  # a campaign's: one click in the mail client withdraws the consent (RFC 8058)
        msg["List-Unsubscribe"] = f"<{unsubscribe}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text)
    msg.add_alternative(text_to_html(text), subtype="html")
    for f in files:
        maintype, _, subtype = f.content_type.partition("/")
        msg.add_attachment(
            f.data, maintype=maintype or "application", subtype=subtype or "octet-stream", filename=f.filename
        )
    return msg
