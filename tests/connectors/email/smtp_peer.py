"""A real SMTP peer for the email tests: aiosmtpd, on a loopback port, keeping what it
receives; it can be stopped and started again on the same port."""

from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.hubproc import free_port


class Peer:
    """An SMTP server that keeps what it receives; it can be stopped and started again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[EmailMessage] = []
        self.envelopes: list[str] = []  # each message's MAIL FROM
        self.controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope.mail_from)
        self.received.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        assert self.controller is not None
        self.controller.stop()
        self.controller = None

    @property
    def running(self) -> bool:
        return self.controller is not None


def body_text(message: EmailMessage, subtype: str) -> str:
    """The text of the message's ``text/<subtype>`` body; fails if it has none."""
    body = message.get_body((subtype,))
    assert body is not None, f"no text/{subtype} body"
    text: str = body.get_content()
    return text
