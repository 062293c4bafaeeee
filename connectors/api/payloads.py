"""The API channel's wire format -> InboundMessage. Pure: no I/O.

Raises ``InputError`` naming the field (e.g. ``from.value``) for anything malformed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator

from hub.model import AddressKind, Channel, InboundMessage, ThreadHint
from hub.text.addresses import normalise_address, unprintable
from hub.validation import NULLABLE, RequestModel, validated


class Sender(RequestModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["email", "phone", "fax", "chat_visitor", "external"]
    value: str = Field(min_length=1, max_length=320)
    name: Annotated[str | None, NULLABLE] = Field(None, max_length=200)


class MessageIn(RequestModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    external_id: str = Field(min_length=1, max_length=255, description="Your id; makes the call idempotent")
    sender: Sender = Field(alias="from")
    text: str = Field(max_length=200_000)
    subject: Annotated[str | None, NULLABLE] = Field(None, max_length=998)
    thread: Annotated[str | None, NULLABLE] = Field(
        None, max_length=255, description="Groups messages of one sender into one conversation"
    )

    @field_validator("external_id", "thread")
    @classmethod
    def _printable_key(cls, value: str | None) -> str | None:
        if value is not None and (bad := unprintable(value)) is not None:
            raise ValueError(f"holds the control character U+{ord(bad):04X}")
        return value


REQUEST_SCHEMA = MessageIn.model_json_schema(by_alias=True)
RESPONSE_SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "string", "description": "The message id; stable per external_id"}},
    "required": ["id"],
}


def parse_message(body: dict[str, Any], *, received_at: datetime, default_region: str) -> InboundMessage:
    data = validated(MessageIn, body)
    sender = normalise_address(
        AddressKind(data.sender.kind),
        data.sender.value,
        default_region=default_region,
        field="from.value",
    )
    return InboundMessage(
        channel=Channel.API,
        external_id=data.external_id,
        sender=sender,
        sender_name=data.sender.name,
        thread_hint=ThreadHint(key=data.thread),
        subject=data.subject,
        text=data.text,
        received_at=received_at,
    )
