"""The queue payload round-trips every field of an InboundMessage."""

from __future__ import annotations

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
