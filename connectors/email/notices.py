"""Notices to the hub's own people (an agent's digest), by the email connector's SMTP
server, from its ``from_address``: plain text, marked as automatic (RFC 3834) so that no
absence note answers it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

import aiosmtplib

from connectors.email.settings import EmailSettings


def mailer_of(settings: EmailSettings) -> Callable[[str, str, str], Awaitable[None]] | None:
    """A mailer (to, subject, text) when the connector is on and can send, else None."""
    smtp, sender = settings.smtp, settings.from_address
    if not settings.enabled or smtp is None or not sender:
        return None

    async def send(to: str, subject: str, text: str) -> None:
        message = EmailMessage()
        message["From"] = formataddr((settings.from_name or "ContactHub", sender))
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(text)
        await aiosmtplib.send(
            message,
            hostname=smtp.host,
            port=smtp.port,
            use_tls=smtp.security == "tls",
            start_tls=smtp.security == "starttls",
            username=smtp.user,
            password=smtp.password.get_secret_value() if smtp.password else None,
            timeout=smtp.timeout,
        )

    return send
