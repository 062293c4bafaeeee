"""SMS and voice on one Twilio account are switched separately (``connectors.twilio.sms``
and ``.voice``); ``enabled`` alone, as configurations written before the switches have
it, runs both."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_settings, running_hub
from tests.connectors.conftest import ACCOUNT, PUBLIC, TOKEN

SMS = "/webhooks/twilio/sms"
VOICE = "/webhooks/twilio/voice"


@pytest.mark.parametrize(
    ("switches", "sms_status", "voice_status"),
    [
        ({}, 403, 403),  # both on: an unsigned webhook reaches its handler and is refused
        ({"connectors.twilio.sms": False}, 404, 403),
        ({"connectors.twilio.voice": False}, 403, 404),
    ],
    ids=["both-by-default", "sms-off", "voice-off"],
)
async def test_a_switched_off_twilio_channel_has_no_webhook(
    tmp_path: Path, switches: dict[str, bool], sms_status: int, voice_status: int
) -> None:
    settings = make_settings(
        tmp_path,
        "embedded",
        **{
            "connectors.twilio.enabled": True,
            "connectors.twilio.public_url": PUBLIC,
            "connectors.twilio.accounts": [{"account_sid": ACCOUNT, "auth_token": TOKEN}],
            **switches,
        },
    )
    async with running_hub(settings) as hub:
        form = {"AccountSid": ACCOUNT, "From": "+4917612345678", "To": "+493012345678"}
        sms = await hub.client.post(SMS, data={**form, "MessageSid": "SM" + "0" * 32})
        voice = await hub.client.post(VOICE, data={**form, "CallSid": "CA" + "0" * 32})
        assert (sms.status, voice.status) == (sms_status, voice_status)
