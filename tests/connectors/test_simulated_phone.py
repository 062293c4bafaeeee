"""``contacthub simulate phone`` on both backends: a typed line reaches the hub as a signed
SMS, the agent's reply reaches the phone through the real twilio library, and the phone's
signed status callbacks mark the reply delivered. The phone checks credentials as Twilio
does, and a line the hub refuses is shown, not fatal."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from hub.errors import ConfigError
from hub.settings import Settings
from hub.simulator import SimulatedPhone, Simulator
from tests.conftest import drop_backend, make_settings, running_hub
from tests.connectors.conftest import ACCOUNT, NUMBER, PUBLIC, TOKEN
from tests.connectors.test_sms_round_trip import delivery, reply, setup
from tests.hubproc import free_port
from tests.waits import eventually

CUSTOMER = "+4917612345678"


def twilio_settings(tmp_path: Path, backend: str, phone_port: int, public: str = PUBLIC) -> Settings:
    return make_settings(
        tmp_path,
        backend,
        **{
            "connectors.twilio.enabled": True,
            "connectors.twilio.public_url": public,
            "connectors.twilio.api_base": f"http://127.0.0.1:{phone_port}",
            "connectors.twilio.help_reply": "Hilfe: 040 123456",
            "connectors.twilio.accounts": [
                {"account_sid": ACCOUNT, "auth_token": TOKEN, "numbers": [NUMBER]}
            ],
        },
    )


class Keyboard:
    """Lines typed into the phone, one at a time; ``None`` hangs up."""

    def __init__(self) -> None:
        self.lines: asyncio.Queue[str | None] = asyncio.Queue()

    async def typed(self) -> AsyncIterator[str]:
        while (line := await self.lines.get()) is not None:
            yield line


async def _said(said: list[str], text: str) -> bool:
    await asyncio.sleep(0)
    return any(text in line for line in said)


async def test_a_typed_sms_is_answered_on_the_phone_and_reported_delivered(
    backend: str, tmp_path: Path
) -> None:
    port = free_port()
    settings = twilio_settings(tmp_path, backend, port)
    async with running_hub(settings) as hub:
        said: list[str] = []
        simulator = Simulator(settings, str(hub.client.make_url("/")), say=lambda _: None)
        keyboard = Keyboard()
        phone = asyncio.create_task(SimulatedPhone(simulator, said.append).run(CUSTOMER, keyboard.typed()))
        try:
            floor = await setup(hub)
            await keyboard.lines.put("Wo bleibt meine Lieferung?\n")
            offers = await eventually(lambda: floor.mine("agent_sms", "offered"), what="an offer")
            conv_id = offers[0]["id"]
            assert (await floor.act("agent_sms", conv_id, "accept")).status == 200

            resp = await reply(floor, conv_id, "Sie ist unterwegs, Ankunft morgen.")
            assert resp.status == 202, await resp.text()
            sent = await resp.json()

            async def delivered() -> bool:
                return (await delivery(floor, conv_id, sent["id"]))["status"] == "delivered"

            await eventually(delivered, what="the phone's delivery report")
            assert f"SMS from {NUMBER} to {CUSTOMER}: Sie ist unterwegs, Ankunft morgen." in said

            await keyboard.lines.put("HELP")  # the hub answers this one itself, in its TwiML
            await eventually(lambda: _said(said, "Hilfe: 040 123456"), what="the HELP reply")
            await keyboard.lines.put(None)
            await asyncio.wait_for(phone, 10)
        finally:
            phone.cancel()
    await drop_backend(settings)


async def test_the_phone_refuses_wrong_credentials_as_twilio_does(tmp_path: Path) -> None:
    settings = twilio_settings(tmp_path, "embedded", free_port())
    phone = SimulatedPhone(Simulator(settings, "http://127.0.0.1:9"), lambda _: None)
    async with TestClient(TestServer(phone.app)) as client:
        path = f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
        form = {"To": CUSTOMER, "From": NUMBER, "Body": "Hallo"}
        wrong = "Basic " + base64.b64encode(f"{ACCOUNT}:not-the-token".encode()).decode()
        resp = await client.post(path, data=form, headers={"Authorization": wrong})
        assert resp.status == 401 and (await resp.json())["code"] == 20003
        right = "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
        resp = await client.post(path, data=form, headers={"Authorization": right})
        assert resp.status == 201
        assert (await resp.json())["status"] == "queued"
        resp = await client.post(path, data={"To": CUSTOMER}, headers={"Authorization": right})
        assert resp.status == 400


async def test_a_line_the_hub_refuses_is_shown_and_the_phone_stays_on(tmp_path: Path) -> None:
    port = free_port()
    settings = twilio_settings(tmp_path, "embedded", port, public="https://elsewhere.example")
    served = twilio_settings(tmp_path, "embedded", port)  # the hub checks signatures over PUBLIC
    async with running_hub(served) as hub:
        said: list[str] = []
        keyboard = Keyboard()
        simulator = Simulator(settings, str(hub.client.make_url("/")), say=lambda _: None)
        phone = asyncio.create_task(SimulatedPhone(simulator, said.append).run(CUSTOMER, keyboard.typed()))
        try:
            await keyboard.lines.put("signed over the wrong URL")
            await eventually(lambda: _said(said, "not sent: the hub answered 403"), what="the refusal")
            assert not phone.done()
            await keyboard.lines.put(None)
            await asyncio.wait_for(phone, 10)
        finally:
            phone.cancel()


async def test_a_phone_that_cannot_listen_says_where(tmp_path: Path) -> None:
    with_port = free_port()
    settings = twilio_settings(tmp_path, "embedded", with_port)
    phone = SimulatedPhone(Simulator(settings, "http://127.0.0.1:9"), lambda _: None)
    keyboard = Keyboard()
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", with_port)  # taken
    try:
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{with_port}"):
            await phone.run(CUSTOMER, keyboard.typed())
    finally:
        server.close()
        await server.wait_closed()
