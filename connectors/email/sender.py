"""Replies by email, through SMTP (aiosmtplib), from the durable outbox.

A 4xx answer or a connection failure is retried by the outbox with backoff; a 5xx is a
permanent failure with the server's reason. The reply leaves from the address the
customer wrote to (``Outbound.sender``), else ``connectors.email.from_address``.
"""

from __future__ import annotations

import aiosmtplib

from connectors.base import ConnectorContext, ConnectorState, MailThread, Outbound, SendFailed, Sent
from connectors.email.outgoing import OutgoingFile, reply_message


class SmtpSender:
    carries_attachments = True

    def __init__(self, ctx: ConnectorContext, state: ConnectorState) -> None:
        settings = ctx.settings.connectors.email
        assert settings.smtp is not None  # the spec opens a sender only with SMTP settings
        self._smtp = settings.smtp
        self._email = settings
        self._ctx = ctx
        self.state = state

    async def send(self, item: Outbound) -> Sent:
        sender = item.sender or self._email.from_address
        if not sender:
            raise SendFailed("no address to send from: set connectors.email.from_address", permanent=True)
        thread = item.thread or MailThread(
            subject="", in_reply_to=None, references=(), message_id=f"<{item.id}@{self._email.domain}>"
        )
        files = [
            OutgoingFile(f.filename, f.content_type, await self._ctx.blobs.get(f.sha256))
            for f in item.attachments
        ]
        message = reply_message(
            thread=thread,
            sender=sender,
            sender_name=thread.agent_name or self._email.from_name,
            recipient=item.recipient,
            text=item.text,
            files=files,
            auto_reply=item.auto_reply,
            unsubscribe=item.unsubscribe,
        )
        smtp = self._smtp
        try:
            await aiosmtplib.send(
                message,
                # an auto-reply goes with an empty envelope sender: no bounce or answer comes back
                sender="" if item.auto_reply else None,
                recipients=[item.recipient],
                hostname=smtp.host,
                port=smtp.port,
                use_tls=smtp.security == "tls",
                start_tls=smtp.security == "starttls",
                username=smtp.user,
                password=smtp.password.get_secret_value() if smtp.password else None,
                timeout=smtp.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            permanent = all(500 <= c < 600 for c in codes)
            detail = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
            raise SendFailed(
                f"the mail server refused the recipient: {detail}", permanent=permanent, code=str(codes[0])
            ) from exc
        except aiosmtplib.SMTPResponseException as exc:
            self.state.set("connected")
            raise SendFailed(
                f"the mail server answered {exc.code}: {exc.message}",
                permanent=500 <= exc.code < 600,
                code=str(exc.code),
            ) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            self.state.set("transient_failure", f"{smtp.host}:{smtp.port}: {exc}")
            raise SendFailed(f"the mail server is not reachable: {exc}", permanent=False) from exc
        self.state.set("connected")
        return Sent(provider_ids=(thread.message_id,))

    async def close(self) -> None:
        """Each send opens its own connection: nothing to close."""
