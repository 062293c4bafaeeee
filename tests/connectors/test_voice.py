"""Twilio voice on both backends: scripted webhook sequences with a TwiML check after each
step. Out of hours the caller reaches the voicemail, which becomes a routed conversation
on the customer matched by the number; in hours the router's agent is dialled."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from hub.keys import ROUTER, STORE
from hub.store.tables import call_holds, conversations, messages
from tests.conftest import HubClient
from tests.connectors.conftest import ACCOUNT, NUMBER, signed_post
from tests.routing.test_router_service import Floor, waiting_behind_call
from tests.waits import eventually

CALLER = "+4917655512345"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def rules(open_now: bool) -> str:
    today = DAYS[datetime.now(UTC).weekday()]
    other = DAYS[(datetime.now(UTC).weekday() + 3) % 7]
    day = today if open_now else other
    return (
        "queues:\n  service:\n    hours: {timezone: UTC, open: {" + day + ': ["00:00-23:59"]}}\n'
        "rules: [{name: all, targets: [{queue: service}]}]\n"
    )


def call(step: str = "", **fields: str) -> dict[str, str]:
    return {
        "CallSid": "CA" + "7" * 32,
        "AccountSid": ACCOUNT,
        "From": CALLER,
        "To": NUMBER,
        "Direction": "inbound",
        "CallStatus": "ringing",
        **fields,
    }


async def twiml(hub: HubClient, path: str, params: dict[str, str]) -> str:
    resp = await signed_post(hub, path, params)
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "application/xml"
    return await resp.text()


async def test_out_of_hours_the_caller_leaves_a_voicemail_that_is_routed(sms: HubClient, twilio) -> None:
    floor = await Floor(sms).start(rules(open_now=False))
    resp = await sms.client.post(
        "/api/v1/customers",
        headers=floor.headers["admin"],
        json={"name": "Anrufer", "identities": [{"kind": "phone", "value": "0176 555 12345"}]},
    )
    customer_id = (await resp.json())["id"]

    greeting = await twiml(sms, "/webhooks/twilio/voice", call())
    assert '<Gather action="/webhooks/twilio/voice/menu?lang=de" numDigits="1"' in greeting
    assert '<Say language="de-DE">Willkommen.' in greeting

    english = await twiml(sms, "/webhooks/twilio/voice/menu?lang=de", call(Digits="9"))
    assert '<Say language="en-GB">Welcome.' in english and "menu?lang=en" in english

    closed = await twiml(sms, "/webhooks/twilio/voice/menu?lang=de", call(Digits="1"))
    assert "Wir sind gerade nicht erreichbar." in closed
    assert '<Record action="/webhooks/twilio/voice/recorded?lang=de"' in closed and "<Dial" not in closed

    recording = "https://api.twilio.com/2010-04-01/Accounts/" + ACCOUNT + "/Recordings/RE123"
    bye = await twiml(
        sms,
        "/webhooks/twilio/voice/recorded?lang=de",
        call(RecordingUrl=recording, RecordingDuration="17", RecordingSid="RE123", CallStatus="completed"),
    )
    assert "Danke für Ihre Nachricht." in bye and "<Hangup />" in bye
    assert (
        await signed_post(
            sms, "/webhooks/twilio/voice/status", call(CallStatus="completed", CallDuration="45")
        )
    ).status == 204

    async def voicemail() -> Any:
        async with sms.app[STORE].read() as conn:
            return (
                await conn.execute(sa.select(messages).where(messages.c.kind == "voicemail"))
            ).one_or_none()

    mail = await eventually(voicemail, what="the voicemail")
    assert mail.customer_id == customer_id and mail.meta["recording_url"] == recording
    assert mail.text == "Voicemail (17 s)"

    async def routed() -> Any:
        async with sms.app[STORE].read() as conn:
            conv = (
                await conn.execute(sa.select(conversations).where(conversations.c.id == mail.conversation_id))
            ).one()
        return conv if conv.queue else None

    conv = await eventually(routed, what="the voicemail to be routed")
    assert conv.queue == "service" and conv.channel == "voice"

    async def all_three() -> list[str] | None:  # the call's end is stored on its own time
        async with sms.app[STORE].read() as conn:
            kinds = [
                r.kind
                for r in await conn.execute(
                    sa.select(messages.c.kind)
                    .where(messages.c.conversation_id == conv.id)
                    .order_by(messages.c.received_at)
                )
            ]
        return kinds if len(kinds) >= 3 else None

    kinds = await eventually(all_three, what="the call's three events")
    assert kinds == ["call_event", "voicemail", "call_event"], "the call's events share its conversation"

    # the supervisor answers the voicemail by SMS, and notes a call back
    sup = floor.headers["supervisor"]
    resp = await sms.client.post(
        f"/api/v1/conversations/{conv.id}/messages",
        headers=sup,
        json={"text": "Wir rufen gleich an.", "channel": "sms"},
    )
    assert resp.status == 202, await resp.text()
    fake = twilio[0]
    await eventually(lambda: _some(fake.messages), what="the SMS at the Twilio double")
    assert (fake.messages[0]["To"], fake.messages[0]["From"]) == (CALLER, NUMBER)
    resp = await sms.client.post(
        f"/api/v1/conversations/{conv.id}/notes",
        headers=sup,
        json={"text": "Zurückgerufen, erledigt.", "callback": True},
    )
    assert resp.status == 201
    timeline = await (await sms.client.get(f"/api/v1/customers/{customer_id}/timeline", headers=sup)).json()
    notes = [i for i in timeline["items"] if i.get("action") == "conversation.called_back"]
    assert len(notes) == 1 and notes[0]["data"]["text"] == "Zurückgerufen, erledigt."


async def test_in_hours_the_routers_agent_is_dialled_and_no_answer_goes_to_voicemail(sms: HubClient) -> None:
    floor = await Floor(sms).start(rules(open_now=True))
    await floor.agent("phone_agent", capacity={"voice": 1}, phone="+4930111222")
    await floor.agent("no_phone", capacity={"voice": 1})

    greeting = await twiml(sms, "/webhooks/twilio/voice", call(From="+441632960001"))
    assert '<Say language="en-GB">Welcome.' in greeting
    dial = await twiml(sms, "/webhooks/twilio/voice/menu?lang=en", call(From="+441632960001", Digits="2"))
    assert "<Dial" in dial and "<Number>+4930111222</Number>" in dial
    assert 'action="/webhooks/twilio/voice/dialed?lang=en"' in dial

    no_answer = await twiml(sms, "/webhooks/twilio/voice/dialed?lang=en", call(DialCallStatus="no-answer"))
    assert "Sorry, nobody is free" in no_answer and "<Record" in no_answer
    done = await twiml(sms, "/webhooks/twilio/voice/dialed?lang=en", call(DialCallStatus="completed"))
    assert "<Hangup />" in done
    # the agent's leg ended, so their line is free for the next call
    again = await twiml(sms, "/webhooks/twilio/voice/menu?lang=en", call(CallSid="CA" + "8" * 32, Digits="2"))
    assert "<Number>+4930111222</Number>" in again
    await signed_post(
        sms, "/webhooks/twilio/voice/status", call(CallSid="CA" + "8" * 32, CallStatus="completed")
    )

    await floor.presence("phone_agent", "away")
    busy = await twiml(sms, "/webhooks/twilio/voice/menu?lang=en", call(Digits="1"))
    assert "<Dial" not in busy and "Sorry, nobody is free" in busy


async def test_a_call_put_through_holds_the_agents_voice_line_until_it_ends(sms: HubClient) -> None:
    floor = await Floor(sms).start(rules(open_now=True))
    agent_id = await floor.agent("phone_agent", capacity={"voice": 1, "sms": 5}, phone="+4930111222")
    first, second = "CA" + "1" * 32, "CA" + "2" * 32
    other = "+441632960001"

    dial = await twiml(sms, "/webhooks/twilio/voice/menu?lang=en", call(CallSid=first, Digits="2"))
    assert "<Number>+4930111222</Number>" in dial
    answered = call(CallSid=first, CallStatus="in-progress")
    assert (await signed_post(sms, "/webhooks/twilio/voice/status", answered)).status == 204

    # on the phone, the agent is put through no second call ...
    busy = await twiml(
        sms, "/webhooks/twilio/voice/menu?lang=en", call(CallSid=second, From=other, Digits="2")
    )
    assert "<Dial" not in busy and "Sorry, nobody is free" in busy
    recorded = call(
        CallSid=second,
        From=other,
        RecordingUrl="https://example.com/RE2",
        RecordingDuration="5",
        RecordingSid="RE2",
    )
    await twiml(sms, "/webhooks/twilio/voice/recorded?lang=en", recorded)

    # ... nor offered voice work by the router: the second caller's voicemail waits
    router = sms.app[ROUTER]

    voicemail = await waiting_behind_call(sms, first, "voicemail")
    assert router.view is not None and router.view.floor.agents[agent_id].load == {"voice": 1}
    await asyncio.sleep(0.3)  # a router step or two: still nobody free
    assert await floor.mine("phone_agent") == []

    # the call's last status frees the line, and the router offers the voicemail at once
    ended = call(CallSid=first, CallStatus="completed", CallDuration="61")
    assert (await signed_post(sms, "/webhooks/twilio/voice/status", ended)).status == 204
    offers = await eventually(lambda: floor.mine("phone_agent", "offered"), what="the voicemail offered")
    assert [o["id"] for o in offers] == [voicemail]
    async with sms.app[STORE].read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(call_holds)) == 0
    # the offered voicemail takes the agent's one voice unit now: a new call goes to voicemail
    third = await twiml(sms, "/webhooks/twilio/voice/menu?lang=en", call(CallSid="CA" + "3" * 32, Digits="2"))
    assert "<Dial" not in third


async def test_voice_webhooks_are_signature_checked(sms: HubClient) -> None:
    for path in ("", "/menu", "/recorded", "/status"):
        resp = await sms.client.post("/webhooks/twilio/voice" + path, data=call())
        assert resp.status == 403, path


async def test_the_simulator_sends_signed_webhooks_the_hub_accepts(sms: HubClient) -> None:
    from hub.keys import SETTINGS
    from hub.simulator import Simulator

    said: list[str] = []
    simulator = Simulator(sms.app[SETTINGS], str(sms.client.make_url("/")), said.append)
    await simulator.sms("+4917600000001", "Simulierte Nachricht")
    await simulator.call("+4917600000002", digits="2", voicemail="Bitte rufen Sie mich zurück")
    assert any("/webhooks/twilio/voice/recorded" in s and "-> 200" in s for s in said)

    async def kinds() -> set[tuple[str, str]] | None:
        async with sms.app[STORE].read() as conn:
            found = {
                (r.channel, r.kind)
                for r in await conn.execute(sa.select(messages.c.channel, messages.c.kind))
            }
        return found if ("voice", "voicemail") in found and ("sms", "message") in found else None

    found = await eventually(kinds, what="the simulated SMS and voicemail")
    assert ("voice", "call_event") in found


async def _some(items: list) -> list | None:
    await asyncio.sleep(0)
    return items or None
