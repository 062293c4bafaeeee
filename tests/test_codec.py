"""The queue payload round-trips every field of an InboundMessage."""

from __future__ import annotations

import orjson
import pytest

from hub.model import Address, AddressKind, Attachment, Channel, InboundMessage, MessageKind, ThreadHint
from hub.queue.codec import decode_message, encode_message
from tests.helpers import T0


def test_round_trip_keeps_everything() -> None:
    msg = InboundMessage(
        channel=Channel.SMS,
        external_id="SM1",
        sender=Address(AddressKind.PHONE, "+491711234567"),
        recipient=Address(AddressKind.PHONE, "+4930123456"),
        sender_name="Erika",
        thread_hint=ThreadHint(key="t", references=("a", "b")),
        subject="s",
        text="Grüße ✓",
        html="<p>x</p>",
        kind=MessageKind.VOICEMAIL,
        received_at=T0,
        meta={"NumMedia": "1"},
        attachments=(Attachment(sha256="ab" * 32, filename="f.pdf", content_type="application/pdf", size=3),),
    )
    assert decode_message(encode_message(msg)) == msg


@pytest.mark.parametrize("raw", [b"{", b"[]", b'{"v": 99}', b'{"v": 1}'])
def test_undecodable_payloads_raise_value_error(raw: bytes) -> None:
    with pytest.raises(ValueError):
        decode_message(raw)


def test_old_and_new_releases_read_each_others_entries() -> None:
    """During a rolling upgrade old and new processes share one Redis stream: a field a
    newer release adds is ignored by an older reader, an entry queued by an older release
    (its thread without ``conversation``) is read by a newer one, and a channel the reader
    does not know yet is an error (the entry is retried, then kept as a dead letter to
    replay after the roll), never a silent loss."""
    msg = InboundMessage(
        channel=Channel.API,
        external_id="x1",
        sender=Address(AddressKind.EMAIL, "a@example.com"),
        received_at=T0,
    )
    doc = orjson.loads(encode_message(msg))
    assert decode_message(orjson.dumps({**doc, "added_by_a_later_release": {"x": 1}})) == msg
    assert decode_message(orjson.dumps({**doc, "thread": doc["thread"][:2]})) == msg
    with pytest.raises(ValueError, match="holographic"):
        decode_message(orjson.dumps({**doc, "channel": "holographic"}))
