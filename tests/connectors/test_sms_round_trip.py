"""SMS round trip on both backends: a signed webhook becomes an offer, the agent replies,
the real twilio library posts it to the local Twilio double, and a signed status callback
marks it delivered (API and bus). Plus consent, long texts, refusals and retries."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa

from hub.keys import STORE
from hub.store.tables import consents
from tests.conftest import HubClient
from tests.connectors.conftest import (
    ACCOUNT,
    FLAKY_NUMBER,
    INVALID_NUMBER,
    NUMBER,
    FakeTwilio,
    signed_post,
    sms_params,
)
from tests.routing.test_router_service import Floor
from tests.waits import eventually

CUSTOMER = "+4917612345678"


async def assigned_conversation(floor: Floor, sid: str, body: str = "Hallo", sender: str = CUSTOMER) -> str:
    assert (await signed_post(floor.hub, "/webhooks/twilio/sms", sms_params(sid, body, sender))).status == 200
    offers = await eventually(lambda: floor.mine("agent_sms", "offered"), what="an offer")
    conv_id = offers[0]["id"]
    assert (await floor.act("agent_sms", conv_id, "accept")).status == 200
    return conv_id


async def reply(floor: Floor, conv_id: str, text: str, **body: Any) -> Any:
    return await floor.hub.client.post(
        f"/api/v1/conversations/{conv_id}/messages",
        headers=floor.headers["agent_sms"],
        json={"text": text, **body},
    )


async def delivery(floor: Floor, conv_id: str, message_id: str) -> dict[str, Any]:
    resp = await floor.hub.client.get(f"/api/v1/conversations/{conv_id}", headers=floor.headers["agent_sms"])
    return next(m for m in (await resp.json())["messages"] if m["id"] == message_id)["delivery"]


async def setup(sms: HubClient) -> Floor:
    floor = await Floor(sms).start(
        "queues: {service: {reservation_timeout: 60}}\nrules: [{name: all, targets: [{queue: service}]}]\n"
    )
    await floor.agent("agent_sms", capacity={"sms": 5})
    return floor


async def test_sms_in_offer_reply_out_and_delivered(sms: HubClient, twilio: tuple[FakeTwilio, Any]) -> None:
    fake = twilio[0]
    floor = await setup(sms)
    console = await sms.client.ws_connect("/ws/agent", headers=floor.headers["agent_sms"])
    conv_id = await assigned_conversation(floor, "SM-in-1", "Wo bleibt meine Lieferung?")

    resp = await reply(floor, conv_id, "Sie ist unterwegs, Ankunft morgen.")
    assert resp.status == 202, await resp.text()
    sent = await resp.json()
    assert sent["status"] == "queued"
    await eventually(lambda: _truthy(fake.messages), what="the request at the Twilio double")
    [out] = fake.messages
    assert (out["To"], out["From"], out["Body"]) == (CUSTOMER, NUMBER, "Sie ist unterwegs, Ankunft morgen.")
    assert out["StatusCallback"].endswith(f"/webhooks/twilio/sms/status?id={sent['id']}")
    assert (await delivery(floor, conv_id, sent["id"]))["status"] == "sent"

    callback = "/webhooks/twilio/sms/status?id=" + sent["id"]
    report = {
        "MessageSid": out["Sid"],
        "MessageStatus": "delivered",
        "AccountSid": out["AccountSid"],
        "To": CUSTOMER,
    }
    assert (await signed_post(sms, callback, report)).status == 204
    assert (await delivery(floor, conv_id, sent["id"]))["status"] == "delivered"
    # the console socket showed the offer, the message, and the reply's way out
    feed = await socket_until(
        console, lambda m: m["topic"] == "message.delivery" and m["data"]["status"] == "delivered"
    )
    # every console hears that a conversation arrived (its ids only if the agent may see
    # it already: it has no queue yet); this agent's own events follow
    assert feed[0]["topic"] == "conversation.opened" and feed[0]["data"].get("conversation_id") in (
        None,
        conv_id,
    )
    feed = feed[1:]
    assert feed[0]["topic"] == "conversation.offered" and feed[0]["data"]["conversation_id"] == conv_id
    assert [m["data"]["status"] for m in feed if m["topic"] == "message.delivery"] == ["sent", "delivered"]
    assert [m["seq"] for m in feed] == sorted({m["seq"] for m in feed})
    await console.close()
    forged = await sms.client.post(callback, data={**report, "MessageStatus": "failed"})
    assert forged.status == 403
    detail = await (
        await sms.client.get(f"/api/v1/conversations/{conv_id}", headers=floor.headers["agent_sms"])
    ).json()
    assert detail["sla"]["first_response_at"] is not None
    assert [m["direction"] for m in detail["messages"]] == ["in", "out"]


async def test_after_stop_no_sms_is_sent(sms: HubClient, twilio: tuple[FakeTwilio, Any]) -> None:
    floor = await setup(sms)
    conv_id = await assigned_conversation(floor, "SM-in-2")
    assert (await signed_post(sms, "/webhooks/twilio/sms", sms_params("SM-stop-2", "STOP"))).status == 200

    async def stopped() -> bool:
        async with sms.app[STORE].read() as conn:
            return await conn.scalar(sa.select(sa.func.count()).select_from(consents)) == 2

    await eventually(stopped, what="the STOP to be recorded")
    resp = await reply(floor, conv_id, "Noch da?")
    assert resp.status == 409
    assert "withdrew consent for sms (sms:STOP)" in (await resp.json())["detail"]
    assert twilio[0].messages == []


async def test_a_long_reply_is_split_and_its_segments_counted(
    sms: HubClient, twilio: tuple[FakeTwilio, Any]
) -> None:
    floor = await setup(sms)
    conv_id = await assigned_conversation(floor, "SM-in-3")
    text = ("Grüße aus Berlin. " * 200).strip()  # 3,599 characters, GSM-7
    sent = await (await reply(floor, conv_id, text)).json()
    await eventually(lambda: _truthy(len(twilio[0].messages) == 3), what="three parts")
    assert "".join(m["Body"] for m in twilio[0].messages).replace(" ", "") == text.replace(" ", "")
    # cut at the last space before 1,600 characters: 1,593 + 1,597 + 407
    assert [len(m["Body"]) for m in twilio[0].messages] == [1593, 1597, 407]

    async def marked_sent() -> dict[str, Any] | None:  # Twilio has the parts before the outbox says so
        info = await delivery(floor, conv_id, sent["id"])
        return info if "sms" in info else None

    info = await eventually(marked_sent, what="the reply marked sent")
    # GSM-7, 153 characters per concatenated segment: 11 + 11 + 3
    assert info["sms"] == {"from": NUMBER, "parts": 3, "encoding": "GSM-7", "segments": 25}


async def test_a_long_reply_retried_after_a_failed_part_sends_only_the_missing_parts(
    sms: HubClient, twilio: tuple[FakeTwilio, Any]
) -> None:
    fake = twilio[0]
    floor = await setup(sms)
    conv_id = await assigned_conversation(floor, "SM-in-7")
    fake.fail_requests = {fake.requests + 2}  # the second part answers 503, once
    text = ("Grüße aus Berlin. " * 200).strip()  # three parts
    sent = await (await reply(floor, conv_id, text)).json()

    async def retried() -> dict[str, Any] | None:
        info = await delivery(floor, conv_id, sent["id"])
        return info if info["status"] == "queued" and info["attempts"] == 1 else None

    await eventually(retried, what="the failed attempt")
    assert [len(m["Body"]) for m in fake.messages] == [1593]
    first = fake.messages[0]["Sid"]
    callback = "/webhooks/twilio/sms/status?id=" + sent["id"]

    def report(sid: str) -> dict[str, str]:
        return {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": ACCOUNT, "To": CUSTOMER}

    # the first part is delivered while the rest wait for the retry: noted, not final
    assert (await signed_post(sms, callback, report(first))).status == 204
    assert (await delivery(floor, conv_id, sent["id"]))["status"] == "queued"

    async def sent_after_retry() -> dict[str, Any] | None:
        info = await delivery(floor, conv_id, sent["id"])
        return info if info["status"] == "sent" else None

    info = await eventually(sent_after_retry, timeout=30, what="the retry")
    assert info["attempts"] == 2
    # each part reached Twilio once: no part twice to the customer
    assert [len(m["Body"]) for m in fake.messages] == [1593, 1597, 407]
    assert len(fake.refused) == 1 and len(fake.refused[0]["Body"]) == 1597
    assert "".join(m["Body"] for m in fake.messages).replace(" ", "") == text.replace(" ", "")
    assert info["sms"]["parts"] == 3
    for m in fake.messages[1:]:
        assert (await signed_post(sms, callback, report(m["Sid"]))).status == 204
    assert (await delivery(floor, conv_id, sent["id"]))["status"] == "delivered"


async def test_refusals_fail_for_good_and_outages_are_retried(
    sms: HubClient, twilio: tuple[FakeTwilio, Any]
) -> None:
    floor = await setup(sms)
    bad = await assigned_conversation(floor, "SM-in-4", sender=INVALID_NUMBER)
    sent = await (await reply(floor, bad, "Hallo?")).json()

    async def failed() -> dict[str, Any] | None:
        info = await delivery(floor, bad, sent["id"])
        return info if info["status"] == "failed" else None

    info = await eventually(failed, what="a permanent failure")
    assert info["error_code"] == "21211" and "not a valid phone number" in info["error"]
    assert len(twilio[0].refused) == 1, "a permanent refusal is not retried"

    await floor.act("agent_sms", bad, "close")
    flaky = await assigned_conversation(floor, "SM-in-5", sender=FLAKY_NUMBER)
    sent = await (await reply(floor, flaky, "Zweiter Versuch")).json()

    async def sent_after_retry() -> dict[str, Any] | None:
        info = await delivery(floor, flaky, sent["id"])
        return info if info["status"] == "sent" else None

    info = await eventually(sent_after_retry, timeout=30, what="the retry")
    assert info["attempts"] == 2


async def test_replies_on_a_channel_nobody_sends_on_are_refused(sms: HubClient) -> None:
    floor = await setup(sms)
    conv_id = await assigned_conversation(floor, "SM-in-6")
    resp = await reply(floor, conv_id, "per Fax?", channel="fax")
    assert resp.status == 422 and "replies on fax are not possible" in (await resp.json())["detail"]
    assert (await reply(floor, conv_id, "   ")).status == 422


async def socket_until(ws: Any, last: Any, timeout: float = 10) -> list[dict[str, Any]]:
    """Messages from the agent socket up to and including the first that ``last`` accepts."""
    feed: list[dict[str, Any]] = []
    while True:
        msg = await asyncio.wait_for(ws.receive(), timeout)
        feed.append(msg.json())
        if last(feed[-1]):
            return feed


async def _truthy(value: Any) -> Any:
    await asyncio.sleep(0)
    return value
