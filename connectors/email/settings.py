"""The email connector's settings: mailboxes watched by IMAP, SMTP for replies.

Pure (pydantic only): ``hub.settings`` composes it without importing the connector."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from hub.settings_section import Section


class FaxGatewayMailbox(Section):
    """A mailbox of an email-to-fax gateway: its mail with a PDF or TIFF becomes a fax."""

    sender: str
    """The gateway's From address; other mail to the mailbox stays mail."""
    number_pattern: str = r"(\+?[0-9][0-9 /.-]{4,}[0-9])"
    """A regular expression finding the sender's fax number in the subject (its first group)."""

    @field_validator("number_pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from exc
        if compiled.groups < 1:
            raise ValueError("needs a group around the number, e.g. (\\+?[0-9 ]+)")
        return value


class MailboxSettings(Section):
    host: str
    port: int = Field(993, ge=1, le=65535)
    security: Literal["tls", "starttls", "none"] = "tls"
    user: str
    password: SecretStr
    """The password or app password."""
    folder: str = "INBOX"
    address: str | None = None
    """Our address that mail here is sent to (replies leave from it); default: the user, if an address."""
    queue: str | None = None
    """A routing hint for mail arriving here: rules see it as ``recipient``'s queue."""
    department: str | None = None
    language: str | None = None
    after: Literal["seen", "move", "leave"] = "seen"
    """What to do with a mail once it is durably on the ingest queue."""
    move_to: str | None = None
    """The folder for ``after = "move"``."""
    poll_seconds: float = Field(60.0, gt=0)
    """How often to look for new mail when the server has no IDLE."""
    idle_seconds: float = Field(25 * 60.0, gt=0, le=29 * 60.0)
    """IDLE is re-issued this often (servers end it after 30 minutes, RFC 2177)."""
    auto_reply: str | None = Field(None, max_length=5000)
    """Sent once when a mail opens a new conversation here ("we received your message"),
    never to automatic mail or our own addresses."""
    fax_gateway: FaxGatewayMailbox | None = None
    """Mail here from an email-to-fax gateway becomes a fax (needs ``connectors.fax``)."""

    def reply_address(self) -> str | None:
        """Our address here: ``address``, else the user if it is an address."""
        return self.address or (self.user if "@" in self.user else None)


class SmtpSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(587, ge=1, le=65535)
    security: Literal["tls", "starttls", "none"] = "starttls"
    user: str | None = None
    password: SecretStr | None = None
    timeout: float = Field(30.0, gt=0)


class EmailSettings(Section):
    enabled: bool = False
    domain: str = "contacthub.invalid"
    """Replies' Message-IDs are ``<id@domain>``: use a domain of yours."""
    from_address: str | None = None
    """Replies leave from the address the customer wrote to, else from this one."""
    from_name: str | None = None
    mailboxes: dict[str, MailboxSettings] = {}
    smtp: SmtpSettings | None = None
    """Where replies are sent; none: agents cannot reply by email."""
    parse_workers: int | None = Field(None, ge=0, le=32)
    """Processes that parse incoming mail beside the hub's own, so that a mailbox's backlog
    uses more than one core; 0: parse in the hub's process. Default: one per CPU beyond
    the first, at most 2."""

    @property
    def auto_replies(self) -> dict[str, str]:
        """The auto-reply text of each mailbox that has one (none while email is off)."""
        if not self.enabled:
            return {}
        return {name: box.auto_reply for name, box in self.mailboxes.items() if box.auto_reply}
