"""Small builders shared by tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.auth.sessions import hash_password
from hub.model import Address, AddressKind, Channel, InboundMessage, ThreadHint
from hub.outbox import store as outbox_store
from hub.store.ingest_batch import StoredMessage

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def inbound(
    external_id: str,
    sender: str = "erika@example.com",
    *,
    kind: AddressKind = AddressKind.EMAIL,
    channel: Channel = Channel.API,
    thread: str | None = None,
    text: str = "Hallo",
    seconds: int = 0,
) -> InboundMessage:
    return InboundMessage(
        channel=channel,
        external_id=external_id,
        sender=Address(kind, sender),
        sender_name="Erika",
        thread_hint=ThreadHint(key=thread),
        text=text,
        received_at=T0 + timedelta(seconds=seconds),
    )


async def queued_reply(
    conn: AsyncConnection, stored: StoredMessage, now: datetime, channel: str, recipient: str, text: str
) -> str:
    """An outbox row for a reply in ``stored``'s conversation, queued and due now; its id."""
    reply_id = str(uuid.uuid4())
    await outbox_store.enqueue(
        conn,
        [
            outbox_store.row(
                reply_id=reply_id,
                conversation_id=stored.conversation_id,
                customer_id=stored.customer_id,
                channel=channel,
                sender=None,
                recipient=recipient,
                text=text,
                now=now,
            )
        ],
    )
    return reply_id


def widget_site_row(key: str, name: str, origin: str) -> dict[str, Any]:
    """A chat widget site that pages of ``origin`` may open, with default settings."""
    now = datetime.now(UTC)
    return {
        "key": key,
        "name": name,
        "secret": "s" * 64,
        "allowed_origins": [origin],
        "settings": {},
        "active": True,
        "created_at": now,
        "updated_at": now,
    }


def agent_row(email: str, password: str, name: str, role: str, **fields: Any) -> dict[str, Any]:
    """An active agent who signs in with ``password``, German-speaking, in department
    service; ``fields`` override (presence, capacity, languages, …)."""
    return {
        "id": str(uuid.uuid4()),
        "email": email,
        "name": name,
        "role": role,
        "password_hash": hash_password(password),
        "presence": "offline",
        "languages": ["de"],
        "departments": ["service"],
        "capacity": {},
        "active": True,
        "created_at": datetime.now(UTC),
        **fields,
    }
