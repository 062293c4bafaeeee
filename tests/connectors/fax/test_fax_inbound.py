"""Faxes in through the real HTTP path, on both backends: a signed Phaxio callback with a
German PDF becomes a fax conversation on the right customer, with page images, OCR text
and a route chosen by a rule on that text; forgeries are refused, retries stored once,
broken documents kept, Group 4 TIFFs rendered page by page, Sinch and email-to-fax too."""

from __future__ import annotations

import io
import time
from email.message import EmailMessage
from typing import Any

import orjson
import sqlalchemy as sa
from PIL import Image

from hub.keys import METRICS, SERVICES, STORE
from hub.store.tables import attachments, identities, messages
from tests.conftest import HubClient
from tests.connectors.fax.conftest import (
    CUSTOMER_E164,
    CUSTOMER_FAX,
    PUBLIC,
    generic_post,
    generic_received,
    german_pdf,
    group4_tiff,
    phaxio_post,
    phaxio_received,
    phaxio_signature,
    sinch_auth,
)
from tests.routing.test_router_service import Floor
from tests.waits import eventually

RULES = """
queues:
  sales: {reservation_timeout: 60}
  service: {reservation_timeout: 60}
rules:
  - name: orders go to sales
    when: subject =~~ "(?i)bestellung"
    actions: {set_department: sales}
    targets: [{queue: sales, agents: '"sales" in departments'}]
  - name: everything else
    targets: [{queue: service}]
"""
ORDER = [
    [
        "Bestellung Nr. 4711",
        "Sehr geehrte Damen und Herren,",
        "wir bestellen hiermit zwanzig Paletten Schrauben",
        "für unser Lager in München.",
    ],
    ["Lieferbedingungen", "Lieferung bitte bis Donnerstag an die Rampe drei.", "Mit freundlichen Grüßen"],
]


async def fax_message(hub: HubClient, external_id: str, timeout: float = 60) -> Any:
    async def stored() -> Any:
        async with hub.app[STORE].read() as conn:
            return (
                await conn.execute(sa.select(messages).where(messages.c.external_id == external_id))
            ).one_or_none()

    return await eventually(stored, timeout=timeout, what=f"fax {external_id} stored")


async def detail(floor: Floor, conv_id: str, who: str = "supervisor") -> dict[str, Any]:
    resp = await floor.hub.client.get(f"/api/v1/conversations/{conv_id}", headers=floor.headers[who])
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


async def test_signed_phaxio_fax_is_read_and_routed_by_its_text(fax_hub: HubClient) -> None:
    floor = await Floor(fax_hub).start(RULES)
    await floor.agent("verkauf", departments=["sales"], capacity={"fax": 4})
    resp = await fax_hub.client.post(
        "/api/v1/customers",
        headers=floor.headers["admin"],
        json={"name": "Müller GmbH", "identities": [{"kind": "fax", "value": CUSTOMER_FAX}]},
    )
    assert resp.status == 201, await resp.text()
    customer_id = (await resp.json())["id"]

    pdf = german_pdf(ORDER)
    started = time.perf_counter()
    resp = await phaxio_post(fax_hub, phaxio_received(90001), pdf)
    answered = time.perf_counter() - started
    print(f"webhook answered {answered * 1000:.0f} ms after the POST")
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["status"] == "accepted"

    row = await fax_message(fax_hub, "phaxio:90001")
    print(f"stored with pages and text {(time.perf_counter() - started) * 1000:.0f} ms after the POST")
    assert row.customer_id == customer_id, "matched by the E.164 fax identity"
    assert row.kind == "fax" and row.channel == "fax" and row.sender_value == CUSTOMER_E164
    for word in (
        "Bestellung",
        "4711",
        "Paletten",
        "Schrauben",
        "München",
        "Lieferung",
        "Donnerstag",
        "Grüßen",
    ):
        assert word in row.text, f"{word!r} not in the OCR text {row.text!r}"
    assert row.subject.startswith("Bestellung Nr. 4711")

    offers = await eventually(lambda: floor.mine("verkauf", "offered"), what="an offer to sales")
    assert offers[0]["id"] == row.conversation_id
    conv = await detail(floor, row.conversation_id)
    assert conv["channel"] == "fax" and conv["queue"] == "sales" and conv["department"] == "sales"
    (message,) = conv["messages"]
    assert message["meta"] == {"provider": "phaxio", "pages": "2", "render": "ok", "ocr": "done"}
    names = [a["filename"] for a in message["attachments"]]
    assert names == ["fax.pdf", "page-001.png", "page-001-thumb.png", "page-002.png", "page-002-thumb.png"]

    # the original is the posted PDF; the pages are images the console shows inline
    by_name = {a["filename"]: a for a in message["attachments"]}
    original = await fax_hub.client.get(
        f"/api/v1/attachments/{by_name['fax.pdf']['id']}", headers=floor.headers["supervisor"]
    )
    assert await original.read() == pdf
    for name, width in (("page-002.png", 1240), ("page-002-thumb.png", 200)):
        resp = await fax_hub.client.get(
            f"/api/v1/attachments/{by_name[name]['id']}", headers=floor.headers["supervisor"]
        )
        assert resp.status == 200 and resp.headers["Content-Type"] == "image/png"
        image = Image.open(io.BytesIO(await resp.read()))
        assert abs(image.width - width) <= 1 and image.height > image.width, "an A4 page, upright"
    assert answered < 5, "the webhook answers before rendering and OCR"


async def test_forged_signatures_are_refused(fax_hub: HubClient) -> None:
    fields = phaxio_received(90002)
    pdf = german_pdf([["Hallo"]])
    wrong_token = phaxio_signature(PUBLIC + "/webhooks/fax/phaxio", fields, {"file": pdf}, token="guessed")
    assert (await phaxio_post(fax_hub, fields, pdf, signature=wrong_token)).status == 403
    assert (await phaxio_post(fax_hub, fields, pdf, signature="")).status == 403
    # signed for one document, sent with another
    good = phaxio_signature(PUBLIC + "/webhooks/fax/phaxio", fields, {"file": pdf})
    assert (await phaxio_post(fax_hub, fields, german_pdf([["Anders"]]), signature=good)).status == 403
    # signed for one sender, sent from another
    tampered = {**fields, "fax": fields["fax"].replace("1234567", "7654321")}
    assert (await phaxio_post(fax_hub, tampered, pdf, signature=good)).status == 403
    # signed for another URL
    other = phaxio_signature("https://evil.example/webhooks/fax/phaxio", fields, {"file": pdf})
    assert (await phaxio_post(fax_hub, fields, pdf, signature=other)).status == 403
    # the generic endpoint: a wrong secret, and a correct signature that is too old
    doc = generic_received("g-forged", pdf, "application/pdf")
    assert (await generic_post(fax_hub, doc, secret="not-the-secret")).status == 403
    assert (await generic_post(fax_hub, doc, at=time.time() - 600)).status == 403
    # Sinch: basic auth
    sinch = {
        "event": "INCOMING_FAX",
        "fax": {"id": "s-forged", "from": CUSTOMER_FAX},
        "file": "",
        "fileType": "PDF",
    }
    resp = await fax_hub.client.post("/webhooks/fax/sinch", json=sinch, headers=sinch_auth(password="wrong"))
    assert resp.status == 401
    async with fax_hub.app[STORE].read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(messages)) == 0
    assert await fax_hub.app[SERVICES].jobs["fax"].depth() == 0


async def test_a_retried_callback_is_stored_once(fax_hub: HubClient) -> None:
    pdf = german_pdf([["Reklamation", "Die Lieferung war unvollständig."]])
    for _ in range(3):  # Phaxio retries until it sees a 200, up to 16 times
        assert (await phaxio_post(fax_hub, phaxio_received(90003), pdf)).status == 200
    await fax_message(fax_hub, "phaxio:90003")
    jobs = fax_hub.app[SERVICES].jobs["fax"]
    await eventually(lambda: _empty(jobs), what="every job done")
    async with fax_hub.app[STORE].read() as conn:
        count = await conn.scalar(
            sa.select(sa.func.count()).select_from(messages).where(messages.c.external_id == "phaxio:90003")
        )
        pages = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(attachments.join(messages, messages.c.id == attachments.c.message_id))
            .where(messages.c.external_id == "phaxio:90003")
        )
    assert count == 1 and pages == 3
    duplicates = fax_hub.app[METRICS].duplicates.labels("fax")
    await eventually(lambda: _at_least(duplicates._value.get(), 2), what="both repeats seen as duplicates")


async def _at_least(value: float, n: int) -> bool:
    return value >= n


async def _empty(jobs: Any) -> bool:
    return bool(await jobs.depth() == 0)


async def test_broken_documents_are_kept_with_could_not_render(fax_hub: HubClient) -> None:
    floor = await Floor(fax_hub).start(RULES)
    corrupt = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer garbage" + bytes(
        range(256)
    )
    not_pdf = b"Dies ist kein PDF, sondern Text.\n"
    assert (await phaxio_post(fax_hub, phaxio_received(90004), corrupt)).status == 200
    resp = await phaxio_post(
        fax_hub, phaxio_received(90005, sender="+49 40 7777777"), not_pdf, filename="x.txt"
    )
    assert resp.status == 200
    big = bytes(range(256)) * (12 * 1024)  # 3 MiB: over the hub's usual body limit, under the fax limit
    resp = await phaxio_post(
        fax_hub, phaxio_received(90006, sender="+49 40 8888888"), big, filename="scan.bin"
    )
    assert resp.status == 200, await resp.text()
    for ext, original, why in (
        ("phaxio:90004", corrupt, "PDF cannot be read"),
        ("phaxio:90005", not_pdf, "neither"),
        ("phaxio:90006", big, "neither"),
    ):
        row = await fax_message(fax_hub, ext)
        conv = await detail(floor, row.conversation_id)
        (message,) = conv["messages"]
        assert message["kind"] == "fax" and message["text"] == ""
        assert message["meta"]["render"] == "failed" and message["meta"]["ocr"] == "none"
        assert (
            message["meta"]["render_error"].startswith("could not render")
            and why in message["meta"]["render_error"]
        )
        (kept,) = message["attachments"]
        resp = await fax_hub.client.get(
            f"/api/v1/attachments/{kept['id']}", headers=floor.headers["supervisor"]
        )
        assert resp.status == 200 and await resp.read() == original

        async def routed(conv_id: str = row.conversation_id) -> bool:
            return (await detail(floor, conv_id))["queue"] == "service"

        await eventually(routed, what="still routed to a person")


async def test_group4_tiff_through_the_generic_endpoint_renders_every_page(fax_hub: HubClient) -> None:
    floor = await Floor(fax_hub).start(RULES)
    tiff = group4_tiff(3)
    assert Image.open(io.BytesIO(tiff)).info["compression"] == "group4"
    resp = await generic_post(fax_hub, generic_received("hyla-0042", tiff, "image/tiff"))
    assert resp.status == 200, await resp.text()
    row = await fax_message(fax_hub, "generic:hyla-0042")
    (message,) = (await detail(floor, row.conversation_id))["messages"]
    assert message["meta"]["render"] == "ok" and message["meta"]["pages"] == "3"
    names = [a["filename"] for a in message["attachments"]]
    assert names[:2] == ["hyla-0042.tif", "hyla-0042.pdf"]
    assert names[2:] == [f"page-00{n}{suffix}.png" for n in (1, 2, 3) for suffix in ("", "-thumb")]
    for a in message["attachments"]:
        if a["filename"].endswith("-thumb.png") or not a["filename"].startswith("page-"):
            continue
        resp = await fax_hub.client.get(f"/api/v1/attachments/{a['id']}", headers=floor.headers["supervisor"])
        page = Image.open(io.BytesIO(await resp.read()))
        assert page.size == (1728, 2290), "98 dpi rows stretched to square pixels"
    by_name = {a["filename"]: a for a in message["attachments"]}
    made = await fax_hub.client.get(
        f"/api/v1/attachments/{by_name['hyla-0042.pdf']['id']}", headers=floor.headers["supervisor"]
    )
    import pypdfium2 as pdfium

    assert len(pdfium.PdfDocument(await made.read())) == 3


async def test_sinch_json_and_multipart_faxes(fax_hub: HubClient) -> None:
    import base64

    pdf = german_pdf([["Anfrage", "Bitte rufen Sie uns zurück."]])
    event = {
        "event": "INCOMING_FAX",
        "eventTime": "2026-11-30T09:00:00Z",
        "fax": {
            "id": "01SJSON",
            "direction": "INBOUND",
            "from": "+4989123456",
            "to": "+4930555000",
            "numberOfPages": 1,
        },
        "file": base64.b64encode(pdf).decode(),
        "fileType": "PDF",
    }
    resp = await fax_hub.client.post("/webhooks/fax/sinch", json=event, headers=sinch_auth())
    assert resp.status == 200, await resp.text()
    import aiohttp

    form = aiohttp.FormData()
    form.add_field("event", "INCOMING_FAX")
    form.add_field("fax", orjson.dumps({**event["fax"], "id": "01SMULTI"}).decode())  # type: ignore[dict-item]
    form.add_field("file", pdf, filename="01SMULTI.pdf", content_type="application/pdf")
    assert (await fax_hub.client.post("/webhooks/fax/sinch", data=form, headers=sinch_auth())).status == 200
    first = await fax_message(fax_hub, "sinch:01SJSON")
    second = await fax_message(fax_hub, "sinch:01SMULTI")
    assert first.customer_id == second.customer_id, "one unknown number, one new customer"
    assert "zurück" in first.text and first.sender_value == "+4989123456"
    async with fax_hub.app[STORE].read() as conn:
        kinds = (await conn.execute(sa.select(identities.c.kind, identities.c.value))).all()
    assert ("fax", "+4989123456") in [tuple(k) for k in kinds]
    # a completed fax that is not one of ours is acknowledged, so Sinch stops retrying
    done = {"event": "FAX_COMPLETED", "fax": {"id": "x", "direction": "OUTBOUND", "status": "COMPLETED"}}
    resp = await fax_hub.client.post("/webhooks/fax/sinch?id=not-ours", json=done, headers=sinch_auth())
    assert resp.status == 200 and (await resp.json()) == {"recorded": False}


async def test_email_to_fax_gateway_mailbox(backend: str, tmp_path: Any, gateway: Any) -> None:
    from connectors.base import ConnectorContext
    from connectors.email.spec import SPEC as EMAIL
    from tests.conftest import drop_backend, make_settings, running_hub
    from tests.connectors.fax.conftest import fax_settings

    settings = make_settings(
        tmp_path,
        backend,
        **fax_settings(str(gateway[1].make_url("")).rstrip("/")),
        **{
            "connectors.email.enabled": True,
            "connectors.email.mailboxes": {
                "faxgw": {
                    "host": "127.0.0.1",
                    "port": 9,
                    "security": "none",
                    "user": "fax@hub.example",
                    "password": "pw-fax-box",
                    "poll_seconds": 3600,
                    "fax_gateway": {
                        "sender": "Gateway@Faxprovider.example",
                        "number_pattern": r"[Vv]on\s+([+0-9 /-]+\d)",
                    },
                }
            },
        },
    )
    async with running_hub(settings) as hub:
        app = hub.app
        from datetime import UTC, datetime

        ctx = ConnectorContext(
            settings=settings, metrics=app[METRICS], clock=lambda: datetime.now(UTC), services=app[SERVICES]
        )
        assert EMAIL.background is not None
        (watcher,) = EMAIL.background(ctx)
        deliver = watcher.loop._deliver  # type: ignore[attr-defined]

        def mail(sender: str, subject: str, message_id: str) -> bytes:
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = sender, "fax@hub.example", subject
            msg["Message-ID"] = f"<{message_id}@faxprovider.example>"
            msg.set_content("Sie haben ein Fax erhalten.")
            msg.add_attachment(
                german_pdf([["Bestellung per Fax", "Zehn Kartons Papier"]]),
                maintype="application",
                subtype="pdf",
                filename="fax.pdf",
            )
            return bytes(msg)

        await deliver(mail("gateway@faxprovider.example", "Fax von 030 1234567 (1 Seite)", "f1"))
        await deliver(mail("someone@example.com", "Fax von 030 1234567", "m1"))  # not the gateway: a mail
        row = await fax_message(hub, "email:f1@faxprovider.example")
        assert row.channel == "fax" and row.sender_value == CUSTOMER_E164
        assert "Kartons" in row.text
        plain = await fax_message(hub, "m1@faxprovider.example")
        assert plain.channel == "email" and plain.sender_value == "someone@example.com"
    await drop_backend(settings)


async def test_the_hylafax_hook_posts_a_received_tiff(fax_hub: HubClient, tmp_path: Any) -> None:
    import asyncio
    import os
    import sys
    from pathlib import Path

    from tests.connectors.fax.conftest import GENERIC_SECRET

    script = Path(__file__).resolve().parents[3] / "contrib" / "hylafax" / "faxrcvd-contacthub"
    qfile = tmp_path / "fax00000123.tif"
    qfile.write_bytes(group4_tiff(2))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "FAXRCVD_CONTACTHUB_CONF": str(tmp_path / "none.conf"),
        "FAXRCVD_HUB_URL": str(fax_hub.client.make_url("/")),
        "FAXRCVD_SECRET": GENERIC_SECRET,
        "FAXRCVD_FAX_NUMBER": "+4930555000",
    }
    args = [str(qfile), "ttyS0", "000000123", "", "+49 30 1234567", "MUELLER GMBH"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(script), *args, env=env, stderr=asyncio.subprocess.PIPE
    )
    _, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    row = await fax_message(fax_hub, "generic:000000123")
    assert row.sender_value == CUSTOMER_E164 and row.sender_name == "MUELLER GMBH"
    assert row.meta["pages"] == "2" and row.meta["render"] == "ok"
    # a wrong secret: the hook exits with EX_TEMPFAIL, so HylaFAX's caller may try again
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        *args,
        env={**env, "FAXRCVD_SECRET": "wrong"},
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    assert proc.returncode == 75 and b"403" in err
