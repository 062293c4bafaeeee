"""Small builders shared by tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.model import Address, AddressKind, Channel, InboundMessage, ThreadHint

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
