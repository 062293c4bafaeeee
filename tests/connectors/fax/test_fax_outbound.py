"""Replies by fax, on both backends: the agent's text on letterhead (and an uploaded PDF)
goes through the outbox to a local fake gateway as a valid PDF, and the gateway's signed
status callback marks the reply delivered; OCR switched off still takes faxes in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pypdfium2 as pdfium
import pytest

from tests.conftest import HubClient, drop_backend, make_settings, running_hub
from tests.connectors.fax.conftest import (
    CUSTOMER_E164,
    OUR_FAX,
    FakeGateway,
    fax_settings,
    german_pdf,
    phaxio_post,
    phaxio_received,
)
from tests.connectors.fax.test_fax_inbound import fax_message
from tests.routing.test_router_service import Floor
from tests.waits import eventually

RULES = "queues: {service: {reservation_timeout: 60}}\nrules: [{name: all, targets: [{queue: service}]}]\n"


def pdf_text(data: bytes) -> list[str]:
    pdf = pdfium.PdfDocument(data)
    try:
        return [pdf[n].get_textpage().get_text_range() for n in range(len(pdf))]
    finally:
        pdf.close()


async def accepted_fax(floor: Floor, fax_id: int) -> str:
    resp = await phaxio_post(floor.hub, phaxio_received(fax_id), german_pdf([["Anfrage", "Was kostet das?"]]))
    assert resp.status == 200
    offers = await eventually(lambda: floor.mine("fax_agent", "offered"), what="an offer")
    conv_id = str(offers[0]["id"])
    assert (await floor.act("fax_agent", conv_id, "accept")).status == 200
    return conv_id


async def delivery(floor: Floor, conv_id: str, message_id: str) -> dict[str, Any]:
    resp = await floor.hub.client.get(f"/api/v1/conversations/{conv_id}", headers=floor.headers["fax_agent"])
    return dict(next(m for m in (await resp.json())["messages"] if m["id"] == message_id)["delivery"])


async def test_reply_by_fax_is_sent_as_pdf_and_marked_delivered(
    fax_hub: HubClient, gateway: tuple[FakeGateway, Any]
) -> None:
    fake = gateway[0]
    floor = await Floor(fax_hub).start(RULES)
    await floor.agent("fax_agent", capacity={"fax": 4})
    conv_id = await accepted_fax(floor, 91001)

    text = (
        "Sehr geehrte Damen und Herren,\n\nvielen Dank für Ihre Anfrage. Der Preis beträgt 12,50 € je Stück."
    )
    resp = await fax_hub.client.post(
        f"/api/v1/conversations/{conv_id}/messages", headers=floor.headers["fax_agent"], json={"text": text}
    )
    assert resp.status == 202, await resp.text()
    reply_id = (await resp.json())["id"]
    await eventually(lambda: _sent(fake, 1), what="the fax at the gateway")
    (sent,) = fake.sent
    assert sent["to"] == CUSTOMER_E164 and sent["caller_id"] == OUR_FAX
    assert sent["content_type"] == "application/pdf" and sent["pdf"].startswith(b"%PDF-")
    (page,) = pdf_text(sent["pdf"])
    for words in ("Muster GmbH", "Hauptstraße 1", "vielen Dank für Ihre Anfrage", "12,50 €", CUSTOMER_E164):
        assert words in page, f"{words!r} not on the page: {page!r}"
    assert sent["callback_url"] == f"https://hub.example.com:8443/webhooks/fax/phaxio?id={reply_id}"
    state = await delivery(floor, conv_id, reply_id)
    assert state["status"] == "sent" and state["fax"] == {
        "gateway": "phaxio",
        "pages": 1,
        "bytes": len(sent["pdf"]),
    }

    # Phaxio reports the outcome, signed over the callback URL it was given
    report = {
        "direction": "sent",
        "event_type": "fax_completed",
        "success": "true",
        "is_test": "false",
        "fax": orjson.dumps(
            {
                "id": int(sent["id"]),
                "direction": "sent",
                "status": "success",
                "num_pages": 1,
                "recipients": [{"phone_number": CUSTOMER_E164, "status": "success"}],
            }
        ).decode(),
    }
    resp = await phaxio_post(fax_hub, report, None, path_qs=f"/webhooks/fax/phaxio?id={reply_id}")
    assert resp.status == 200 and (await resp.json()) == {"recorded": True}
    assert (await delivery(floor, conv_id, reply_id))["status"] == "delivered"


async def _sent(fake: FakeGateway, n: int) -> bool:
    return len(fake.sent) >= n


async def test_reply_with_an_uploaded_pdf_and_a_failed_report(
    fax_hub: HubClient, gateway: tuple[FakeGateway, Any]
) -> None:
    fake = gateway[0]
    floor = await Floor(fax_hub).start(RULES)
    await floor.agent("fax_agent", capacity={"fax": 4})
    conv_id = await accepted_fax(floor, 91002)
    upload = german_pdf([["Angebot", "Seite eins"], ["Angebot", "Seite zwei"]])
    resp = await fax_hub.client.post(
        "/api/v1/uploads?filename=angebot.pdf",
        data=upload,
        headers={**floor.headers["fax_agent"], "Content-Type": "application/pdf"},
    )
    assert resp.status == 201, await resp.text()
    ref = {k: v for k, v in (await resp.json()).items() if k != "size"}
    body = {"text": "Anbei unser Angebot.", "attachments": [ref]}
    resp = await fax_hub.client.post(
        f"/api/v1/conversations/{conv_id}/messages", headers=floor.headers["fax_agent"], json=body
    )
    assert resp.status == 202, await resp.text()
    reply_id = (await resp.json())["id"]
    await eventually(lambda: _sent(fake, 1), what="the fax at the gateway")
    pages = pdf_text(fake.sent[0]["pdf"])
    assert len(pages) == 3 and "Anbei unser Angebot." in pages[0] and "Seite zwei" in pages[2]

    report = {
        "direction": "sent",
        "success": "false",
        "fax": orjson.dumps(
            {
                "id": int(fake.sent[0]["id"]),
                "status": "failure",
                "recipients": [{"status": "failure", "error_code": "Fax machine not detected"}],
            }
        ).decode(),
    }
    resp = await phaxio_post(fax_hub, report, None, path_qs=f"/webhooks/fax/phaxio?id={reply_id}")
    assert resp.status == 200
    state = await delivery(floor, conv_id, reply_id)
    assert state["status"] == "failed" and state["error_code"] == "Fax machine not detected"

    # a file that is not a PDF cannot go by fax: failed at once, not retried
    resp = await fax_hub.client.post(
        "/api/v1/uploads?filename=bild.png",
        data=b"\x89PNG\r\n\x1a\n" + b"0" * 64,
        headers={**floor.headers["fax_agent"], "Content-Type": "image/png"},
    )
    body = {"text": "", "attachments": [{k: v for k, v in (await resp.json()).items() if k != "size"}]}
    resp = await fax_hub.client.post(
        f"/api/v1/conversations/{conv_id}/messages", headers=floor.headers["fax_agent"], json=body
    )
    png_reply = (await resp.json())["id"]

    async def failed() -> dict[str, Any] | None:
        state = await delivery(floor, conv_id, png_reply)
        return state if state["status"] == "failed" else None

    state = await eventually(failed, what="the PNG reply failed")
    assert "PDF files only" in state["error"] and state["attempts"] == 1
    assert len(fake.sent) == 1


async def test_without_tesseract_faxes_arrive_without_text_and_the_state_says_ocr_off(
    backend: str, tmp_path: Path, gateway: tuple[FakeGateway, Any], caplog: pytest.LogCaptureFixture
) -> None:
    url = str(gateway[1].make_url("")).rstrip("/")
    settings = make_settings(
        tmp_path, backend, **fax_settings(url, **{"connectors.fax.tesseract": "/nonexistent/tesseract"})
    )
    async with running_hub(settings) as hub:
        floor = await Floor(hub).start(RULES)
        resp = await hub.client.get("/api/v1/channels", headers=floor.headers["admin"])
        fax = next(c for c in (await resp.json())["items"] if c["name"] == "fax")
        assert fax["enabled"] and fax["sends"]
        assert fax["parts"]["ocr"]["state"] == "degraded"
        assert fax["parts"]["ocr"]["detail"].startswith("OCR off: /nonexistent/tesseract not found")
        said = [r.getMessage() for r in caplog.records if r.name == "contacthub.fax"]
        assert any("/nonexistent/tesseract not found" in line for line in said)  # at start-up
        assert (await phaxio_post(hub, phaxio_received(91003), german_pdf([["Bestellung"]]))).status == 200
        row = await fax_message(hub, "phaxio:91003")
        assert row.text == "" and row.subject is None
        assert row.meta["ocr"] == "off" and row.meta["render"] == "ok" and row.meta["pages"] == "1"
    await drop_backend(settings)
