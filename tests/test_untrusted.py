"""Property tests of the hostile-input helpers (STYLE §12): arbitrary text or bytes in,
and each either returns its value or raises its one 4xx error; nothing else escapes."""

from __future__ import annotations

import base64
import math
import tempfile
from datetime import UTC, datetime
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from multidict import MultiDict, MultiDictProxy

from connectors.cti.payloads import form_fields, json_fields
from connectors.fax.provider import page_count
from connectors.lib.twilio.media import media_host_allowed
from hub.customers.importer import _money
from hub.customers.timeline import decode_cursor, encode_cursor
from hub.errors import InputError, PayloadRejected
from hub.model import AddressKind
from hub.request_body import Form, FormFile
from hub.text.addresses import MAX_LENGTH, normalise_address, phone_address, unprintable
from hub.untrusted import INT64_MAX, finite_number, nul_at, secrets_equal, strict_int, strict_text
from hub.web.auth import forwarded_https
from hub.web.console import static_path

SETTINGS = settings(max_examples=150, deadline=None)
# text as aiohttp hands it over: headers decoded with surrogateescape, so lone surrogates too
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=80)
DIGITS = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, categories=["Nd", "No"]), max_size=25)


# --- secrets_equal -------------------------------------------------------------------------


@SETTINGS
@given(
    given_=st.one_of(st.none(), ANY_TEXT, st.binary(max_size=64)), expected=st.one_of(ANY_TEXT, st.binary())
)
@example(given_="é\udcff", expected="abc")  # a non-ASCII header against an ASCII signature
def test_secrets_equal_compares_bytes_and_never_raises(
    given_: str | bytes | None, expected: str | bytes
) -> None:
    def raw(v: str | bytes) -> bytes:
        return v if isinstance(v, bytes) else v.encode("utf-8", "surrogatepass")

    got = secrets_equal(given_, expected)
    assert got is (bool(given_) and raw(given_) == raw(expected))  # type: ignore[arg-type]


@SETTINGS
@given(ANY_TEXT.filter(bool))
def test_secrets_equal_accepts_the_secret_itself(secret: str) -> None:
    assert secrets_equal(secret, secret)
    assert secrets_equal(secret.encode("utf-8", "surrogatepass"), secret)


# --- strict_int ----------------------------------------------------------------------------


@SETTINGS
@given(
    raw=st.one_of(ANY_TEXT, DIGITS, st.integers().map(str)),
    low=st.integers(0, 10),
    high=st.integers(10, INT64_MAX),
)
@example(raw="²", low=0, high=10)
@example(raw="9" * 30, low=0, high=INT64_MAX)
@example(raw=" 7", low=0, high=10)
@example(raw="+7", low=0, high=10)
@example(raw="٣", low=0, high=10)  # an Arabic-Indic three: isdigit(), and int() even takes it
def test_strict_int_takes_ascii_digits_in_range_or_names_the_field(raw: str, low: int, high: int) -> None:
    try:
        value = strict_int(raw, "limit", low=low, high=high)
    except PayloadRejected as exc:
        assert exc.status == 400 and exc.field == "limit" and "limit" in exc.detail
        assert not (raw.isascii() and raw.isdigit() and low <= int(raw) <= high)
    else:
        assert raw.isascii() and raw.isdigit() and low <= value <= high and value == int(raw)


@SETTINGS
@given(st.integers(0, INT64_MAX))
def test_strict_int_reads_every_int64(n: int) -> None:
    assert strict_int(str(n), "id") == n


# --- strict_text ---------------------------------------------------------------------------

CHARSETS = st.one_of(
    st.sampled_from(
        ["utf-8", "latin-1", "utf-16", "bogus", "rot13", "zlib", "idna", "unicode_escape", "", "ascii"]
    ),
    ANY_TEXT,
)


@SETTINGS
@given(data=st.binary(max_size=200), charset=st.one_of(st.none(), CHARSETS))
@example(data=b"\\ud800", charset="unicode_escape")  # decodes to a lone surrogate
@example(data=b"\xff\xfe", charset="utf-8")
def test_strict_text_returns_utf8_text_or_a_400(data: bytes, charset: str | None) -> None:
    try:
        text = strict_text(data, charset, "Body")
    except PayloadRejected as exc:
        assert exc.status == 400 and exc.field == "Body"
    else:
        text.encode("utf-8")  # storable, signable: no lone surrogate


@SETTINGS
@given(st.text())
def test_strict_text_round_trips_utf8(text: str) -> None:
    assert strict_text(text.encode("utf-8", "surrogatepass"), "utf-8", "f") == text or any(
        0xD800 <= ord(c) <= 0xDFFF for c in text
    )


# --- finite_number -------------------------------------------------------------------------

NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.sampled_from(["nan", "NaN", "1e400", "-inf", "Infinity", "1,200.50", "lots", "", " 3 "]),
    ANY_TEXT,
    st.none(),
    st.booleans(),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@SETTINGS
@given(NUMBERS)
def test_finite_number_is_finite_or_names_the_field(value: object) -> None:
    try:
        number = finite_number(value, "revenue_12m")
    except InputError as exc:
        assert exc.field == "revenue_12m" and "revenue_12m" in exc.detail
    else:
        assert isinstance(number, float) and math.isfinite(number)


@SETTINGS
@given(st.one_of(NUMBERS, st.dictionaries(st.sampled_from(["amount", "currency", "x"]), NUMBERS)))
def test_money_in_the_import_is_finite_with_a_currency(value: object) -> None:
    try:
        money = _money(value, "revenue.revenue_12m")
    except InputError as exc:
        assert exc.field is not None and exc.field.startswith("revenue.revenue_12m")
    else:
        assert math.isfinite(money["amount"]) and len(money["currency"]) == 3


# --- the form reader's pure halves ---------------------------------------------------------

FORM_VALUES = st.lists(st.tuples(ANY_TEXT, ANY_TEXT), max_size=6)


@SETTINGS
@given(fields=FORM_VALUES, with_file=st.booleans())
def test_cti_form_fields_never_take_a_file(fields: list[tuple[str, str]], with_file: bool) -> None:
    files = (FormFile("from", "x.bin", "application/octet-stream", b"\x00"),) if with_file else ()
    form = Form(MultiDictProxy(MultiDict(fields)), files)
    try:
        got, users = form_fields(form)
    except PayloadRejected as exc:
        assert with_file and exc.field == "from"
    else:
        assert not with_file
        assert all(isinstance(v, str) for v in [*got.values(), *users])


JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@SETTINGS
@given(st.dictionaries(st.sampled_from(["event", "from", "to", "callId", "user", "user[]", "cause"]), JSON))
def test_cti_json_fields_are_text_or_a_400_naming_the_field(body: dict[str, object]) -> None:
    try:
        fields, users = json_fields(body)
    except PayloadRejected as exc:
        assert exc.field in body
    else:
        assert all(isinstance(v, str) for v in [*fields.values(), *users])
        assert not any(v.startswith(("{", "[")) for v in fields.values() if v not in body.values())


@SETTINGS
@given(st.one_of(JSON, DIGITS, st.integers()))
@example("²")
def test_page_count_is_a_plausible_count_or_none(value: object) -> None:
    pages = page_count(value)
    assert pages is None or (isinstance(pages, int) and 0 <= pages <= 100_000)


# --- identities ------------------------------------------------------------------------------


@SETTINGS
@given(kind=st.sampled_from(list(AddressKind)), value=ANY_TEXT)
@example(kind=AddressKind.EMAIL, value="erika\x00@example.com")
@example(kind=AddressKind.EXTERNAL, value="CRM-1\u200b")
def test_an_identity_is_printable_and_bounded_or_refused(kind: AddressKind, value: str) -> None:
    try:
        address = normalise_address(kind, value, default_region="DE", field="from.value")
    except InputError as exc:
        assert exc.field == "from.value"
    else:
        assert address.value and len(address.value) <= MAX_LENGTH and unprintable(address.value) is None


@SETTINGS
@given(ANY_TEXT)
@example("FileField(name='from', filename='x', file=<_io.BufferedRandom name=9>, content_type='a/b')")
def test_a_sender_that_is_no_number_is_short_and_printable_or_refused(value: str) -> None:
    try:
        address = phone_address(value, "DE", "from")
    except InputError as exc:
        assert exc.field == "from"
    else:
        assert unprintable(address.value) is None
        assert address.kind is AddressKind.PHONE or len(address.value) <= len("phone:") + 64


# --- timeline cursors ------------------------------------------------------------------------


@SETTINGS
@given(st.one_of(ANY_TEXT, st.binary(max_size=60).map(lambda b: base64.urlsafe_b64encode(b).decode())))
@example(base64.urlsafe_b64encode(b"2026-01-01T00:00:00+00:00|e|x").decode())  # a bad event id
@example(base64.urlsafe_b64encode(b"2026-01-01T00:00:00+00:00|e|" + b"9" * 30).decode())
@example(base64.urlsafe_b64encode(b"0001-01-01T00:00:00+05:00|m|a").decode())
@example(base64.urlsafe_b64encode("2026-01-01T00:00:00|e|²".encode()).decode())
def test_a_cursor_is_one_we_made_or_a_400(cursor: str) -> None:
    try:
        at, source, item_id = decode_cursor(cursor)
    except PayloadRejected as exc:
        assert exc.status == 400 and exc.field == "before"
    else:
        assert at.tzinfo is not None and source in ("m", "e") and item_id.isprintable()
        if source == "e":
            assert 1 <= int(item_id) <= INT64_MAX


@SETTINGS
@given(
    at=st.datetimes(timezones=st.just(UTC)), source=st.sampled_from(["m", "e"]), n=st.integers(1, INT64_MAX)
)
def test_cursors_we_make_decode(at: datetime, source: str, n: int) -> None:
    assert decode_cursor(encode_cursor(at, source, str(n))) == (at, source, str(n))


# --- static files, media hosts, proxies --------------------------------------------------------

_ROOT = Path(tempfile.mkdtemp(prefix="static-")).resolve()
(_ROOT / "index.html").write_text("<p>hi</p>")
(_ROOT / "app.js").write_text("//")


@SETTINGS
@given(ANY_TEXT.map(lambda t: t * 4))
@example("a\x00b")
@example("x" * 300)
@example("../" * 10 + "etc/passwd")
@example("app.js")
def test_a_static_path_is_a_file_under_its_root_or_none(name: str) -> None:
    path = static_path(_ROOT, name)
    assert path is None or (path.is_file() and _ROOT in path.parents)


def test_static_path_finds_the_files() -> None:
    assert static_path(_ROOT, "app.js") == _ROOT / "app.js"
    assert static_path(_ROOT, "a\x00b") is None and static_path(_ROOT, "n" * 300) is None


HOSTS = ["api.twilio.com", "*.twiliocdn.com"]


@SETTINGS
@given(st.one_of(ANY_TEXT, st.from_regex(r"\Ahttps?://[a-z0-9.\[\]:@-]{0,40}/[ -~]{0,20}\Z")))
@example("https://api.twilio.com.evil.example/x")
@example("https://evil.example/?https://api.twilio.com/")
@example("https://api.twilio.com@evil.example/x")
@example("http://[::1/x")
def test_media_only_from_the_configured_hosts(url: str) -> None:
    allowed = media_host_allowed(url, HOSTS)
    if allowed:
        from urllib.parse import urlsplit

        host = (urlsplit(url).hostname or "").rstrip(".")
        assert host == "api.twilio.com" or host.endswith(".twiliocdn.com")


def test_media_hosts_take_subdomains_only_where_asked() -> None:
    assert media_host_allowed("https://api.twilio.com/2010-04-01/Accounts/AC1/Media/ME1", HOSTS)
    assert media_host_allowed("https://mms.twiliocdn.com/x", HOSTS)
    assert not media_host_allowed("https://twiliocdn.com.evil.example/x", HOSTS)
    assert not media_host_allowed("https://evil.example/x", HOSTS)
    assert not media_host_allowed("file:///etc/passwd", ["*"])
    # the fetch carries the account's credentials: never in clear text off this machine
    assert not media_host_allowed("http://api.twilio.com/2010-04-01/Accounts/AC1/Media/ME1", HOSTS)
    assert media_host_allowed("http://127.0.0.1:8000/media/1", ["127.0.0.1"])


TRUSTED = [ip_network("10.0.0.0/8"), ip_network("127.0.0.1/32")]


@SETTINGS
@given(
    remote=st.one_of(st.none(), ANY_TEXT, st.ip_addresses().map(str)), proto=st.one_of(st.none(), ANY_TEXT)
)
def test_forwarded_https_only_from_a_trusted_proxy(remote: str | None, proto: str | None) -> None:
    if forwarded_https(remote, proto, TRUSTED):
        assert remote in ("127.0.0.1",) or (remote or "").startswith("10.")
        assert (proto or "").split(",")[0].strip().lower() == "https"


@pytest.mark.parametrize(
    ("remote", "proto", "secure"),
    [
        ("10.1.2.3", "https", True),
        ("10.1.2.3", "HTTPS, http", True),
        ("10.1.2.3", "http", False),
        ("192.0.2.7", "https", False),  # anyone may send the header; only a trusted proxy counts
        (None, "https", False),
    ],
)
def test_forwarded_https_cases(remote: str | None, proto: str, secure: bool) -> None:
    assert forwarded_https(remote, proto, TRUSTED) is secure


def test_a_totp_code_is_six_ascii_digits() -> None:
    """pyotp folds '²' to '2' (NFKC): without the ASCII check '²²²²²²' would pass as 222222."""
    import pyotp

    from hub.auth.totp import verify_code

    secret = pyotp.random_base32()
    code = pyotp.TOTP(secret).now()
    assert verify_code(secret, code)
    superscript = code.translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
    assert not verify_code(secret, superscript)


# --- nul_at ------------------------------------------------------------------------------------


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in k or _has_nul(v) for k, v in value.items())
    return isinstance(value, list) and any(_has_nul(v) for v in value)


NUL_JSON = st.recursive(
    st.one_of(st.none(), st.integers(), st.text(st.sampled_from("ab\x00"), max_size=4)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(st.sampled_from("k\x00"), max_size=2), inner, max_size=3),
    ),
    max_leaves=10,
)


@SETTINGS
@given(NUL_JSON)
def test_nul_at_names_where_a_nul_is_or_none(value: object) -> None:
    where = nul_at(value)
    assert (where is not None) is _has_nul(value)


def test_nul_at_walks_any_depth_and_names_the_path() -> None:
    deep: object = "a\x00"
    for _ in range(5000):
        deep = [deep]
    assert nul_at(deep) == ".".join(["0"] * 5000)
    assert nul_at({"identities": [{"kind": "email", "value": "a\x00b"}]}) == "identities.0.value"
    assert nul_at({"ok": "x", "n": [1, 2.5, None, True]}) is None


# --- read_form over real HTTP ---------------------------------------------------------------------


class _FormServer:
    """A tiny aiohttp app that answers what ``read_form`` made of a body, on its own
    thread and loop, so Hypothesis (synchronous) can send it arbitrary bytes."""

    def __init__(self) -> None:
        import asyncio
        import threading

        from aiohttp import web

        from hub.errors import HubError
        from hub.request_body import read_form

        async def echo(request: web.Request) -> web.Response:
            try:
                form = await read_form(request, 4096)
            except HubError as exc:
                return web.Response(status=exc.status, text=exc.detail)
            for value in form.fields.values():
                value.encode("utf-8")  # text a database can store
                assert "\x00" not in value
            return web.Response(text=f"{len(form.fields)} {len(form.files)}")

        app = web.Application()
        app.router.add_post("/", echo)
        self.loop = asyncio.new_event_loop()
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = self.runner.addresses[0][1]
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def post(self, content_type: str, body: bytes) -> int:
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.putrequest("POST", "/")
        conn.putheader("Content-Type", content_type.encode("latin-1"))
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        status = conn.getresponse().status
        conn.close()
        return status

    def close(self) -> None:
        import asyncio

        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def form_server() -> Any:
    server = _FormServer()
    yield server
    server.close()


def _multipart(parts: list[tuple[bytes, bytes]], boundary: bytes) -> bytes:
    out = b""
    for headers, data in parts:
        out += b"--" + boundary + b"\r\n" + headers + b"\r\n\r\n" + data + b"\r\n"
    return out + b"--" + boundary + b"--\r\n"


HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30)
PART_HEADERS = st.one_of(
    st.builds(
        lambda n, c: (
            f'Content-Disposition: form-data; name="{n}"\r\nContent-Type: text/plain; charset={c}'.encode()
        ),
        HEADER_TEXT.filter(lambda t: '"' not in t),
        HEADER_TEXT,
    ),
    st.builds(
        lambda n: f'Content-Disposition: form-data; name="{n}"; filename="f.bin"'.encode(),
        HEADER_TEXT.filter(lambda t: '"' not in t),
    ),
    st.binary(max_size=60),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(["urlencoded", "multipart", "other"]),
    charset=st.one_of(
        st.none(), st.sampled_from(["utf-8", "latin-1", "bogus", "utf-16", "rot13"]), HEADER_TEXT
    ),
    body=st.binary(max_size=300),
    parts=st.lists(st.tuples(PART_HEADERS, st.binary(max_size=80)), max_size=3),
    boundary=st.one_of(
        st.none(), st.sampled_from([b"B", b"x" * 71, b""]), st.binary(min_size=1, max_size=10)
    ),
)
def test_read_form_answers_every_body_with_a_form_or_a_4xx(
    form_server: Any,
    kind: str,
    charset: str | None,
    body: bytes,
    parts: list[tuple[bytes, bytes]],
    boundary: bytes | None,
) -> None:
    if kind == "urlencoded":
        ctype = "application/x-www-form-urlencoded" + (f"; charset={charset}" if charset else "")
    elif kind == "multipart":
        ctype = "multipart/form-data" + (
            f"; boundary={boundary.decode('latin-1')}" if boundary is not None else ""
        )
        if boundary and b"\r" not in boundary and b"\n" not in boundary:
            body = _multipart(parts, boundary)
    else:
        ctype = "text/plain"
    if "\r" in ctype or "\n" in ctype:
        return  # no client can send such a header
    assert form_server.post(ctype, body) in (200, 400, 413, 415)
