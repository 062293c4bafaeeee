"""A hub with the fax connector (Phaxio, Sinch and generic gateways configured), a local
fake gateway answering like Phaxio's and Sinch's send APIs and a generic bridge, and
builders for real documents: PDFs with German text (reportlab) and Group 4 TIFFs (Pillow).

Signatures are computed here independently of ``connectors.fax`` (the algorithms as the
providers publish them), so the tests check the hub against the scheme, not itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import BaseTestServer, TestServer
from PIL import Image, ImageDraw
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from tests.conftest import HubClient, drop_backend, make_settings, running_hub

PUBLIC = "https://hub.example.com:8443"
PHAXIO_TOKEN = "phaxio-webhook-token-1"
PHAXIO_KEY, PHAXIO_SECRET = "phaxio-key", "phaxio-api-secret"
SINCH_USER, SINCH_PASSWORD = "sinch-cb", "sinch-callback-password"
GENERIC_SECRET = "generic-shared-secret-9"
OUR_FAX = "+4930555000"
CUSTOMER_FAX = "+49 30 1234567"
CUSTOMER_E164 = "+49301234567"


class FakeGateway:
    """Phaxio's and Sinch's send APIs and a generic bridge; keeps what it was sent."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.app = web.Application(client_max_size=50 * 1024 * 1024)
        self.app.router.add_post("/v2.1/faxes", self.phaxio)
        self.app.router.add_post("/v3/projects/{project}/faxes", self.sinch)
        self.app.router.add_post("/generic/send", self.generic)

    async def phaxio(self, request: web.Request) -> web.Response:
        expected = aiohttp.encode_basic_auth(PHAXIO_KEY, PHAXIO_SECRET)
        if request.headers.get("Authorization") != expected:
            return web.json_response({"success": False, "message": "bad key"}, status=401)
        form = await request.post()
        upload = form["file"]
        assert isinstance(upload, web.FileField)
        fax_id = len(self.sent) + 1000
        self.sent.append(
            {
                "gateway": "phaxio",
                "id": str(fax_id),
                "to": form["to"],
                "caller_id": form.get("caller_id"),
                "callback_url": form["callback_url"],
                "pdf": upload.file.read(),
                "content_type": upload.content_type,
            }
        )
        return web.json_response(
            {"success": True, "message": "Fax queued for sending", "data": {"id": fax_id}}
        )

    async def sinch(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form["file"]
        assert isinstance(upload, web.FileField)
        fax_id = "01SINCH" + uuid.uuid4().hex[:10]
        self.sent.append({"gateway": "sinch", "id": fax_id, "to": form["to"], "pdf": upload.file.read()})
        return web.json_response({"id": fax_id, "status": "QUEUED"})

    async def generic(self, request: web.Request) -> web.Response:
        body = await request.read()
        signature = generic_signature(request.headers["X-ContactHub-Timestamp"], body)
        if request.headers.get("X-ContactHub-Signature") != signature:
            return web.Response(status=403)
        doc = orjson.loads(body)
        self.sent.append({"gateway": "generic", **doc, "pdf": base64.b64decode(doc["file"]["data"])})
        return web.json_response({"id": "gen-" + doc["id"]})


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[FakeGateway, BaseTestServer]]:
    fake = FakeGateway()
    async with TestServer(fake.app) as server:
        yield fake, server


def fax_settings(gateway_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "connectors.fax.enabled": True,
        "connectors.fax.public_url": PUBLIC,
        "connectors.fax.send_via": "phaxio",
        "connectors.fax.render_dpi": 150,
        "connectors.fax.phaxio": {
            "callback_token": PHAXIO_TOKEN,
            "api_key": PHAXIO_KEY,
            "api_secret": PHAXIO_SECRET,
            "api_base": gateway_url,
        },
        "connectors.fax.sinch": {"username": SINCH_USER, "password": SINCH_PASSWORD},
        "connectors.fax.generic": {"secret": GENERIC_SECRET, "send_url": gateway_url + "/generic/send"},
        "connectors.fax.letterhead": {
            "name": "Muster GmbH",
            "lines": ["Hauptstraße 1, 10115 Berlin"],
            "footer": "Fax +49 30 555000",
        },
        **extra,
    }


@pytest.fixture
async def fax_hub(
    backend: str, tmp_path: Path, gateway: tuple[FakeGateway, BaseTestServer]
) -> AsyncIterator[HubClient]:
    url = str(gateway[1].make_url("")).rstrip("/")
    settings = make_settings(tmp_path, backend, **fax_settings(url))
    async with running_hub(settings) as hub:
        yield hub
    await drop_backend(settings)


# --- documents --------------------------------------------------------------------------


def german_pdf(pages: Sequence[Sequence[str]]) -> bytes:
    """A PDF with one page per list of lines, in Helvetica (umlauts included)."""
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4)
    for lines in pages:
        y = 770
        for n, line in enumerate(lines):
            canvas.setFont("Helvetica-Bold" if n == 0 else "Helvetica", 20 if n == 0 else 13)
            canvas.drawString(72, y, line)
            y -= 34 if n == 0 else 22
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def group4_tiff(pages: int) -> bytes:
    """A multi-page bilevel TIFF, CCITT Group 4, fax "normal" resolution (204×98 dpi)."""
    frames = []
    for n in range(pages):
        image = Image.new("1", (1728, 1100), 1)
        draw = ImageDraw.Draw(image)
        draw.rectangle((100, 100 + 60 * n, 900, 220 + 60 * n), fill=0)
        draw.text((100, 400), f"page {n + 1}", fill=0)
        frames.append(image)
    out = io.BytesIO()
    frames[0].save(out, "TIFF", compression="group4", save_all=True, append_images=frames[1:], dpi=(204, 98))
    return out.getvalue()


# --- signing, as the providers publish it ------------------------------------------------


def phaxio_signature(
    url: str, fields: dict[str, str], files: dict[str, bytes], token: str = PHAXIO_TOKEN
) -> str:
    text = url
    for name in sorted(fields):
        text += name + fields[name]
    for name in sorted(files):
        text += name + hashlib.sha1(files[name]).hexdigest()
    return hmac.new(token.encode(), text.encode(), hashlib.sha1).hexdigest()


def phaxio_received(fax_id: int, sender: str = CUSTOMER_FAX, pages: int = 2) -> dict[str, str]:
    fax = {
        "id": fax_id,
        "direction": "received",
        "num_pages": pages,
        "status": "success",
        "is_test": False,
        "from_number": sender,
        "to_number": OUR_FAX,
        "created_at": "2026-11-30T09:00:00.000Z",
    }
    return {"direction": "received", "is_test": "false", "success": "true", "fax": orjson.dumps(fax).decode()}


async def phaxio_post(
    hub: HubClient,
    fields: dict[str, str],
    document: bytes | None,
    *,
    path_qs: str = "/webhooks/fax/phaxio",
    signature: str | None = None,
    filename: str = "fax.pdf",
) -> Any:
    files = {"file": document} if document is not None else {}
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    if document is not None:
        form.add_field("file", io.BytesIO(document), filename=filename, content_type="application/pdf")
    signed = signature if signature is not None else phaxio_signature(PUBLIC + path_qs, fields, files)
    return await hub.client.post(path_qs, data=form, headers={"X-Phaxio-Signature": signed})


def generic_signature(timestamp: str, body: bytes, secret: str = GENERIC_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


async def generic_post(
    hub: HubClient, doc: dict[str, Any], *, at: float | None = None, secret: str = GENERIC_SECRET
) -> Any:
    body = orjson.dumps(doc)
    timestamp = str(int(time.time() if at is None else at))
    headers = {
        "Content-Type": "application/json",
        "X-ContactHub-Timestamp": timestamp,
        "X-ContactHub-Signature": generic_signature(timestamp, body, secret),
    }
    return await hub.client.post("/webhooks/fax/generic", data=body, headers=headers)


def generic_received(
    fax_id: str, document: bytes, content_type: str, sender: str = CUSTOMER_FAX
) -> dict[str, Any]:
    return {
        "event": "fax.received",
        "id": fax_id,
        "from": sender,
        "to": OUR_FAX,
        "file": {
            "filename": f"{fax_id}.tif",
            "content_type": content_type,
            "data": base64.b64encode(document).decode(),
        },
    }


def sinch_auth(user: str = SINCH_USER, password: str = SINCH_PASSWORD) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
