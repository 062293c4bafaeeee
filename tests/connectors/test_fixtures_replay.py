"""Every webhook payload under ``fixtures/<connector>/<event>__<variant>.json`` is posted
through the real webhook of a running hub, signed as its provider signs, and what the
edge made of it is compared with what the fixture declares (Zulip's integration
fixtures are the model).

A fixture is a provider's request as its documentation shows it (``doc`` names the page;
numbers, ids and texts are ours): ``request`` holds the path and a ``form``, a ``json``
body or a ``multipart`` body (files as base64), ``sign`` says how the provider signs it.
``expect`` holds the answer (``status``, and text the body must contain) and what the
edge handed on: ``messages`` appended to the ingest queue (or, for faxes, to the fax
queue that reads their pages), and ``reports`` of delivery for our replies. Both are
recorded by a tee in front of the hub's own services, which still receive everything.

A new fixture needs no code: drop the file in and it is replayed. One hub per backend
serves every fixture (they use distinct ids), so the whole set costs two hub starts. Signatures are made
here with the providers' published schemes (Twilio's own validator, Phaxio's HMAC-SHA1,
Sinch's basic auth, our HMAC for the generic bridge), independent of ``connectors``.
"""

from __future__ import annotations

import base64
import io
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import pytest_asyncio
from twilio.request_validator import RequestValidator

from hub.keys import SERVICES
from hub.model import Channel, InboundMessage
from tests.conftest import BACKENDS, HubClient, drop_backend, make_settings, require_services, running_hub
from tests.connectors.conftest import ACCOUNT, NUMBER, PUBLIC, TOKEN
from tests.connectors.fax.conftest import (
    GENERIC_SECRET,
    PHAXIO_TOKEN,
    SINCH_PASSWORD,
    SINCH_USER,
    generic_signature,
    phaxio_signature,
    sinch_auth,
)

FIXTURES = Path(__file__).parent / "fixtures"
CASES = sorted(p for p in FIXTURES.glob("*/*__*.json"))
CTI_TOKEN = "cti-fixture-token-7"
BLOCKED = "+49 30 9999999"  # a caller the PBX is told to reject


def normalised(msg: InboundMessage) -> dict[str, Any]:
    """What the edge made of a payload, as a fixture declares it (the time it arrived is
    the hub's clock, not the payload's: left out)."""
    return {
        "channel": msg.channel.value,
        "external_id": msg.external_id,
        "sender": f"{msg.sender.kind.value}:{msg.sender.value}",
        "recipient": f"{msg.recipient.kind.value}:{msg.recipient.value}" if msg.recipient else None,
        "sender_name": msg.sender_name,
        "thread": msg.thread_hint.key,
        "subject": msg.subject,
        "text": msg.text,
        "kind": msg.kind.value,
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "size": a.size} for a in msg.attachments
        ],
        "meta": dict(msg.meta),
    }


@dataclass
class Tee:
    """A queue of the hub's, recording what is appended (and ``kept``) before passing it on."""

    inner: Any
    appended: list[InboundMessage]
    kept: Callable[[InboundMessage], bool] = lambda msg: True

    async def append(self, msg: InboundMessage) -> Any:
        if self.kept(msg):
            self.appended.append(msg)
        return await self.inner.append(msg)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@dataclass
class Edge:
    hub: HubClient
    appended: list[InboundMessage] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)

    def clear(self) -> None:
        self.appended.clear()
        self.reports.clear()


def _recording(edge: Edge, report: Callable[..., Awaitable[bool]]) -> Callable[..., Awaitable[bool]]:
    async def delivery(reply_id: str, provider_id: str, status: str, code: str | None) -> bool:
        edge.reports.append(
            {"reply_id": reply_id, "provider_id": provider_id, "status": status, "code": code}
        )
        return await report(reply_id, provider_id, status, code)

    return delivery


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=BACKENDS)
async def edge(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Edge]:
    """One hub for all fixtures of a backend: Twilio (SMS and voice), CTI and the fax gateways."""
    if request.param == "scaleout":
        require_services()
    settings = make_settings(
        tmp_path_factory.mktemp("replay"),
        request.param,
        **{
            "connectors.twilio.enabled": True,
            "connectors.twilio.public_url": PUBLIC,
            "connectors.twilio.media_hosts": ["127.0.0.1"],  # Twilio's media host is not fetched
            "connectors.twilio.accounts": [
                {"account_sid": ACCOUNT, "auth_token": TOKEN, "numbers": [NUMBER]}
            ],
            "connectors.cti.enabled": True,
            "connectors.cti.token": CTI_TOKEN,
            "connectors.cti.blocked_numbers": [BLOCKED],
            "connectors.fax.enabled": True,
            "connectors.fax.public_url": PUBLIC,
            "connectors.fax.ocr": False,
            "connectors.fax.phaxio": {"callback_token": PHAXIO_TOKEN},
            "connectors.fax.sinch": {"username": SINCH_USER, "password": SINCH_PASSWORD},
            "connectors.fax.generic": {"secret": GENERIC_SECRET},
        },
    )
    async with running_hub(settings) as hub:
        services = hub.app[SERVICES]
        result = Edge(hub)
        assert services.queue is not None and "fax" in services.jobs and services.delivery is not None
        # a fax's edge result is its job on the fax queue; the fax reader puts it on the ingest
        # queue later, pages read, whenever it gets to it: that one is not the edge's
        not_from_fax_reader = lambda msg: msg.channel is not Channel.FAX  # noqa: E731
        services.queue = Tee(services.queue, result.appended, not_from_fax_reader)
        services.jobs["fax"] = Tee(services.jobs["fax"], result.appended)
        services.delivery = _recording(result, services.delivery)
        yield result
    await drop_backend(settings)


def _multipart(
    fields: dict[str, str], files: dict[str, dict[str, str]]
) -> tuple[aiohttp.FormData, dict[str, bytes]]:
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    data = {name: base64.b64decode(f["base64"]) for name, f in files.items()}
    for name, f in files.items():
        form.add_field(name, io.BytesIO(data[name]), filename=f["filename"], content_type=f["content_type"])
    return form, data


def _signed(fixture: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The path and the ``post`` arguments of a fixture's request, signed as its provider does."""
    request, sign = fixture["request"], fixture.get("sign")
    path = request["path"].replace("{cti_token}", CTI_TOKEN)
    headers: dict[str, str] = {}
    if "form" in request:
        body: Any = request["form"]
        if sign == "twilio":
            headers["X-Twilio-Signature"] = RequestValidator(TOKEN).compute_signature(PUBLIC + path, body)
    elif "json" in request:
        body = orjson.dumps(request["json"])
        headers["Content-Type"] = "application/json"
        if sign == "generic":
            stamp = str(int(time.time()))
            headers |= {
                "X-ContactHub-Timestamp": stamp,
                "X-ContactHub-Signature": generic_signature(stamp, body),
            }
    else:
        fields, files = request["multipart"]["fields"], request["multipart"].get("files", {})
        body, data = _multipart(fields, files)
        if sign == "phaxio":
            headers["X-Phaxio-Signature"] = phaxio_signature(PUBLIC + path, fields, data)
    if sign == "sinch":
        headers |= sinch_auth()
    return path, {"data": body, "headers": headers}


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_a_provider_payload_becomes_what_its_fixture_declares(edge: Edge, case: Path) -> None:
    fixture = orjson.loads(case.read_bytes())
    expect = fixture["expect"]
    edge.clear()
    path, post = _signed(fixture)
    answer = await edge.hub.client.post(path, **post)
    text = await answer.text()
    assert answer.status == expect["status"], text
    for part in expect.get("body_contains", []):
        assert part in text
    assert [normalised(m) for m in edge.appended] == expect.get("messages", [])
    assert edge.reports == expect.get("reports", [])


def test_every_fixture_names_its_documentation_and_is_named_event__variant() -> None:
    assert len(CASES) >= 20, "the fixtures went missing"
    for case in CASES:
        fixture = orjson.loads(case.read_bytes())
        assert fixture["doc"].startswith("https://"), case
        assert set(fixture) <= {"doc", "note", "request", "sign", "expect"}, case
        assert fixture.get("sign") in (None, "twilio", "phaxio", "sinch", "generic", "cti"), case
        assert case.stem.count("__") == 1, case
