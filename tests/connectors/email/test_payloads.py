"""Unit tests for the email parser: the cases the corpora do not pin. Pure, no event loop."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest

from connectors.email.charsets import codec_for, decode_bytes, decode_words
from connectors.email.payloads import parse_addresses, parse_mail
from connectors.email.quotes import html_to_text, visible_html_text, visible_text
from hub.errors import PayloadRejected
from tests.connectors.email.attachment_mix import attachment_mix


def mail(headers: str, body: str | bytes = "Hello\n") -> bytes:
    head = "MIME-Version: 1.0\n" + headers.strip("\n") + "\n\n"
    return head.encode() + (body if isinstance(body, bytes) else body.encode())


# --- addresses and spoofing --------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "email", "name"),
    [
        # an encoded-word that decodes to "attacker@evil.example>" is a name, never the address
        (
            "=?utf-8?q?attacker=40evil.example=3E?= <victim@bank.example>",
            "victim@bank.example",
            "attacker@evil.example>",
        ),
        ('"=?utf-8?b?YXR0YWNrZXJAZXZpbC5leGFtcGxl?=" <x@y.example>', "x@y.example", "attacker@evil.example"),
        ('"ceo@bank.example" <attacker@evil.example>', "attacker@evil.example", "ceo@bank.example"),
        ("ceo@bank.example <attacker@evil.example>", "attacker@evil.example", "ceo@bank.example"),
        ("Max Mustermann <Max.Mustermann@Example.COM>", "max.mustermann@example.com", "Max Mustermann"),
        ('"Smith, Karoline" <k@example.com>', "k@example.com", "Smith, Karoline"),
        ("MAILER-DAEMON (Mail Delivery System)", "mailer-daemon", "Mail Delivery System"),
        (
            "=?iso-8859-1?Q?B=FCrling,=20Andreas?= <smith@example.com>",
            "smith@example.com",
            "Bürling, Andreas",
        ),
    ],
)
def test_sender_is_the_real_addr_spec(header: str, email: str, name: str) -> None:
    parsed = parse_mail(mail(f"From: {header}\nSubject: hi"))
    assert parsed.sender is not None
    assert (parsed.sender.email, parsed.sender.name) == (email, name)


def test_encoded_word_in_local_part_is_not_decoded_into_the_address() -> None:
    parsed = parse_mail(mail("From: =?utf-8?q?ceo=40bank.example?=@evil.example"))
    assert parsed.sender is not None
    assert parsed.sender.email == "=?utf-8?q?ceo=40bank.example?=@evil.example"
    assert "@bank.example" not in parsed.sender.email.split("?=")[-1]


def test_address_lists_with_groups_comments_and_names() -> None:
    addresses = parse_addresses(
        'undisclosed-recipients:;, "A, B" <a@x.example>, c@x.example (C), <d@x.example>'
    )
    assert [(a.email, a.name) for a in addresses] == [
        ("a@x.example", "A, B"),
        ("c@x.example", "C"),
        ("d@x.example", None),
    ]


def test_recipients_cc_and_reply_to() -> None:
    parsed = parse_mail(
        mail("From: a@x.example\nTo: B <b@x.example>, c@x.example\nCc: d@x.example\nReply-To: <r@x.example>")
    )
    assert [a.email for a in parsed.to] == ["b@x.example", "c@x.example"]
    assert [a.email for a in parsed.cc] == ["d@x.example"]
    assert [a.email for a in parsed.reply_to] == ["r@x.example"]


def test_sender_falls_back_to_reply_to_without_from() -> None:
    parsed = parse_mail(mail("Reply-To: <only@x.example>\nSubject: no from"))
    assert parsed.sender is not None and parsed.sender.email == "only@x.example"


# --- headers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "subject"),
    [
        ("=?utf-8?q?Gr=C3=BC=C3=9Fe?= aus =?iso-8859-1?q?K=F6ln?=", "Grüße aus Köln"),
        ("=?utf-8?q?unsepa?==?utf-8?q?rated?=", "unseparated"),  # glued words
        ("=?utf-8?q?a?=   =?utf-8?q?b?=", "ab"),  # whitespace between words is dropped
        ('Re: "=?utf-8?b?UXVvdGVk?=" word', 'Re: "Quoted" word'),  # inside quotes
        ("=?utf-8?b?w6Q=?==?utf-8?b?w7Y?=", "äö"),  # missing padding
        ("=?utf-8?b?4pw=?= =?utf-8?b?kyE=?=", "✓!"),  # a character split across two words
        ("=?utf-8?q?with spaces inside?=", "with spaces inside"),  # malformed, still decoded
        ("=?x-unknown?q?caf=E9?=", "café"),  # unknown charset: legacy fallback
        ("Subject\n =?utf-8?q?folded?=", "Subject folded"),
    ],
)
def test_subject_encoded_words(raw: str, subject: str) -> None:
    assert parse_mail(mail(f"From: a@x.example\nSubject: {raw}")).subject == subject


def test_ids_date_and_threading() -> None:
    parsed = parse_mail(
        mail(
            "From: a@x.example\nMessage-ID: <abc@x.example>\nIn-Reply-To: <p@x.example>\n"
            "References: <r1@x.example>\n <p@x.example>\nDate: Tue, 3 Apr 2012 16:55:26 +0400"
        )
    )
    assert parsed.message_id == "abc@x.example"
    assert parsed.in_reply_to == ("p@x.example",)
    assert parsed.references == ("r1@x.example", "p@x.example")
    assert parsed.date == datetime(2012, 4, 3, 12, 55, 26, tzinfo=UTC)
    assert parse_mail(mail("From: a@x.example\nDate: not a date")).date is None


# --- charsets -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "text"),
    [
        ("iso-gb2312", "绩效管理"),
        ("gb2312", "绩效管理"),
        ("ks_c_5601-1987", "안녕하세요"),
        ("utf-7", "Übermittlung"),
        ("unicode-1-1-utf-7", "Übermittlung"),
        ("windows-1252", "„Grüße“ – €"),
    ],
)
def test_bogus_charset_labels(label: str, text: str) -> None:
    codec = codec_for(label)
    assert codec is not None
    body = text.encode(codec)
    header = f"Content-Type: text/plain; charset={label}\nContent-Transfer-Encoding: 8bit"
    parsed = parse_mail(mail(f"From: a@x.example\n{header}", body))
    assert parsed.full_text == text


def test_mislabeled_and_unlabeled_bytes_fall_back() -> None:
    # cp1252 quotes labelled Latin-1, and UTF-8 labelled Latin-1
    assert decode_bytes("„ok“".encode("cp1252"), "iso-8859-1") == "„ok“"
    assert decode_bytes(b"caf\xc3\xa9", "x-unknown") == "café"
    assert decode_bytes(b"caf\xe9", None) == "café"
    assert decode_bytes(b"\x81\x8d", "iso-8859-1") == "\x81\x8d"
    assert decode_bytes(b"W\xf6lbung", "us-ascii") == "W\ufffdlbung"
    assert decode_words("=?no-such-charset?q?x=E9?=") == "xé"


def test_raw_8bit_headers_use_the_declared_charset() -> None:
    raw = b"From: a@x.example\nSubject: \xbe\xab\xd2\xe6\nContent-Type: text/plain; charset=gb2312\n\nx\n"
    assert parse_mail(raw).subject == "精益"


# --- bodies -------------------------------------------------------------------------------


ALTERNATIVE = """From: a@x.example
Content-Type: multipart/alternative; boundary=b

--b
Content-Type: text/plain; charset=utf-8

Plain version

Am 12.03.2020 um 10:00 schrieb Kunde <k@x.example>:
> old
--b
Content-Type: text/html; charset=utf-8

<p>HTML <b>version</b></p><script>alert(1)</script>
--b--
"""


def test_html_wins_and_is_sanitised() -> None:
    parsed = parse_mail(ALTERNATIVE.encode())
    assert parsed.body_type == "text/html"
    assert parsed.html is not None and "<b>version</b>" in parsed.html and "script" not in parsed.html
    assert parsed.text == "Plain version"
    assert "> old" in parsed.full_text


def test_text_from_html_keeps_block_line_breaks() -> None:
    html = "<div>Hallo,</div><div><br></div><p>zwei</p><ul><li>a</li><li>b</li></ul>x<br>y"
    assert html_to_text(html) == "Hallo,\n\nzwei\n\n- a\n- b\n\nx\ny"
    raw = mail("From: a@x.example\nContent-Type: text/html; charset=utf-8", html)
    parsed = parse_mail(raw)
    assert parsed.body_type == "text/html"
    assert parsed.full_text.startswith("Hallo,\n\nzwei")


def test_inline_image_keeps_its_content_id() -> None:
    png = base64.b64encode(b"\x89PNG fake").decode()
    raw = f"""From: a@x.example
Content-Type: multipart/related; boundary=r

--r
Content-Type: text/html; charset=utf-8

<p>See <img src="cid:logo@x.example"></p>
--r
Content-Type: image/png
Content-ID: <logo@x.example>
Content-Transfer-Encoding: base64

{png}
--r--
"""
    parsed = parse_mail(raw.encode())
    [image] = parsed.attachments
    assert (image.content_id, image.inline, image.data) == ("logo@x.example", True, b"\x89PNG fake")
    assert image.filename == "image.png"


def test_attachment_names_are_decoded_and_unique() -> None:
    raw = """From: a@x.example
Content-Type: multipart/mixed; boundary=m

--m
Content-Type: text/plain

body
--m
Content-Type: application/pdf; name="=?utf-8?q?Rechnung_M=C3=A4rz.pdf?="
Content-Disposition: attachment; filename*=utf-8''Rechnung%20M%C3%A4rz.tar.gz

one
--m
Content-Type: application/pdf
Content-Disposition: attachment; filename*=utf-8''Rechnung%20M%C3%A4rz.tar.gz

two
--m--
"""
    names = [f.filename for f in parse_mail(raw.encode()).attachments]
    assert names == ["Rechnung März.tar.gz", "Rechnung März1.tar.gz"]


def test_embedded_message_is_an_eml_attachment() -> None:
    inner = "From: b@x.example\nSubject: =?utf-8?q?Weitergeleitet_=C3=A4?=\n\ninner body\n"
    raw = f"""From: a@x.example
Subject: Fwd
Content-Type: multipart/mixed; boundary=m

--m
Content-Type: text/plain

see attached
--m
Content-Type: message/rfc822

{inner}
--m
Content-Type: message/rfc822

From: c@x.example

no subject
--m--
"""
    parsed = parse_mail(raw.encode())
    assert [f.filename for f in parsed.attachments] == ["Weitergeleitet ä.eml", "message.eml"]
    assert parsed.attachments[0].data == inner.encode()
    assert parsed.attachments[0].content_type == "message/rfc822"
    # and a forward's content: each embedded message's text follows the note
    assert parsed.full_text.startswith("see attached\n\n---------- Forwarded message ---------")
    assert "inner body" in parsed.text and parsed.text.endswith("no subject")


def dsn(action: str, status: str) -> bytes:
    return f"""From: MAILER-DAEMON@mx.example (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
Content-Type: multipart/report; report-type=delivery-status; boundary=d

--d
Content-Type: text/plain

Your message could not be delivered.
--d
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example

Final-Recipient: rfc822; Missing@Example.NET
Action: {action}
Status: {status}
Diagnostic-Code: smtp; 550 {status} User unknown
 (in reply to RCPT TO)
--d
Content-Type: text/rfc822-headers

From: us@hub.example
Message-ID: <sent-1@hub.example>
Subject: Your ticket
--d--
""".encode()


def test_permanent_bounce() -> None:
    parsed = parse_mail(dsn("failed", "5.1.1"))
    assert parsed.bounce is not None
    assert parsed.bounce.permanent
    assert parsed.bounce.status == "5.1.1"
    assert parsed.bounce.recipient == "missing@example.net"
    assert parsed.bounce.original_message_id == "sent-1@hub.example"
    assert parsed.bounce.diagnostic == "550 5.1.1 User unknown (in reply to RCPT TO)"
    assert not parsed.out_of_office  # Auto-Submitted: auto-replied, but a bounce is no absence note
    assert parsed.suppresses_auto_reply
    assert [f.filename for f in parsed.attachments] == ["delivery-status.txt", "file"]


def test_transient_bounce() -> None:
    parsed = parse_mail(dsn("delayed", "4.4.1"))
    assert parsed.bounce is not None and not parsed.bounce.permanent


# --- automatic mail -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ("Auto-Submitted: auto-generated", "auto-submitted"),
        ("Auto-Submitted: no", None),
        ("Precedence: bulk", "precedence"),
        ("Precedence: junk", "precedence"),
        ("X-Loop: support@hub.example", "x-loop"),
        ("List-Id: <users.lists.example>", "list"),
        ("List-Unsubscribe: <mailto:leave@lists.example>", "list"),
        ("X-Auto-Response-Suppress: DR, OOF", "suppress"),
        ("X-Auto-Response-Suppress: DR", None),
        ("", None),
    ],
)
def test_loop_protection(headers: str, reason: str | None) -> None:
    parsed = parse_mail(mail(f"From: a@x.example\n{headers}"))
    assert parsed.auto == reason
    if headers:
        name = headers.split(":")[0]
        assert parsed.headers.get(name) == headers.split(": ", 1)[1]


@pytest.mark.parametrize(
    ("headers", "oof"),
    [
        ("Auto-Submitted: auto-replied\nSubject: Re: Ihre Anfrage", True),
        ("X-Autoreply: yes\nSubject: Re: hi", True),
        ("Subject: Out of Office: Re: hi", True),
        ("Subject: Abwesenheitsnotiz: Ihre Anfrage", True),
        ("Subject: Automatische Antwort: Ihre Anfrage", True),
        ("Subject: AW: Auto: Ihre Anfrage", True),
        ("Subject: Auto repair quote", False),
        ("Subject: Re: I was out of office", False),
    ],
)
def test_out_of_office(headers: str, oof: bool) -> None:
    assert parse_mail(mail(f"From: a@x.example\n{headers}")).out_of_office is oof


# --- robustness ---------------------------------------------------------------------------


def test_empty_input_is_rejected() -> None:
    with pytest.raises(PayloadRejected, match="empty message"):
        parse_mail(b"")


@pytest.mark.parametrize(
    "raw",
    [
        bytes(range(256)) * 20,
        b"\x00\xff\xfe garbage: \x80\n\n\x81",
        b"Content-Type: multipart/mixed; boundary=x\n\n"
        + b"--x\nContent-Type: multipart/mixed; boundary=x\n\n" * 300,
        b"From: =?utf-8?b?\xff?= <\n\nContent-Type: text/html\n\n<<<>>>",
        b'Content-Type: text/plain; charset="=?"\nContent-Transfer-Encoding: base64\n\n!!!',
        b"Content-Type: message/rfc822\n\n",
    ],
)
def test_garbage_gives_a_parsed_mail(raw: bytes) -> None:
    parsed = parse_mail(raw)
    assert isinstance(parsed.full_text, str)


def test_broken_header_block_is_repaired() -> None:
    raw = (
        b"---- Original email message ----\nFrom: a@x.example\nX-Long: abc\ndef-without-indent\n"
        b'Subject: still a header\nContent-Type: multipart/alternative;\nboundary="b"\n\n'
        b"--b\nContent-Type: text/plain\n\nsome text\n--b--\n"
    )
    parsed = parse_mail(raw)
    assert parsed.sender is not None and parsed.sender.email == "a@x.example"
    assert parsed.subject == "still a header"
    assert parsed.full_text == "some text"


# --- quoted history -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "visible"),
    [
        ("Danke!\n\nAm 12.03.2020 um 10:00 schrieb Max <max@x.example>:\n> alt", "Danke!"),
        ("Merci\n\nLe 12 mars 2020 à 10:00, Max <max@x.example> a écrit :\n> vieux", "Merci"),
        ("Gracias\n\nEl 12/03/2020 a las 10:00, Max escribió:\n> viejo", "Gracias"),
        ("Dank\n\nOp 12 mrt. 2020 om 10:00 schreef Max <max@x.example>:\n> oud", "Dank"),
        (
            "Passt.\n\n-----Ursprüngliche Nachricht-----\nVon: Max <max@x.example>\n"
            "Gesendet: Montag, 1. März 2021 10:00\nAn: support@x.example\nBetreff: Frage\n\nalter Text",
            "Passt.",
        ),
        (
            "Gerne\n________________________________\nVon: Max <max@x.example>\nGesendet: Montag\n"
            "An: support@x.example\nBetreff: Frage\n\nalter Text",
            "Gerne",
        ),
        ("Hello\n\n-- \nMax Mustermann\nACME GmbH", "Hello"),
        ("Only a forward:\n> quoted", "Only a forward:"),
        ("> all\n> quoted", "> all\n> quoted"),  # nothing of the author's own: the whole text
    ],
)
def test_visible_text(text: str, visible: str) -> None:
    assert visible_text(text) == visible


def test_visible_html_text_drops_blockquotes() -> None:
    html = (
        '<div>Thanks</div><div class="gmail_quote">On Mon, Apr 2, 2012 at 6:26 PM, A &lt;a@x.example&gt; '
        "wrote:<br><blockquote>old text</blockquote></div>"
    )
    assert visible_html_text(html) == "Thanks"


# --- attachments are the bytes the sender attached ------------------------------------------


def test_every_attachment_of_a_mix_keeps_its_checksum() -> None:
    """Text files kept their CRLF line ends only when base64-encoded: 38 of 286 were
    stored with LF (issue 32)."""
    raw, sums = attachment_mix()
    parsed = parse_mail(raw)
    assert {f.filename: hashlib.sha256(f.data).hexdigest() for f in parsed.attachments} == sums
    assert parsed.text == "Anbei die Unterlagen."


# --- a forward: the forwarded message is the content ----------------------------------------

FORWARDED = "Der Zähler im Keller zeigt seit Montag nichts mehr an.\nBitte um Rückruf.\n\nMax Mustermann"

GMAIL = (
    "FYI, siehe unten.\n\n---------- Forwarded message ---------\n"
    "From: Max Mustermann <max@firma.example>\nDate: Mon, 1 Dec 2025 at 10:00\n"
    "Subject: Defekter Zähler\nTo: <kunde@firma.example>\n\n\n" + FORWARDED + "\n"
)
GMAIL_DE = (
    "Bitte kümmern Sie sich darum.\n\n---------- Weitergeleitete Nachricht ---------\n"
    "Von: Max Mustermann <max@firma.example>\nDate: Mo., 1. Dez. 2025 um 10:00 Uhr\n"
    "Subject: Defekter Zähler\nTo: <kunde@firma.example>\n\n\n" + FORWARDED + "\n"
)
THUNDERBIRD = (
    "Zur Info\n\n-------- Forwarded Message --------\nSubject: \tDefekter Zähler\n"
    "Date: \tMon, 1 Dec 2025 10:00:00 +0100\nFrom: \tMax Mustermann <max@firma.example>\n"
    "To: \tkunde@firma.example\n\n\n\n" + FORWARDED + "\n"
)
THUNDERBIRD_DE = (
    "\n\n\n-------- Weitergeleitete Nachricht --------\nBetreff: \tDefekter Zähler\n"
    "Datum: \tMon, 1 Dec 2025 10:00:00 +0100\nVon: \tMax Mustermann <max@firma.example>\n"
    "An: \tkunde@firma.example\n\n\n\n" + FORWARDED + "\n"
)
OUTLOOK = (
    "Hallo Service,\n\nanbei die Meldung meines Mieters.\n\nGruß\nKarla\n\n"
    "________________________________\nVon: Max Mustermann <max@firma.example>\n"
    "Gesendet: Montag, 1. Dezember 2025 10:00\nAn: Karla Kunde <kunde@firma.example>\n"
    "Betreff: Defekter Zähler\n\n" + FORWARDED + "\n"
)
OUTLOOK_CLASSIC = (
    "See below.\n\n-----Original Message-----\nFrom: Max Mustermann <max@firma.example>\n"
    "Sent: Monday, December 1, 2025 10:00 AM\nTo: Karla Kunde <kunde@firma.example>\n"
    "Subject: Defekter Zähler\n\n" + FORWARDED + "\n"
)
APPLE = (
    "Siehe unten\n\nAnfang der weitergeleiteten Nachricht:\n\n"
    "> Von: Max Mustermann <max@firma.example>\n> Betreff: Defekter Zähler\n"
    "> Datum: 1. Dezember 2025 um 10:00:00 MEZ\n> An: kunde@firma.example\n> \n"
    + "".join(f"> {line}\n" for line in FORWARDED.split("\n"))
)


@pytest.mark.parametrize(
    ("subject", "body", "note"),
    [
        ("Fwd: Defekter Zähler", GMAIL, "FYI, siehe unten."),
        ("Fwd: Defekter Zähler", GMAIL_DE, "Bitte kümmern Sie sich darum."),
        ("Fwd: Defekter Zähler", THUNDERBIRD, "Zur Info"),
        ("WG: Defekter Zähler", THUNDERBIRD_DE, ""),
        (
            "WG: Defekter Zähler",
            OUTLOOK,
            "Hallo Service,\n\nanbei die Meldung meines Mieters.\n\nGruß\nKarla",
        ),
        ("FW: Defekter Zähler", OUTLOOK_CLASSIC, "See below."),
        ("WG: Defekter Zähler", APPLE, "Siehe unten"),
    ],
    ids=["gmail", "gmail-de", "thunderbird", "thunderbird-de", "outlook-de", "outlook-classic", "apple-de"],
)
def test_a_forward_shows_the_forwarded_message(subject: str, body: str, note: str) -> None:
    """In 39 forwards only the note was visible; the message behind "Show quoted text"."""
    parsed = parse_mail(mail(f"From: kunde@firma.example\nSubject: {subject}", body))
    assert parsed.text.startswith(note)
    assert FORWARDED in parsed.text
    assert "Max Mustermann <max@firma.example>" in parsed.text, "who wrote it, too"


def test_a_forward_in_html_shows_the_forwarded_message() -> None:
    html = (
        '<div dir="ltr">FYI<br><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
        "---------- Forwarded message ---------<br>From: <strong>Max Mustermann</strong> "
        "&lt;max@firma.example&gt;<br>Date: Mon, 1 Dec 2025 at 10:00<br>Subject: Defekter Zähler<br>"
        "To: &lt;kunde@firma.example&gt;<br></div><br><br>"
        "<div>Der Zähler zeigt nichts mehr an.</div></div></div>"
    )
    headers = (
        "From: kunde@firma.example\nSubject: Fwd: Defekter Zähler\nContent-Type: text/html; charset=utf-8"
    )
    parsed = parse_mail(mail(headers, html))
    assert parsed.text.startswith("FYI")
    assert "Der Zähler zeigt nichts mehr an." in parsed.text


def test_apple_mail_html_forward_is_uncited() -> None:
    html = (
        '<div>Siehe unten</div><div><br><blockquote type="cite"><div>Anfang der weitergeleiteten '
        "Nachricht:</div><br><div><b>Von: </b>Max &lt;max@firma.example&gt;</div>"
        "<div><b>Betreff: </b>Defekter Zähler</div><br><div>Der Zähler zeigt nichts.</div></blockquote></div>"
    )
    parsed = parse_mail(mail("From: k@firma.example\nSubject: WG: Zähler\nContent-Type: text/html", html))
    assert "Der Zähler zeigt nichts." in parsed.text


def test_a_forward_as_attachment_shows_the_embedded_message() -> None:
    inner = (
        "From: Max Mustermann <max@firma.example>\nTo: kunde@firma.example\n"
        "Subject: Defekter =?utf-8?q?Z=C3=A4hler?=\nDate: Mon, 01 Dec 2025 10:00:00 +0100\n"
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" + FORWARDED + "\n"
    )
    body = (
        "--B\nContent-Type: text/plain; charset=utf-8\n\nSiehe Anhang.\n"
        "--B\nContent-Type: message/rfc822\nContent-Disposition: attachment\n\n" + inner + "--B--\n"
    )
    headers = "From: kunde@firma.example\nSubject: Fwd: Defekter Zähler\n"
    headers += 'Content-Type: multipart/mixed; boundary="B"'
    parsed = parse_mail(mail(headers, body))
    assert parsed.text.startswith("Siehe Anhang.")
    assert FORWARDED in parsed.text
    assert "From: Max Mustermann <max@firma.example>" in parsed.text
    assert "Subject: Defekter Zähler" in parsed.text
    assert [f.filename for f in parsed.attachments] == ["Defekter Zähler.eml"], "the file stays"


def test_a_reply_is_no_forward() -> None:
    """The same Outlook block under a reply's subject still hides the history."""
    parsed = parse_mail(mail("From: kunde@firma.example\nSubject: AW: Defekter Zähler", OUTLOOK))
    assert FORWARDED not in parsed.text
    assert parsed.text.endswith("Karla")


def _inline_text_file_mail(body_part: str) -> bytes:
    return mail(
        "From: a@example.com\nSubject: Notiz\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="b"\n',
        "--b\n"
        + body_part
        + "--b\nContent-Type: text/plain; charset=utf-8\nContent-Disposition: inline; filename=notiz.txt\n\n"
        "Zählerstand 4711, bitte übernehmen.\n--b--\n",
    )


def test_an_inline_text_file_is_the_body_when_there_is_no_other() -> None:
    """Mail clients show the first inline text/plain part with a file name as the body;
    it stays a file too."""
    parsed = parse_mail(_inline_text_file_mail(""))
    assert parsed.text.strip() == "Zählerstand 4711, bitte übernehmen."
    assert [f.filename for f in parsed.attachments] == ["notiz.txt"]
    # with a body of its own, the body stays what it is
    parsed = parse_mail(_inline_text_file_mail("Content-Type: text/plain\n\nSiehe Anhang.\n"))
    assert parsed.text.strip() == "Siehe Anhang."
    assert [f.filename for f in parsed.attachments] == ["notiz.txt"]


def test_a_mail_whose_body_is_a_forwarded_message_shows_its_sender_subject_and_text() -> None:
    inner = (
        "From: Max Mustermann <max@firma.example>\nSubject: Defekt\n"
        "Content-Type: text/plain; charset=utf-8\n\nDer Zähler zeigt nichts.\n"
    )
    parsed = parse_mail(
        mail("From: k@firma.example\nSubject: Fwd: Defekt\nContent-Type: message/rfc822", inner)
    )
    assert "From: Max Mustermann <max@firma.example>" in parsed.text
    assert "Subject: Defekt" in parsed.text and parsed.text.endswith("Der Zähler zeigt nichts.")
    assert [f.filename for f in parsed.attachments] == ["Defekt.eml"]


def test_a_reply_that_quotes_a_forward_shows_only_the_reply() -> None:
    """The forward's marker inside the quoted history is history, not a forward."""
    body = (
        "Danke, das passt so.\n\nAm 01.12.2025 um 10:00 schrieb Lager <lager@firma.example>:\n"
        "> ---------- Forwarded message ---------\n> From: Lager <lager@firma.example>\n"
        "> Subject: Bestand\n>\n> Alles da.\n"
    )
    parsed = parse_mail(mail("From: k@firma.example\nSubject: Re: Bestand", body))
    assert parsed.text.strip() == "Danke, das passt so."
