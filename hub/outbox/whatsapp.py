"""What WhatsApp allows the hub to send: the 24-hour window and the approved templates.

WhatsApp delivers free text only within 24 hours after the customer's last message to us
(the customer-service window); outside it, and to start a conversation, only a template
WhatsApp approved, registered by an admin in ``connectors.twilio.whatsapp_templates``.
The hub refuses free text outside the window before anything is queued, with the reason;
a template's placeholders are filled here, and its text is what the hub stores and shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.errors import Conflict, InputError
from hub.model import Channel
from hub.store.repos.outreach import last_inbound

WINDOW = timedelta(hours=24)
MAX_VARIABLE = 1024
CHANNEL = Channel.WHATSAPP.value


class Template(Protocol):
    """A registered template (connectors.lib.twilio.settings.WhatsAppTemplate)."""

    @property
    def name(self) -> str: ...
    @property
    def language(self) -> str: ...
    @property
    def content_sid(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def purpose(self) -> str: ...
    def variables(self) -> int: ...
    def filled(self, values: list[str] | tuple[str, ...]) -> str: ...


class WindowClosed(Conflict):
    """409: free text on WhatsApp outside the 24-hour window; a template is needed."""

    slug = "whatsapp-window"
    title = "WhatsApp: only a template outside the 24-hour window"


@dataclass(frozen=True, slots=True, kw_only=True)
class Filled:
    """A template with its placeholders filled: what is stored and what is sent."""

    name: str
    language: str
    content_sid: str
    purpose: str
    variables: tuple[str, ...]
    text: str

    def details(self) -> dict[str, Any]:
        """For the outbox row: what the sender needs (connectors.base.Outbound.template)."""
        return {
            "name": self.name,
            "content_sid": self.content_sid,
            "variables": {str(n): v for n, v in enumerate(self.variables, start=1)},
        }


def fill(templates: Sequence[Template], name: str, language: str | None, variables: Sequence[str]) -> Filled:
    """The registered template ``name`` (in ``language``, else its first) with ``variables``
    for ``{{1}}``, ``{{2}}`` …; InputError naming what is wrong."""
    matches = [t for t in templates if t.name == name]
    if not matches:
        known = ", ".join(sorted({t.name for t in templates})) or "none is registered"
        raise InputError(
            f"template.name: no WhatsApp template {name!r} (known: {known})", field="template.name"
        )
    template = next((t for t in matches if t.language == language), None) if language else matches[0]
    if template is None:
        has = ", ".join(t.language for t in matches)
        raise InputError(
            f"template.language: {name} is not registered in {language} (it is in {has})",
            field="template.language",
        )
    wanted = template.variables()
    if len(variables) != wanted:
        raise InputError(
            f"template.variables: {name} has {wanted} placeholder(s), {len(variables)} value(s) given",
            field="template.variables",
        )
    for n, value in enumerate(variables):
        if not value.strip():
            raise InputError(
                f"template.variables[{n}]: {{{{{n + 1}}}}} must not be empty", field="template.variables"
            )
        if len(value) > MAX_VARIABLE or any(c in value for c in "\n\t"):
            raise InputError(
                f"template.variables[{n}]: WhatsApp takes one line of at most {MAX_VARIABLE} characters",
                field="template.variables",
            )
    text = template.filled(tuple(variables))
    return Filled(
        name=template.name,
        language=template.language,
        content_sid=template.content_sid,
        purpose=template.purpose,
        variables=tuple(variables),
        text=text,
    )


async def last_message(conn: AsyncConnection, customer_id: str) -> datetime | None:
    """When the customer last wrote to us on WhatsApp: the window runs from then."""
    return (await last_inbound(conn, [customer_id], CHANNEL)).get(customer_id)


def check_window(last: datetime | None, now: datetime, template: Filled | None) -> None:
    """Free text needs the window open; a template goes at any time."""
    if template is not None:
        return
    if last is None:
        raise WindowClosed(
            "WhatsApp: the customer has not written to us there, so only a registered template "
            "can start the conversation"
        )
    if now >= last + WINDOW:
        raise WindowClosed(
            f"WhatsApp: the 24-hour window closed at {last + WINDOW:%Y-%m-%d %H:%M} UTC "
            "(24 hours after the customer's last message); outside it only a registered template "
            "may be sent"
        )


def window_view(last: datetime | None, now: datetime) -> Mapping[str, Any]:
    """The window as the console shows it."""
    closes = last + WINDOW if last is not None else None
    return {"open": closes is not None and now < closes, "closes_at": closes, "last_message_at": last}


def template_view(t: Template) -> dict[str, Any]:
    return {
        "name": t.name,
        "language": t.language,
        "body": t.body,
        "purpose": t.purpose,
        "variables": t.variables(),
    }
