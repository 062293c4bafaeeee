"""The admin pages' "send test": one SMS through the real twilio library to the local
Twilio-like server, the provider's refusal shown, and no test to a number that said STOP."""

from __future__ import annotations

import pytest

from hub.keys import RECORDS, STORE
from tests.conftest import HubClient, sign_in_all
from tests.connectors.conftest import INVALID_NUMBER, FakeTwilio


@pytest.fixture
async def admin(sms: HubClient) -> dict[str, str]:
    return (await sign_in_all(sms))["admin"]


async def test_a_test_sms_reaches_twilio_and_a_refusal_is_reported(sms: HubClient, admin, twilio) -> None:
    fake: FakeTwilio = twilio[0]
    resp = await sms.client.post("/api/v1/channels/twilio/test", json={"to": "0176 5550123"}, headers=admin)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["sent"] is True and body["provider_ids"][0].startswith("SM")
    assert fake.messages[-1]["To"] == "+491765550123" and "test" in fake.messages[-1]["Body"].lower()
    resp = await sms.client.post("/api/v1/channels/twilio/test", json={"to": INVALID_NUMBER}, headers=admin)
    body = await resp.json()
    assert body["sent"] is False and "not a valid phone number" in body["error"] and body["permanent"]


async def test_no_test_to_a_customer_who_said_stop_nor_where_none_is_sent(sms: HubClient, admin) -> None:
    async with sms.app[STORE].write() as conn:
        customer = await sms.app[RECORDS].create(
            conn, {"name": "Stopp"}, [("phone", "+491765550199")], "test"
        )
    resp = await sms.client.put(
        f"/api/v1/customers/{customer}/consent",
        json={"channel": "sms", "purpose": "service", "granted": False, "source": "sms:STOP"},
        headers=admin,
    )
    assert resp.status in (200, 204), await resp.text()
    resp = await sms.client.post("/api/v1/channels/twilio/test", json={"to": "+491765550199"}, headers=admin)
    assert resp.status == 409 and "withdrew consent" in (await resp.json())["detail"]
    resp = await sms.client.post("/api/v1/channels/cti/test", json={"to": "+491765550199"}, headers=admin)
    assert resp.status == 422
    resp = await sms.client.post("/api/v1/channels/email/test", json={"to": "a@b.example"}, headers=admin)
    assert resp.status == 409, "email is off in this hub"
