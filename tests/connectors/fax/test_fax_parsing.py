"""The pure parts of the fax connector, without an event loop: signatures, callback
parsing, the email-to-fax subject pattern, numbers, the finished message, rendering and
the letterhead PDF."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import orjson
import pypdfium2 as pdfium
import pytest

from connectors.base import FilePart, ReceivedFax
from connectors.email.fax_gateway import gateway_fax, number_from_subject
from connectors.email.payloads import parse_mail
from connectors.email.settings import FaxGatewayMailbox
from connectors.fax.generic import check_generic, generic_signature, parse_generic
from connectors.fax.letterhead import NotAPdf, combine, letter_pdf
from connectors.fax.payloads import fax_address, fax_job, fax_subject, finished
from connectors.fax.phaxio import parse_phaxio, phaxio_signature
from connectors.fax.provider import StatusReport
from connectors.fax.render import render, sniff
from connectors.fax.settings import FaxLetterhead
from connectors.fax.sinch import basic_auth_valid, parse_sinch
from hub.errors import Forbidden, Ignored, InputError, PayloadRejected
from hub.model import AddressKind, Attachment, MessageKind
from tests.connectors.fax import conftest as docs

URL = "https://hub.example.com/webhooks/fax/phaxio"
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


# --- Phaxio -------------------------------------------------------------------------------


def test_phaxio_signature_follows_the_published_scheme() -> None:
    fields = {"direction": "received", "fax": '{"id":1}', "is_test": "true"}
    files = [("file", b"%PDF-1.4 x")]
    ours = phaxio_signature("token", URL, fields, files)
    assert ours == docs.phaxio_signature(URL, fields, {"file": b"%PDF-1.4 x"}, token="token")
    assert ours == phaxio_signature("token", URL, dict(reversed(fields.items())), files), (
        "field order is irrelevant"
    )
    assert ours != phaxio_signature("token", URL + "?x=1", fields, files), "the URL is signed"
    assert ours != phaxio_signature("token", URL, fields, [("file", b"%PDF-1.4 y")]), (
        "the file's hash is signed"
    )
    assert ours != phaxio_signature("token", URL, fields, [("other", b"%PDF-1.4 x")]), (
        "the part's name is signed"
    )
    assert ours != phaxio_signature("other", URL, fields, files)


def test_phaxio_received_and_sent() -> None:
    pdf = FilePart("file", "fax.pdf", "application/pdf", b"%PDF")
    got = parse_phaxio(docs.phaxio_received(7, sender="+1 650 488 8494"), [pdf], {})
    assert isinstance(got, ReceivedFax)
    assert (got.provider, got.fax_id, got.sender, got.recipient, got.pages) == (
        "phaxio", "7", "+1 650 488 8494", docs.OUR_FAX, 2,
    )  # fmt: skip
    sent = {
        "direction": "sent",
        "success": "true",
        "fax": orjson.dumps({"id": 9, "status": "success"}).decode(),
    }
    assert parse_phaxio(sent, [], {"id": "r1"}) == StatusReport(
        reply_id="r1", provider_id="9", status="delivered"
    )
    failed = {
        "direction": "sent",
        "success": "false",
        "fax": orjson.dumps({"id": 9, "status": "failure", "recipients": [{"error_code": "busy"}]}).decode(),
    }
    assert parse_phaxio(failed, [], {"id": "r1"}) == StatusReport(
        reply_id="r1", provider_id="9", status="failed", code="busy"
    )
    with pytest.raises(Ignored):
        parse_phaxio(sent, [], {})  # not a reply of ours
    with pytest.raises(Ignored):
        parse_phaxio(docs.phaxio_received(7), [], {})  # a failed reception has no file
    with pytest.raises(PayloadRejected, match="fax"):
        parse_phaxio({"direction": "received", "fax": "{not json"}, [pdf], {})
    with pytest.raises(PayloadRejected, match="fax: missing"):
        parse_phaxio({"direction": "received"}, [pdf], {})


# --- Sinch --------------------------------------------------------------------------------


def test_sinch_basic_auth() -> None:
    header = docs.sinch_auth("u", "p")["Authorization"]
    assert basic_auth_valid(header, "u", "p")
    assert not basic_auth_valid(header, "u", "q")
    assert not basic_auth_valid(None, "u", "p")
    assert not basic_auth_valid("Basic !!!", "u", "p")
    assert not basic_auth_valid("Bearer x", "u", "p")


def test_sinch_json_multipart_and_completed() -> None:
    event = {
        "event": "INCOMING_FAX",
        "fax": {"id": "01A", "from": "+4989123456", "to": "+4930555000", "numberOfPages": 3},
        "file": base64.b64encode(b"%PDF-1.7").decode(),
        "fileType": "PDF",
    }
    got = parse_sinch({}, [], orjson.dumps(event), "application/json", {})
    assert isinstance(got, ReceivedFax) and got.document.data == b"%PDF-1.7" and got.pages == 3
    form = {"event": "INCOMING_FAX", "fax": orjson.dumps(event["fax"]).decode()}
    part = FilePart("file", "a.pdf", "application/pdf", b"%PDF")
    multi = parse_sinch(form, [part], b"", "multipart/form-data", {})
    assert isinstance(multi, ReceivedFax) and multi.document is part
    done = {
        "event": "FAX_COMPLETED",
        "fax": {"id": "01B", "direction": "OUTBOUND", "status": "FAILURE", "errorCode": 42},
    }
    assert parse_sinch({}, [], orjson.dumps(done), "application/json", {"id": "r"}) == StatusReport(
        reply_id="r", provider_id="01B", status="failed", code="42"
    )
    with pytest.raises(Ignored):
        parse_sinch({}, [], orjson.dumps({**done, "event": "SOMETHING"}), "application/json", {"id": "r"})
    with pytest.raises(PayloadRejected, match="base64"):
        parse_sinch({}, [], orjson.dumps({**event, "file": "***"}), "application/json", {})


# --- generic ------------------------------------------------------------------------------


def test_generic_signature_and_replay_window() -> None:
    body = b'{"event":"fax.received"}'
    signature = generic_signature("s3cret", "1700000000", body)
    assert signature == docs.generic_signature("1700000000", body, secret="s3cret")
    check_generic("s3cret", "1700000000", signature, body, now=1700000100, window=300)
    check_generic("s3cret", "1700000000", signature.removeprefix("sha256="), body, now=1700000000, window=300)
    for timestamp, sig, payload, now, why in (
        ("1700000000", signature, body, 1700000301, "replay window"),
        ("1700000000", signature, body, 1699999000, "replay window"),
        ("1700000001", signature, body, 1700000000, "does not verify"),
        ("1700000000", signature, body + b" ", 1700000000, "does not verify"),
        ("soon", signature, body, 1700000000, "Unix seconds"),
        (None, signature, body, 1700000000, "send"),
    ):
        with pytest.raises(Forbidden, match=why):
            check_generic("s3cret", timestamp, sig, payload, now=now, window=300)


def test_generic_events() -> None:
    doc = docs.generic_received("g1", b"II*\x00", "image/tiff")
    got = parse_generic(orjson.dumps(doc), "application/json")
    assert isinstance(got, ReceivedFax) and got.document.content_type == "image/tiff" and got.fax_id == "g1"
    status = {"event": "fax.status", "id": "gw-1", "reply_id": "r1", "status": "delivered"}
    assert parse_generic(orjson.dumps(status), "application/json") == StatusReport(
        reply_id="r1", provider_id="gw-1", status="delivered"
    )
    with pytest.raises(PayloadRejected, match="status"):
        parse_generic(orjson.dumps({**status, "status": "great"}), "application/json")
    with pytest.raises(PayloadRejected, match="id"):
        parse_generic(orjson.dumps({"event": "fax.received"}), "application/json")
    with pytest.raises(InputError):
        parse_generic(b"x", "text/plain")


# --- email-to-fax ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "pattern", "number"),
    [
        (
            "Fax von +49 30 1234567 (2 Seiten)",
            FaxGatewayMailbox(sender="x@y").number_pattern,
            "+49 30 1234567",
        ),
        ("Fax from 030/1234567", FaxGatewayMailbox(sender="x@y").number_pattern, "030/1234567"),
        ("[FAX] Absender: 0891234567 Seiten: 3", r"Absender:\s*(\d+)", "0891234567"),
        ("Fax received", FaxGatewayMailbox(sender="x@y").number_pattern, None),
        (None, r"(\d+)", None),
    ],
)
def test_number_from_subject(subject: str | None, pattern: str, number: str | None) -> None:
    assert number_from_subject(subject, pattern) == number


def test_a_gateway_pattern_needs_a_group() -> None:
    with pytest.raises(ValueError, match="group"):
        FaxGatewayMailbox(sender="x@y", number_pattern=r"\d+")
    with pytest.raises(ValueError, match="regular expression"):
        FaxGatewayMailbox(sender="x@y", number_pattern=r"(\d+")


def _mail(sender: str, attachment: tuple[str, str, bytes] | None) -> bytes:
    lines = [
        f"From: {sender}",
        "To: fax@hub.example",
        "Subject: Fax von 030 1234567",
        "Message-ID: <abc@gw.example>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="b"',
        "",
        "--b",
        "Content-Type: text/plain",
        "",
        "Neues Fax",
    ]
    if attachment:
        name, ctype, data = attachment
        lines += [
            "--b",
            f'Content-Type: {ctype}; name="{name}"',
            "Content-Transfer-Encoding: base64",
            f'Content-Disposition: attachment; filename="{name}"',
            "",
            base64.b64encode(data).decode(),
        ]
    lines.append("--b--")
    return "\r\n".join(lines).encode()


def test_gateway_mail_becomes_a_fax_and_others_stay_mail() -> None:
    gateway = FaxGatewayMailbox(sender="GW@gw.example")
    raw = _mail("Gateway <gw@gw.example>", ("scan.tif", "application/octet-stream", b"II*\x00data"))
    fax = gateway_fax(parse_mail(raw), raw, gateway)
    assert fax is not None and fax.provider == "email" and fax.fax_id == "abc@gw.example"
    assert fax.sender == "030 1234567" and fax.document.content_type == "image/tiff"
    other = _mail("someone@example.com", ("scan.pdf", "application/pdf", b"%PDF"))
    assert gateway_fax(parse_mail(other), other, gateway) is None
    bare = _mail("gw@gw.example", None)
    assert gateway_fax(parse_mail(bare), bare, gateway) is None, "no document: ordinary mail"


# --- the message ----------------------------------------------------------------------------


def test_numbers_are_e164_and_withheld_ones_external() -> None:
    assert fax_address("030 1234567", "DE").value == "+49301234567"
    assert fax_address("+49 (30) 123-4567", "DE").kind is AddressKind.FAX
    assert fax_address("anonymous", "DE").kind is AddressKind.EXTERNAL
    assert fax_address("", "DE").value == "unknown-fax-sender"


def test_job_and_finished_message() -> None:
    doc = Attachment(sha256="a" * 64, filename="fax.pdf", content_type="application/pdf", size=10)
    fax = ReceivedFax(
        provider="phaxio",
        fax_id="7",
        sender="030 1234567",
        recipient="+4930555000",
        document=FilePart("file", "f", "", b""),
    )
    job = fax_job(fax, doc, region="DE", received_at=T0)
    assert job.external_id == "phaxio:7" and job.kind is MessageKind.FAX and job.text == ""
    assert job.meta == {"provider": "phaxio", "fax_id": "7", "ocr": "pending"}
    page = Attachment(sha256="b" * 64, filename="page-001.png", content_type="image/png", size=5)
    thumb = Attachment(sha256="c" * 64, filename="page-001-thumb.png", content_type="image/png", size=2)
    done = finished(
        job,
        pages=[(page, thumb)],
        total_pages=1,
        made_pdf=None,
        render_error=None,
        texts=["Bestellung\n 4711 "],
        ocr="done",
    )
    assert done.text == "Bestellung\n 4711" and done.subject == "Bestellung 4711"
    assert done.attachments == (doc, page, thumb)
    assert done.meta == {"provider": "phaxio", "fax_id": "7", "render": "ok", "pages": "1", "ocr": "done"}
    broken = finished(
        job, pages=[], total_pages=0, made_pdf=None, render_error="could not render: x", texts=[], ocr="none"
    )
    assert broken.meta["render"] == "failed" and broken.meta["render_error"] == "could not render: x"
    assert broken.attachments == (doc,)
    blank = finished(
        job, pages=[(page, thumb)], total_pages=1, made_pdf=None, render_error=None, texts=[" "], ocr="done"
    )
    assert blank.meta["ocr"] == "empty" and blank.subject is None
    with pytest.raises(InputError):
        fax_job(
            ReceivedFax(provider="p", fax_id=" ", sender="", recipient=None, document=fax.document),
            doc,
            region="DE",
            received_at=T0,
        )


def test_subject_is_whole_words() -> None:
    words = "Bestellung " + "Schrauben " * 40
    subject = fax_subject(words)
    assert subject is not None and subject.startswith("Bestellung") and subject.endswith("Schrauben …")
    assert len(subject) <= 202


# --- rendering and the letterhead -----------------------------------------------------------


def test_render_pdf_tiff_and_garbage() -> None:
    pdf = docs.german_pdf([["Eins"], ["Zwei"], ["Drei"]])
    assert sniff(pdf) == "pdf" and sniff(b"II*\x00") == "tiff" and sniff(b"GIF89a") == "unknown"
    got = render(pdf, dpi=72, max_pages=2)
    assert got.error is None and got.total_pages == 3 and len(got.pages) == 2, "at most max_pages rendered"
    assert got.pages[0].full.startswith(b"\x89PNG") and got.pages[0].height == 842
    assert abs(got.pages[0].width - 595) <= 1
    tiff = render(docs.group4_tiff(2), dpi=72, max_pages=10)
    assert (
        tiff.error is None and len(tiff.pages) == 2 and tiff.pdf is not None and tiff.pdf.startswith(b"%PDF")
    )
    assert tiff.pages[0].height == 2290
    for data, why in (
        (b"%PDF-1.4\n%broken", "PDF cannot be read"),
        (b"plain text", "neither"),
        (b"II*\x00junk", "TIFF"),
    ):
        result = render(data, dpi=72, max_pages=5)
        assert result.pages == () and result.error is not None and result.error.startswith("could not render")
        assert why in result.error


def test_letter_pdf_and_combining() -> None:
    head = FaxLetterhead(name="Muster GmbH", lines=["Hauptstraße 1"], footer="Danke")
    text = "Grüße aus München.\n\n" + "Lange Zeile mit Text. " * 400
    letter = letter_pdf(text, head, to="+49301234567", sender="+4930555000", on=T0.date())
    doc = pdfium.PdfDocument(letter)
    first = doc[0].get_textpage().get_text_range()
    assert len(doc) >= 2, "long text flows onto more pages"
    assert (
        "Muster GmbH" in first
        and "Grüße aus München." in first
        and "30.11.2026" in first
        and "Seite / Page 1" in first
    )
    doc.close()
    merged, pages = combine([letter, docs.german_pdf([["Anhang"]])])
    assert pages == len(pdfium.PdfDocument(merged)) >= 3
    with pytest.raises(NotAPdf, match="file 2"):
        combine([letter, b"not a pdf"])
