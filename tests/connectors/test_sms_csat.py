"""A satisfaction survey by SMS, end to end on both backends: the conversation closes, the
question leaves through the real twilio library to the local Twilio double, the customer
answers "4" by a signed webhook, and the answer is on the survey, in the report by agent,
and does not leave a conversation open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from hub.keys import CSAT, STORE
from hub.store.tables import conversations, csat_surveys, events
from tests.conftest import HubClient
from tests.connectors.conftest import NUMBER, FakeTwilio, signed_post, sms_params
from tests.connectors.test_sms_round_trip import CUSTOMER, assigned_conversation, setup
from tests.waits import eventually

SURVEYED = """\
queues: [all]
channels: [sms]
quiet_days: 30
low_score: 2
texts:
  de:
    question: Wie zufrieden waren Sie?
    sms: Wie zufrieden waren Sie? Antworten Sie mit 1 bis 5.
    email: "Wie zufrieden waren Sie? {link}"
    thanks: Danke!
    comment: Noch etwas?
"""


async def test_an_sms_survey_is_answered_by_a_reply(sms: HubClient, twilio: tuple[FakeTwilio, Any]) -> None:
    fake = twilio[0]
    await sms.app[CSAT].save(SURVEYED, "test")
    floor = await setup(sms)
    conv_id = await assigned_conversation(floor, "SM-csat-1", "Mein Paket fehlt")
    closed = await sms.client.post(
        f"/api/v1/conversations/{conv_id}/close", headers=floor.headers["agent_sms"]
    )
    assert closed.status == 200

    async def asked() -> bool:
        return any("Antworten Sie mit 1 bis 5" in m["Body"] for m in fake.messages)

    await eventually(asked, timeout=20, what="the survey at the Twilio double")
    [question] = [m for m in fake.messages if "1 bis 5" in m["Body"]]
    assert (question["To"], question["From"]) == (CUSTOMER, NUMBER)

    assert (await signed_post(sms, "/webhooks/twilio/sms", sms_params("SM-csat-2", " 4 "))).status == 200

    async def answered() -> Any:
        async with sms.app[STORE].read() as conn:
            row = (await conn.execute(sa.select(csat_surveys))).one()
        return row if row.score is not None else None

    survey = await eventually(answered, what="the answer on the survey")
    assert survey.score == 4 and survey.conversation_id == conv_id and survey.channel == "sms"
    assert survey.agent_id == floor.ids["agent_sms"]
    async with sms.app[STORE].read() as conn:
        still_open = await conn.scalar(
            sa.select(sa.func.count()).select_from(conversations).where(conversations.c.status == "open")
        )
        received = (
            await conn.execute(sa.select(events.c.data).where(events.c.action == "csat.received"))
        ).scalar_one()
    assert still_open == 0, "the answer opens no conversation"
    assert received["score"] == 4 and received["agent_id"] == floor.ids["agent_sms"]
    today = datetime.now(UTC).date()
    report = await sms.client.get(
        "/api/v1/reports/csat",
        params={"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=1)), "by": "agent"},
        headers=floor.headers["supervisor"],
    )
    assert report.status == 200, await report.text()
    [row] = (await report.json())["rows"]
    assert row["key"] == floor.ids["agent_sms"] and row["mean_score"] == 4 and row["response_rate"] == 1.0
    # a second digit is a message like any other: the survey took one answer
    assert (await signed_post(sms, "/webhooks/twilio/sms", sms_params("SM-csat-3", "1"))).status == 200
    await sms.wait_stored(3)
    async with sms.app[STORE].read() as conn:
        assert (await conn.execute(sa.select(csat_surveys.c.score))).scalar_one() == 4
