"""Hostile input to every pure parser: arbitrary bytes or text in, and the parser either
returns its record or raises its documented refusal (PayloadRejected or another
InputError, Ignored for an event the hub does not need, FrameRejected, ConfigError);
never anything else, which would be a 500 or a dead connector loop.

Derandomized (the same examples each run) and bounded, so the suite stays stable and fast.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base import FilePart, ReceivedFax
from connectors.cti.payloads import parse_cti
from connectors.email.charsets import decode_bytes, decode_words, split_address_list
from connectors.email.fax_gateway import gateway_fax
from connectors.email.headers import find_ids, parse_addresses, parse_date
from connectors.email.payloads import ParsedMail, parse_mail
from connectors.email.settings import FaxGatewayMailbox
from connectors.fax.generic import parse_generic
from connectors.fax.payloads import fax_address, fax_subject
from connectors.fax.phaxio import parse_phaxio
from connectors.fax.provider import StatusReport
from connectors.fax.sinch import parse_sinch
from connectors.lib.twilio.messaging import media_of
from connectors.sms_twilio.payloads import parse_sms
from connectors.whatsapp_twilio.payloads import parse_whatsapp
from hub.automation.rules import Automations, parse_automations
from hub.csat.config import DEFAULT_CSAT, CsatSettings, parse_csat
from hub.customers.health import DEFAULT_HEALTH, HealthRules, parse_health_rules
from hub.errors import ConfigError, Ignored, InputError, PayloadRejected
from hub.model import InboundMessage
from hub.outreach.policy import CONDITIONS, DEFAULT_POLICY, Policy, parse_policy
from hub.routing.rules import RuleSet, parse_rules
from hub.widget.frames import FrameRejected, parse_frame

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ints = st.integers(min_value=-(2**63), max_value=2**64 - 1)  # what JSON (orjson) carries
HOSTILE = settings(
    max_examples=250,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
FEW = settings(HOSTILE, max_examples=80)  # the slower parsers (a MIME tree, YAML)

# text as it arrives from outside: any code point, with the characters parsers trip on
# (NUL, surrogates are impossible in str from the wire but lone high planes are not)
text = st.text(st.characters(codec="utf-8"), max_size=200) | st.sampled_from(
    ["", " ", "\x00", "²", "٣", "1e400", "nan", "-0", "+", "9" * 40, "\u202e", "a\r\nb", "=?utf-8?B?"]
)
# a form as a webhook sends it: known field names (so the parser gets past the first
# check) and arbitrary values, plus arbitrary extra names
WHATSAPP_FIELDS = ["MessageSid", "From", "To", "Body", "ProfileName", "ButtonText", "ButtonPayload"]
WHATSAPP_FIELDS += ["Latitude", "Longitude", "Label", "Address", "NumMedia"]
SMS_FIELDS = ["MessageSid", "SmsSid", "From", "To", "Body", "NumMedia", "MessagingServiceSid"]
SMS_FIELDS += [f"MediaUrl{i}" for i in range(3)] + [f"MediaContentType{i}" for i in range(3)]
CTI_FIELDS = ["event", "from", "to", "direction", "callId", "cause", "answeringNumber"]


def form(names: list[str], values: st.SearchStrategy[str] = text) -> st.SearchStrategy[dict[str, str]]:
    known = st.dictionaries(st.sampled_from(names), values, max_size=len(names))
    return st.tuples(known, st.dictionaries(text, text, max_size=3)).map(lambda kv: {**kv[1], **kv[0]})


def mime_bytes() -> st.SearchStrategy[bytes]:
    """Raw messages: arbitrary bytes, and messages built from hostile header and body parts
    (so the parser gets past the header block into the MIME tree)."""
    header = st.sampled_from(
        [
            b"From",
            b"To",
            b"Subject",
            b"Message-ID",
            b"In-Reply-To",
            b"References",
            b"Date",
            b"Content-Type",
            b"Content-Transfer-Encoding",
            b"Content-Disposition",
            b"Auto-Submitted",
            b"X-Weird",
        ]
    )
    value = st.binary(max_size=80) | st.sampled_from(
        [
            b"multipart/mixed; boundary=b",
            b'multipart/report; report-type=delivery-status; boundary="b"',
            b"text/plain; charset=x-unknown",
            b"text/html; charset=utf-7",
            b"base64",
            b"quoted-printable",
            b"x-uuencode",
            b"=?utf-8?B?w6Q=?= <a@b>",
            b"<a@b> <c@d>",
            b"Mon, 99 Foo 2026 25:61:00 +9999",
            b"attachment; filename*=utf-8''%FF%FE\"",
        ]
    )
    headers = st.lists(st.tuples(header, value), max_size=8).map(
        lambda pairs: b"".join(name + b": " + val + b"\r\n" for name, val in pairs)
    )
    body = st.binary(max_size=300) | st.sampled_from(
        [
            b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n",
            b"--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: x\r\n\r\n--b--",
            b"--b\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: \xff\r\n--b--",
            b"begin 644 f\r\n" + b"M" * 70 + b"\r\nend\r\n",
            b"--b\r\n" * 50,
        ]
    )
    built = st.tuples(headers, body).map(lambda hb: hb[0] + b"\r\n" + hb[1])
    return st.binary(max_size=400) | built


@HOSTILE
@given(raw=mime_bytes())
def test_parse_mail_returns_a_mail_or_rejects_the_payload(raw: bytes) -> None:
    try:
        parsed = parse_mail(raw)
    except PayloadRejected:
        assert not raw
        return
    assert isinstance(parsed, ParsedMail)


@FEW
@given(raw=mime_bytes(), sender=st.sampled_from([b"fax@gateway.example", b"\xff@x"]))
def test_a_fax_gateways_mail_is_a_fax_or_not_one(raw: bytes, sender: bytes) -> None:
    """The email-to-fax gateway reads any parsed mail: a fax, or None (it stays mail)."""
    raw = b"From: " + sender + b"\r\nSubject: Fax von +49 30 1234567\r\n" + raw
    fax = gateway_fax(parse_mail(raw), raw, FaxGatewayMailbox(sender="fax@gateway.example"))
    assert fax is None or isinstance(fax, ReceivedFax)


@HOSTILE
@given(value=text, label=st.none() | text)
def test_email_header_readers_take_any_text(value: str, label: str | None) -> None:
    """The header helpers never raise: a broken header is read as well as it can be."""
    parse_addresses(value)
    parse_date(value)
    find_ids(value)
    find_ids(value, bare=True)
    decode_words(value)
    split_address_list(value)
    assert isinstance(decode_bytes(value.encode("utf-8", "surrogatepass"), label), str)


@HOSTILE
@given(fields=form(SMS_FIELDS), region=st.sampled_from(["DE", "US", "ZZ"]))
def test_parse_sms_returns_a_message_or_an_input_error(fields: dict[str, str], region: str) -> None:
    try:
        message = parse_sms(fields, received_at=NOW, region=region)
    except InputError:
        pass
    else:
        assert isinstance(message, InboundMessage)
    try:
        media = media_of(fields)
    except InputError:
        return
    for url, content_type in media:
        assert isinstance(url, str) and isinstance(content_type, str)


@HOSTILE
@given(
    fields=form(WHATSAPP_FIELDS)
    | form(WHATSAPP_FIELDS, st.sampled_from(["whatsapp:+4917612345678", "whatsapp:", "+49176", "1"])),
    region=st.sampled_from(["DE", "US", "ZZ"]),
)
def test_parse_whatsapp_returns_a_message_or_an_input_error(fields: dict[str, str], region: str) -> None:
    try:
        message = parse_whatsapp(fields, received_at=NOW, region=region)
    except InputError:
        return
    assert isinstance(message, InboundMessage) and message.sender.value.startswith("+")


@HOSTILE
@given(
    fields=form(CTI_FIELDS) | form(CTI_FIELDS, st.sampled_from(["newCall", "answer", "hangup", "in", "out"])),
    users=st.lists(text, max_size=3),
)
def test_parse_cti_returns_a_message_or_an_input_error(fields: dict[str, str], users: list[str]) -> None:
    try:
        message = parse_cti(fields, users, received_at=NOW, region="DE")
    except InputError:
        return
    assert isinstance(message, InboundMessage)


def _fax_object() -> st.SearchStrategy[str]:
    """The ``fax`` field: arbitrary text, or JSON objects with arbitrary values."""
    json_value = st.recursive(
        st.none() | st.booleans() | ints | st.floats(allow_nan=False) | text,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
        max_leaves=8,
    )
    keys = st.sampled_from(
        ["id", "direction", "status", "from_number", "to_number", "num_pages", "recipients", "from", "to"]
    )
    obj = st.dictionaries(keys, json_value, max_size=6).map(lambda d: orjson.dumps(d).decode())
    return text | obj


files = st.lists(
    st.builds(FilePart, st.sampled_from(["file", "other"]), text, text, st.binary(max_size=40)), max_size=2
)
fax_form = st.fixed_dictionaries(
    {},
    optional={
        "fax": _fax_object(),
        "direction": st.sampled_from(["received", "sent", ""]) | text,
        "success": st.sampled_from(["true", "false"]) | text,
        "event": st.sampled_from(["INCOMING_FAX", "FAX_COMPLETED"]) | text,
    },
)
query = st.fixed_dictionaries({}, optional={"id": text})
FAX_OUTCOMES = (InputError, Ignored)  # PayloadRejected is an InputError; Ignored answers 200


@HOSTILE
@given(fields=fax_form, files=files, query=query)
def test_parse_phaxio_returns_an_event_or_refuses(
    fields: dict[str, str], files: list[FilePart], query
) -> None:
    try:
        event = parse_phaxio(fields, files, query)
    except FAX_OUTCOMES:
        return
    assert isinstance(event, ReceivedFax | StatusReport)


@HOSTILE
@given(
    fields=fax_form,
    files=files,
    body=st.binary(max_size=200) | _fax_object().map(lambda s: s.encode("utf-8", "surrogatepass")),
    content_type=st.sampled_from(["application/json", "multipart/form-data", ""]),
    query=query,
)
def test_parse_sinch_returns_an_event_or_refuses(
    fields, files, body: bytes, content_type: str, query
) -> None:
    try:
        event = parse_sinch(fields, files, body, content_type, query)
    except FAX_OUTCOMES:
        return
    assert isinstance(event, ReceivedFax | StatusReport)


def _generic_body() -> st.SearchStrategy[bytes]:
    scalar = st.none() | st.booleans() | ints | text
    doc = st.fixed_dictionaries(
        {},
        optional={
            "event": st.sampled_from(["fax.received", "fax.status"]) | scalar,
            "id": scalar,
            "from": scalar,
            "to": scalar,
            "pages": scalar,
            "station_id": scalar,
            "status": st.sampled_from(["delivered", "failed", "sent"]) | scalar,
            "reply_id": scalar,
            "code": scalar,
            "file": scalar
            | st.fixed_dictionaries(
                {}, optional={"filename": scalar, "content_type": scalar, "data": scalar | st.just("aGk=")}
            ),
        },
    )
    return st.binary(max_size=200) | doc.map(orjson.dumps)


@HOSTILE
@given(body=_generic_body(), content_type=st.sampled_from(["application/json", "text/plain", ""]))
def test_parse_generic_returns_an_event_or_refuses(body: bytes, content_type: str) -> None:
    try:
        event = parse_generic(body, content_type)
    except FAX_OUTCOMES:
        return
    assert isinstance(event, ReceivedFax | StatusReport)


@HOSTILE
@given(raw=st.none() | text, region=st.sampled_from(["DE", "US", "ZZ"]))
def test_fax_numbers_and_subjects_take_any_text(raw: str | None, region: str) -> None:
    assert fax_address(raw, region).value
    subject = fax_subject(raw or "")
    assert subject is None or isinstance(subject, str)


def _frames() -> st.SearchStrategy[str]:
    scalar = st.none() | st.booleans() | ints | st.floats(allow_nan=False) | text
    value = st.recursive(
        scalar,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
        max_leaves=6,
    )
    frame = st.fixed_dictionaries(
        {
            "type": st.sampled_from(["hello", "start", "message", "leave_message", "typing", "read", "csat"])
            | text
        },
        optional={
            name: value
            for name in (
                "id",
                "token",
                "site",
                "text",
                "email",
                "phone",
                "name",
                "attachments",
                "page",
                "identifier",
                "identifier_hash",
                "last_seq",
                "seq",
                "typing",
                "survey",
                "score",
                "comment",
            )
        },
    )
    return text | frame.map(lambda d: orjson.dumps(d).decode()) | st.just("x" * 70_000)


@HOSTILE
@given(raw=_frames())
def test_parse_frame_returns_a_frame_or_rejects_it(raw: str) -> None:
    try:
        frame = parse_frame(raw)
    except FrameRejected as exc:
        assert exc.code in ("bad_frame", "too_long")
        return
    assert frame is not None


VALID_RULES: dict[str, Any] = {
    "queues": {
        "vip": {
            "hours": {"timezone": "Europe/Berlin", "country": "DE", "open": {"mon-fri": "08:00-18:00"}},
            "reservation_timeout": 15,
            "auto_accept": False,
        },
        "service": {"hours": "always"},
    },
    "sla": {"gold": {"default": 600, "sms": {"first_response": 300, "next_response": 900}}},
    "agents": {"default_capacity": {"sms": 3}},
    "prefer_last_agent": True,
    "max_missed_offers": 3,
    "rules": [
        {
            "name": "gold sms",
            "when": 'customer.tier == "gold" and channel == "sms"',
            "targets": [{"queue": "vip", "agents": '"de" in languages', "priority": 10, "timeout": 60}],
            "actions": {},
        },
        {"name": "everyone", "targets": [{"queue": "service"}]},
    ],
}


def _mutated(base: Any) -> st.SearchStrategy[str]:
    """A valid document with one value anywhere replaced by an arbitrary one, so the
    validator's inner checks run, not only its first."""
    scalar = st.none() | st.booleans() | st.integers() | st.floats() | text
    value = st.recursive(
        scalar,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
        max_leaves=6,
    )

    def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        found = [prefix]
        if isinstance(node, dict):
            for key, child in node.items():
                found += paths(child, (*prefix, key))
        elif isinstance(node, list):
            for i, child in enumerate(node):
                found += paths(child, (*prefix, i))
        return found

    def replace(path: tuple[Any, ...], new: Any) -> str:
        doc: Any = orjson.loads(orjson.dumps(base))
        if not path:
            return yaml.safe_dump(new)
        node = doc
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = new
        return yaml.safe_dump(doc, allow_unicode=True)

    return st.tuples(st.sampled_from(paths(base)), value).map(lambda pv: replace(*pv))


def test_the_unmutated_rules_file_is_valid() -> None:
    """The mutation test's base case: without a mutation the file parses."""
    assert isinstance(parse_rules(yaml.safe_dump(VALID_RULES), {"gold": 1}), RuleSet)


@FEW
@given(source=text | _mutated(VALID_RULES))
def test_parse_rules_returns_rules_or_a_config_error(source: str) -> None:
    try:
        rules = parse_rules(source, {"gold": 1, "standard": 2})
    except ConfigError:
        return
    assert isinstance(rules, RuleSet)


@FEW
@given(source=text | _mutated(yaml.safe_load(DEFAULT_HEALTH)))
def test_parse_health_rules_returns_rules_or_a_config_error(source: str) -> None:
    """The health rules an admin saves: the weights or a refusal naming the path."""
    try:
        rules = parse_health_rules(source, "test")
    except ConfigError as refused:
        assert refused.field, refused
        return
    assert isinstance(rules, HealthRules) and rules.at_risk <= rules.watch


AUTOMATIONS = {
    "automations": [
        {
            "name": "invoices",
            "trigger": "message_received",
            "channel": "email",
            "when": 'message.text =~~ "(?i)rechnung" and customer.tier != "gold"',
            "actions": [
                {"tag": "billing"},
                {"notify": {"to": "kam", "text": "Rechnung"}},
                {"snooze": {"hours": 2}},
            ],
        },
        {"name": "chase", "trigger": "waiting_on_us", "minutes": 30, "actions": [{"set_priority": "high"}]},
        {"name": "morning", "trigger": "schedule", "at": "08:30", "actions": [{"close": True}]},
    ]
}


@FEW
@given(source=text | _mutated(AUTOMATIONS))
def test_parse_automations_returns_automations_or_a_refusal_with_a_path(source: str) -> None:
    """The automations an admin saves: each any value anywhere replaced, or any text."""
    try:
        found = parse_automations(source, "test")
    except ConfigError as refused:
        assert refused.field, refused
        return
    assert isinstance(found, Automations)


@FEW
@given(source=text | _mutated(yaml.safe_load(DEFAULT_CSAT)))
def test_parse_csat_returns_settings_or_a_refusal_with_a_path(source: str) -> None:
    try:
        found = parse_csat(source)
    except ConfigError as refused:
        assert refused.field, refused
        return
    assert isinstance(found, CsatSettings) and found.texts


@FEW
@given(source=text | _mutated(yaml.safe_load(DEFAULT_POLICY)))
def test_parse_policy_returns_a_policy_or_a_refusal_with_a_path(source: str) -> None:
    """The contact policy an admin saves: any value anywhere replaced, or any text."""
    try:
        found = parse_policy(source)
    except ConfigError as refused:
        assert refused.field, refused
        return
    assert isinstance(found, Policy) and all(r.kind in CONDITIONS for r in found.rules)
