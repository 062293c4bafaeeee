"""The Twilio SMS webhook on both backends: signatures (also behind a proxy), duplicates,
keywords and consent, MMS media, unknown parameters."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from twilio.request_validator import RequestValidator

from hub.keys import BLOBS, STORE
from hub.store.tables import attachments, consents, conversations, events, messages
from tests.conftest import HubClient, make_settings
from tests.connectors.conftest import (
    NUMBER,
    PNG,
    PUBLIC,
    SHARED_KEY,
    SUB_TOKEN,
    SUBACCOUNT,
    TOKEN,
    signed_post,
    sms_params,
)


async def post(
    hub: HubClient, params: dict[str, str], *, token: str = TOKEN, signed_url: str | None = None
) -> Any:
    return await signed_post(hub, "/webhooks/twilio/sms", params, token=token, signed_url=signed_url)


async def stored(hub: HubClient, count: int) -> list[Any]:
    for _ in range(400):
        async with hub.app[STORE].read() as conn:
            rows = (await conn.execute(sa.select(messages).where(messages.c.channel == "sms"))).all()
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.05)
    return rows


async def test_a_signed_sms_is_stored_on_the_sender_and_answered_with_empty_twiml(sms: HubClient) -> None:
    resp = await post(sms, sms_params("SM1", NewParameterTwilioAddsLater="x"))
    assert resp.status == 200 and resp.content_type == "application/xml"
    assert await resp.text() == '<?xml version="1.0" encoding="UTF-8"?><Response />'
    [row] = await stored(sms, 1)
    assert (row.sender_kind, row.sender_value, row.recipient) == ("phone", "+4917612345678", NUMBER)
    assert row.meta["FromCity"] == "BERLIN" and "NewParameterTwilioAddsLater" not in row.meta


async def test_behind_a_proxy_only_the_public_url_verifies(sms: HubClient) -> None:
    local = str(sms.client.make_url("/webhooks/twilio/sms"))
    assert (await post(sms, sms_params("SM2"), signed_url=local)).status == 403
    assert (await post(sms, sms_params("SM2"))).status == 200


async def test_forged_unsigned_and_foreign_webhooks_get_403_and_store_nothing(sms: HubClient, caplog) -> None:
    params = sms_params("SM3", body="geheim")
    assert (await post(sms, params, token="not-the-token")).status == 403
    resp = await sms.client.post("/webhooks/twilio/sms", data=params)
    assert resp.status == 403
    problem = await resp.json()
    assert problem["status"] == 403 and "X-Twilio-Signature" in problem["detail"]
    assert (await post(sms, {**params, "AccountSid": "AC" + "9" * 32, "To": "+4930000"})).status == 403
    tampered = sms_params("SM3", body="harmlos")
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + "/webhooks/twilio/sms", tampered)
    resp = await sms.client.post(
        "/webhooks/twilio/sms", data={**tampered, "Body": "geheim"}, headers={"X-Twilio-Signature": signature}
    )
    assert resp.status == 403
    await asyncio.sleep(0.3)  # a window, not a wait: nothing may be stored meanwhile
    assert await stored(sms, 0) == []
    assert "geheim" not in caplog.text, "a refused body is never logged"


async def test_a_subaccount_number_is_checked_with_the_subaccounts_token(sms: HubClient) -> None:
    params = {**sms_params("SM4"), "AccountSid": SUBACCOUNT, "To": "+493099999999"}
    assert (await post(sms, params, token=TOKEN)).status == 403
    assert (await post(sms, params, token=SUB_TOKEN)).status == 200


async def test_a_webhook_setting_signs_with_its_shared_key_and_algorithm(sms: HubClient, caplog) -> None:
    key_id, secret = SHARED_KEY
    setting = {"X-Twilio-Webhooks-Signature-Settings": f"key={key_id},algorithm=HMAC_SHA256"}
    path = "/webhooks/twilio/sms"

    async def status(sid: str, **how: Any) -> int:
        return int((await signed_post(sms, path, sms_params(sid), **how)).status)

    assert await status("SM-k1", token=secret, algorithm="HMAC_SHA256", headers=setting) == 200
    # the header says which key and hash: the auth token, or SHA-1, or no header, all fail
    assert await status("SM-k2", token=TOKEN, algorithm="HMAC_SHA256", headers=setting) == 403
    assert await status("SM-k3", token=secret, algorithm="HMAC_SHA1", headers=setting) == 403
    assert await status("SM-k4", token=secret, algorithm="HMAC_SHA256") == 403
    unknown = {"X-Twilio-Webhooks-Signature-Settings": "key=webhooks_sharedkey_OTHER,algorithm=HMAC_SHA256"}
    assert await status("SM-k5", token=secret, algorithm="HMAC_SHA256", headers=unknown) == 403
    assert "no shared key 'webhooks_sharedkey_OTHER'" in caplog.text
    md5 = {"X-Twilio-Webhooks-Signature-Settings": f"key={key_id},algorithm=HMAC_MD5"}
    assert await status("SM-k6", token=secret, headers=md5) == 403, "an unknown hash: 403, not 500"
    # a key of one account does not sign for another
    other = {**sms_params("SM-k7"), "AccountSid": SUBACCOUNT, "To": "+493099999999"}
    resp = await signed_post(sms, path, other, token=secret, algorithm="HMAC_SHA256", headers=setting)
    assert resp.status == 403
    assert await status("SM-k8") == 200, "without the header: the auth token, as before"
    await asyncio.sleep(0.3)  # a window, not a wait: no third may be stored meanwhile
    assert sorted(r.external_id for r in await stored(sms, 2)) == ["SM-k1", "SM-k8"]


async def test_the_same_message_sid_sixteen_times_is_stored_once(sms: HubClient) -> None:
    results = await asyncio.gather(*(post(sms, sms_params("SM-dup")) for _ in range(16)))
    assert {r.status for r in results} == {200}
    await stored(sms, 1)
    await asyncio.sleep(0.5)  # a window, not a wait: no second copy may be stored meanwhile
    assert len(await stored(sms, 1)) == 1


async def test_stop_and_start_change_consent_and_help_gets_the_reply(sms: HubClient) -> None:
    resp = await post(sms, sms_params("SM-help", body="Hilfe"))
    assert "<Message>Hilfe: 030 123456</Message>" in await resp.text()
    assert (await post(sms, sms_params("SM-stop", body=" STOPP! "))).status == 200
    rows = await stored(sms, 2)

    async def consent() -> dict[str, bool]:
        async with sms.app[STORE].read() as conn:
            found = await conn.execute(
                sa.select(consents).where(consents.c.customer_id == rows[0].customer_id)
            )
            return {c.purpose: c.granted for c in found if c.channel == "sms"}

    assert await consent() == {"service": False, "marketing": False}
    await post(sms, sms_params("SM-start", body="Start"))
    await stored(sms, 3)
    assert await consent() == {"service": True, "marketing": True}
    async with sms.app[STORE].read() as conn:
        changes = (
            await conn.execute(
                sa.select(events.c.data).where(
                    events.c.action == "consent.changed", events.c.customer_id == rows[0].customer_id
                )
            )
        ).all()
    assert sorted((c.data["purpose"], c.data["granted"]) for c in changes) == [
        ("marketing", False),
        ("marketing", True),
        ("service", False),
        ("service", True),
    ], "the timeline shows each change"


async def test_mms_media_is_fetched_with_the_account_credentials(sms: HubClient, twilio) -> None:
    media = twilio[1]
    params = sms_params(
        "MM1",
        body="Foto",
        NumMedia="2",
        MediaUrl0=str(media.make_url("/media/100")),
        MediaContentType0="image/png",
        MediaUrl1=str(media.make_url("/media/5000")),  # over the 1 KiB limit
        MediaContentType1="image/png",
    )
    assert (await post(sms, params)).status == 200
    [row] = await stored(sms, 1)
    async with sms.app[STORE].read() as conn:
        [attachment] = (
            await conn.execute(sa.select(attachments).where(attachments.c.message_id == row.id))
        ).all()
        conv = (
            await conn.execute(sa.select(conversations).where(conversations.c.id == row.conversation_id))
        ).one()
    assert (attachment.content_type, attachment.size, attachment.filename) == ("image/png", 100, "MM1-0.png")
    assert await sms.app[BLOBS].get(attachment.sha256) == PNG[:100]
    assert row.meta["media_not_stored"].endswith("/media/5000"), "the link is kept for what was not stored"
    assert conv.channel == "sms"


async def test_twilio_on_without_a_public_url_refuses_to_start(tmp_path: Path) -> None:
    from hub.app import create_app
    from hub.errors import ConfigError

    settings = make_settings(tmp_path, "embedded", **{"connectors.twilio.enabled": True})
    with pytest.raises(ConfigError, match="public_url"):
        create_app(settings)
