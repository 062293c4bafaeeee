"""The widget's frames (docs/widget-protocol.md) -> typed frames and InboundMessages. Pure.

``parse_frame`` raises ``FrameRejected`` with the protocol's error code (``bad_frame``,
``too_long``) and a detail naming the field; nothing past this module sees raw JSON.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictInt, TypeAdapter, ValidationError

from hub.model import Address, AddressKind, Attachment, Channel, InboundMessage, ThreadHint
from hub.untrusted import INT64_MAX, nul_at

MAX_TEXT = 5_000
MAX_FRAME = 64 * 1024


class FrameRejected(Exception):
    def __init__(self, code: str, detail: str, frame_id: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.frame_id = frame_id


class Frame(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Page(Frame):
    url: str = Field("", max_length=2000)
    title: str = Field("", max_length=300)


class Hello(Frame):
    type: Literal["hello"]
    site: str = Field(min_length=1, max_length=64)
    visitor: str | None = Field(None, max_length=128)
    last_seq: int = Field(0, ge=0, le=INT64_MAX)
    language: str = Field("", max_length=16)
    identifier: str | None = Field(None, max_length=300)
    identifier_hash: str | None = Field(None, max_length=128)
    name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=320)
    page: Page = Page()


class Contact(Frame):
    name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=320)
    phone: str | None = Field(None, max_length=40)
    department: str | None = Field(None, max_length=40)
    language: str | None = Field(None, max_length=16)


class Start(Contact):
    type: Literal["start"]


class FileRef(Frame):
    upload: str = Field(min_length=1, max_length=64)


class ChatMessage(Frame):
    type: Literal["message"]
    id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    text: str = ""
    attachments: list[FileRef] = Field([], max_length=10)


class LeaveMessage(Contact):
    type: Literal["leave_message"]
    id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    text: str = Field(min_length=1)
    attachments: list[FileRef] = Field([], max_length=10)


class Typing(Frame):
    type: Literal["typing"]
    on: bool = True


class CsatAnswer(Frame):
    """The visitor's answer to a satisfaction survey in the chat: the stars, then
    (optionally) a comment."""

    type: Literal["csat"]
    survey: str = Field(min_length=1, max_length=36)
    score: StrictInt | None = Field(None, ge=1, le=5)  # a number: not "4", not true
    comment: str | None = Field(None, max_length=2000)


class Read(Frame):
    type: Literal["read"]
    seq: int = Field(ge=0, le=INT64_MAX)


AnyOf = Hello | Start | ChatMessage | LeaveMessage | Typing | Read | CsatAnswer
AnyFrame = Annotated[AnyOf, Field(discriminator="type")]
_FRAMES: TypeAdapter[AnyOf] = TypeAdapter(AnyFrame)


def parse_frame(raw: str) -> AnyOf:
    if len(raw) > MAX_FRAME:
        raise FrameRejected("bad_frame", f"a frame is at most {MAX_FRAME} bytes")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FrameRejected("bad_frame", "not JSON") from exc
    frame_id = str(data.get("id"))[:64] if isinstance(data, dict) and "id" in data else None
    if (where := nul_at(data)) is not None:  # no database stores a NUL in text
        raise FrameRejected("bad_frame", f"{where}: a NUL (\\u0000) is not allowed", frame_id)
    try:
        frame = _FRAMES.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "type"
        raise FrameRejected("bad_frame", f"{where}: {first['msg']}", frame_id) from exc
    if isinstance(frame, ChatMessage | LeaveMessage):
        if len(frame.text) > MAX_TEXT:
            raise FrameRejected("too_long", f"text: at most {MAX_TEXT} characters", frame.id)
        if not frame.text.strip() and not frame.attachments:
            raise FrameRejected("bad_frame", "text: empty, and no attachments", frame.id)
    return frame


def inbound_message(
    *,
    visitor_id: str,
    frame: ChatMessage | LeaveMessage,
    name: str | None,
    files: tuple[Attachment, ...],
    meta: dict[str, str],
    received_at: datetime,
) -> InboundMessage:
    """The visitor's message as the ingest queue takes it; its external id is the
    visitor's and the client's ids together, so a resend is a duplicate."""
    return InboundMessage(
        channel=Channel.CHAT,
        external_id=f"{visitor_id}:{frame.id}",
        sender=Address(AddressKind.CHAT_VISITOR, visitor_id),
        sender_name=name,
        thread_hint=ThreadHint(),
        text=frame.text.strip(),
        attachments=files,
        received_at=received_at,
        meta={k: v for k, v in meta.items() if v},
    )
