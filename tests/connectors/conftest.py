"""A hub with the Twilio connector, and a local server that answers like Twilio's
Messages API and media host. The real ``twilio`` library talks to it (only the host
differs), so its request building, auth and response parsing all run."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import BaseTestServer, TestServer
from twilio.request_validator import RequestValidator

from hub.settings import Settings
from tests.conftest import HubClient, drop_backend, make_settings, running_hub

ACCOUNT = "AC" + "1" * 32
TOKEN = "sms-test-auth-token"
SUBACCOUNT = "AC" + "2" * 32
SUB_TOKEN = "sub-account-token"
SHARED_KEY = ("webhooks_sharedkey_01TEST", "shared-key-secret")  # a Webhook Setting's key of ACCOUNT
NUMBER = "+493012345678"
PUBLIC = "https://hub.example.com:8443"  # what Twilio calls; the proxy forwards to the test server
PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 200
INVALID_NUMBER = "+15005550001"  # Twilio's test number for "not a valid phone number"
FLAKY_NUMBER = "+15005550009"  # answers 503 once, then accepts


class FakeTwilio:
    """Messages API and media host. Records every request it accepted."""

    def __init__(self) -> None:
        self.messages: list[dict[str, str]] = []
        self.refused: list[dict[str, str]] = []
        self._flaked = False
        self.requests = 0  # Messages API requests, refused or not
        self.fail_requests: set[int] = set()  # these requests (1 = the first) answer 503, once
        self.app = web.Application()
        self.app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self.create_message)
        self.app.router.add_get("/media/{size}", self.media)

    def _authorised(self, request: web.Request, sid: str) -> bool:
        token = {ACCOUNT: TOKEN, SUBACCOUNT: SUB_TOKEN}.get(sid, "")
        return (
            request.headers.get("Authorization")
            == "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode()
        )

    async def create_message(self, request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        if not self._authorised(request, sid):
            return web.json_response({"code": 20003, "message": "Authenticate", "status": 401}, status=401)
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.requests += 1
        if self.requests in self.fail_requests:
            self.fail_requests.discard(self.requests)
            self.refused.append(form)
            return web.json_response(
                {"code": 20500, "message": "Internal Server Error", "status": 500}, status=503
            )
        if form["To"] == INVALID_NUMBER:
            self.refused.append(form)
            body = {
                "code": 21211,
                "message": f"The 'To' number {form['To']} is not a valid phone number.",
                "status": 400,
            }
            return web.json_response(body, status=400)
        if form["To"] == FLAKY_NUMBER and not self._flaked:
            self._flaked = True
            return web.json_response(
                {"code": 20500, "message": "Internal Server Error", "status": 500}, status=503
            )
        message_sid = "SM" + uuid.uuid4().hex
        self.messages.append({**form, "Sid": message_sid, "AccountSid": sid})
        body = {
            "sid": message_sid,
            "account_sid": sid,
            "to": form["To"],
            "from": form.get("From"),
            "body": form.get("Body"),
            "status": "queued",
            "num_segments": "1",
            "direction": "outbound-api",
            "uri": f"/2010-04-01/Accounts/{sid}/Messages/{message_sid}.json",
        }
        return web.json_response(body, status=201)

    async def media(self, request: web.Request) -> web.Response:
        if not self._authorised(request, ACCOUNT):
            return web.Response(status=401)
        size = int(request.match_info["size"])
        return web.Response(body=PNG[:size] if size <= len(PNG) else b"x" * size, content_type="image/png")


@pytest.fixture
async def twilio() -> AsyncIterator[tuple[FakeTwilio, BaseTestServer]]:
    fake = FakeTwilio()
    async with TestServer(fake.app) as server:
        yield fake, server


def twilio_settings(tmp_path: Path, backend: str, server: BaseTestServer, **extra: Any) -> Settings:
    """A hub's settings with the Twilio accounts and the local Twilio double (``extra``:
    more settings, such as WhatsApp's)."""
    return make_settings(
        tmp_path,
        backend,
        **{
            "connectors.twilio.enabled": True,
            "connectors.twilio.public_url": PUBLIC,
            "connectors.twilio.api_base": str(server.make_url("/")),
            "connectors.twilio.help_reply": "Hilfe: 030 123456",
            "connectors.twilio.media_max_bytes": 1024,
            "connectors.twilio.media_hosts": ["127.0.0.1"],  # the fake media host
            "connectors.twilio.accounts": [
                {
                    "account_sid": ACCOUNT,
                    "auth_token": TOKEN,
                    "numbers": [NUMBER],
                    "shared_keys": [{"key_id": SHARED_KEY[0], "secret": SHARED_KEY[1]}],
                },
                {"account_sid": SUBACCOUNT, "auth_token": SUB_TOKEN, "numbers": ["+493099999999"]},
            ],
            **extra,
        },
    )


@pytest.fixture
async def sms(
    backend: str, tmp_path: Path, twilio: tuple[FakeTwilio, BaseTestServer]
) -> AsyncIterator[HubClient]:
    settings = twilio_settings(tmp_path, backend, twilio[1])
    async with running_hub(settings) as hub:
        yield hub
    await drop_backend(settings)


def sms_params(sid: str, body: str = "Hallo", sender: str = "+4917612345678", **extra: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": ACCOUNT,
        "From": sender,
        "To": NUMBER,
        "Body": body,
        "NumMedia": "0",
        "FromCity": "BERLIN",
        "FromCountry": "DE",
        **extra,
    }


async def signed_post(
    hub: HubClient,
    path_qs: str,
    params: dict[str, str],
    *,
    token: str = TOKEN,
    signed_url: str | None = None,
    algorithm: str = "HMAC_SHA1",
    headers: dict[str, str] | None = None,
) -> Any:
    """POST a form as Twilio would: signed over the public URL with the account's token
    (or with a SharedKey's secret and the algorithm of a Webhook Setting)."""
    url = signed_url or PUBLIC + path_qs
    signature = RequestValidator(token).compute_signature(url, params, algorithm)
    return await hub.client.post(
        path_qs, data=params, headers={"X-Twilio-Signature": signature, **(headers or {})}
    )
