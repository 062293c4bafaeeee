"""The email parser against third-party corpora, read in place (never copied: Zammad's
files are AGPL). See ../shared/corpus/README.md for what is compared and why.

Zammad: sender address (case-insensitive: the hub lower-cases addresses) and display
name, subject (with runs of whitespace collapsed: Zammad keeps folding whitespace and
line breaks decoded from encoded-words, we turn them into spaces), the chosen body
type, and attachment names, types and MD5s. Zammad keeps the HTML body as an extra
``message.html`` attachment marked ``original-format``; that is our ``html`` field,
not a file, so it is left out of the comparison.

Reply parsers: talon's plain replies are compared with quotations removed but the
signature kept (its expectations come from ``extract_from_plain``, which only strips
quotations); email_reply_parser's fixtures are checked on the fragments and flags they
pin, and on the visible text (zapier's fragments are compared stripped, as its
``Fragment.content`` is). talon's ML signature classifier cases are out of scope.
"""

from __future__ import annotations

import base64
import email
import functools
import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.email.payloads import ParsedMail, parse_mail
from connectors.email.quotes import html_to_text, split_fragments, visible_html_text, visible_text

CORPUS = Path(__file__).parents[3].parent / "shared" / "corpus" / "email"


def corpus(*parts: str) -> Path:
    """A corpus folder; skips the test when it is absent, fails under CI."""
    folder = CORPUS.joinpath(*parts)
    if not folder.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"corpus folder missing: {folder}")
        pytest.skip(f"corpus folder missing: {folder}")
    return folder


class RubyYamlLoader(yaml.SafeLoader):
    """Zammad's fixtures are Ruby YAML: ``!ruby/...`` objects are plain mappings and
    ``!binary`` scalars are base64."""


def _ruby(loader: RubyYamlLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


RubyYamlLoader.add_multi_constructor("!ruby/", _ruby)
RubyYamlLoader.add_constructor(
    "!binary",
    lambda loader, node: base64.b64decode(loader.construct_scalar(node)),  # type: ignore[arg-type]
)


def _md5(data: bytes | str) -> str:
    return hashlib.md5(data if isinstance(data, bytes) else data.encode()).hexdigest()


def _norm(text: str) -> str:
    return " ".join(text.split())


# --- 1. nothing raises ------------------------------------------------------------------


def test_every_corpus_message_parses() -> None:
    files = sorted(corpus("zammad").glob("*.box"))
    for sub in ("rfc", "thirdparty", "malformed"):
        files += sorted(corpus("stalwart", sub).glob("*.eml"))
    assert len(files) > 150
    for path in files:
        parsed = parse_mail(path.read_bytes())
        assert not parsed.degraded, path.name


# --- 2. Zammad's expectations -------------------------------------------------------------


def _zammad_md5(name: str, data: bytes, wanted: set[tuple[str, str]]) -> str:
    """The file's MD5, or that of its LF form when that is what Zammad recorded: the mail
    gem turns CRLF into LF in 7bit parts, where we keep the bytes the sender attached."""
    lf = _md5(data.replace(b"\r\n", b"\n"))
    return lf if (name, lf) in wanted else _md5(data)


def zammad_mismatches(expected: dict[str, Any], got: ParsedMail) -> list[tuple[str, Any, Any]]:
    """(field, expected, got) for every compared field that differs."""
    out: list[tuple[str, Any, Any]] = []
    email_got = got.sender.email if got.sender else ""
    if str(expected.get("from_email") or "").lower() != email_got:
        out.append(("from_email", expected.get("from_email"), email_got))
    name_got = (got.sender.name if got.sender else None) or ""
    if (expected.get("from_display_name") or "") != name_got:
        out.append(("from_display_name", expected.get("from_display_name"), name_got))
    if _norm(expected.get("subject") or "") != _norm(got.subject):
        out.append(("subject", expected.get("subject"), got.subject))
    if expected.get("content_type") != got.body_type:
        out.append(("content_type", expected.get("content_type"), got.body_type))
    files = [
        a
        for a in expected.get("attachments") or []
        if not (a.get("preferences") or {}).get("original-format")
    ]
    want = sorted((a["filename"], _md5(a.get("data") or b"")) for a in files)
    have = sorted((f.filename, _zammad_md5(f.filename, f.data, set(want))) for f in got.attachments)
    if want != have:
        out.append(("attachments (name, md5)", want, have))
    else:
        types = {f.filename: f.content_type for f in got.attachments}
        for a in files:
            declared = str((a.get("preferences") or {}).get("Mime-Type") or "").lower()
            if declared and types[a["filename"]] != declared:
                out.append((f"attachment type of {a['filename']}", declared, types[a["filename"]]))
    return out


# Mails whose Zammad expectation records a fault of Zammad's parser, with the reason. Each
# was checked against the raw mail: matching it would take a wrong rule, not a better one.
ZAMMAD_FAULTS = {
    "mail018.box": "subject: the encoded-word is declared unicode-1-1-utf-7; Zammad drops its "
    "=?...?= markers but leaves the UTF-7 undecoded ('+ANw-'); we decode it ('Ü'), as issue 7 asks",
    "mail046.box": "display name: raw 8-bit bytes in a mail whose parts declare gb2312; in GB2312 "
    "they are a Chinese name (the subject is Chinese too); Zammad read them as ISO-8859-2",
    "mail054.box": "body type: the boundary parameter is on a folded line that lost its indent; Zammad "
    "then finds no part ('no visible content', defaulting to text/plain); we rejoin the line and "
    "choose the HTML alternative, as Zammad does for every other multipart/alternative",
    "mail064.box": "file name: declared windows-1258, where 0xEC and 0xCC are combining accents "
    "(a decomposed 'é' and 'à', as macOS writes them); Zammad decoded it as windows-1252 ('eì')",
    "mail065.box": "display name: Zammad splits From at the comma inside the encoded-word "
    "'B=FCrling,=20Andreas' and keeps '=20Andreas?='; we read 'Bürling, Andreas', as the stdlib's "
    "own header parser and mail clients do",
    "mail076.box": "sender: '\"Millions Lottery Spain transfer\"@example.com>' has a stray '>'; "
    "Zammad keeps it in the address and uses the address as the name; we drop it, no name",
    "mail087.box": "sender and files: 'From: Test test@example.com' (no brackets) is name and "
    "address to us, one address with a space to Zammad; its untyped second part is text/plain "
    "(RFC 2045 §5.2) and our body, where Zammad shows no body and keeps the text as file 'file'",
}


def test_zammad_expectations() -> None:
    folder = corpus("zammad")
    boxes = sorted(folder.glob("*.box"))
    differing: set[str] = set()
    unexplained = []
    for box in boxes:
        expected = yaml.load(box.with_suffix(".yml").read_bytes(), Loader=RubyYamlLoader)
        problems = zammad_mismatches(expected, parse_mail(box.read_bytes()))
        for field, want, have in problems:
            print(f"zammad {box.name}: {field}: expected {want!r}, got {have!r}")
        if problems:
            reason = ZAMMAD_FAULTS.get(box.name)
            print(f"zammad {box.name}: reason: {reason or 'UNEXPLAINED: a parser regression?'}")
            unexplained += [] if reason else [box.name]
            differing.add(box.name)
    matched = len(boxes) - len(differing)
    passed = matched + len(differing & set(ZAMMAD_FAULTS))
    print(f"zammad: {matched}/{len(boxes)} mails match, {passed}/{len(boxes)} pass")
    # The owner's decision (issue 23): a mail that differs only where Zammad's expectation
    # keeps a fault of Zammad's parser (ZAMMAD_FAULTS, each with its reason) counts as a
    # pass, since reading it as a mail client would is right. Any other difference fails,
    # and so does a listed fault that no longer differs (the list must stay true).
    assert not unexplained, f"mismatches without a known reason: {unexplained}"
    assert differing == set(ZAMMAD_FAULTS), f"ZAMMAD_FAULTS is out of date: {differing ^ set(ZAMMAD_FAULTS)}"
    assert passed == len(boxes)


# --- 3. reply parsers ---------------------------------------------------------------------


def _first_plain(raw: bytes) -> str:
    """talon's rule: the first text/plain part, decoded as UTF-8."""
    msg = email.message_from_bytes(raw)
    part = next(
        msg.walk()
        if not msg.is_multipart()
        else (p for p in msg.walk() if p.get_content_type() == "text/plain")
    )
    payload = part.get_payload(decode=True)
    return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def talon_cases() -> Iterator[tuple[str, Callable[[], str | None]]]:
    """(name, check) per talon case; check returns None when it passes, else the reason."""
    folder = corpus("talon")
    spec = json.loads((folder / "EXPECTATIONS.json").read_text())

    def plain(name: str, want: str) -> Callable[[], str | None]:
        def check() -> str | None:
            raw = (folder / "standard_replies" / name).read_bytes()
            got = visible_text(parse_mail(raw).full_text, keep_signature=True)
            return None if _norm(got) == _norm(want) else f"expected {want!r}, got {got!r}"

        return check

    def html(path: Path, want: str) -> Callable[[], str | None]:
        def check() -> str | None:
            got = visible_html_text(path.read_text(encoding="utf-8"), keep_signature=True)
            same = re.sub(r"\s", "", got) == re.sub(r"\s", "", want)
            return None if same else f"expected {want!r}, got {got!r}"

        return check

    for name, value in spec["standard_replies"].items():
        if not name.startswith("_"):
            yield f"talon/standard_replies/{name}", plain(name, value)
    for name, value in spec["html_replies"].items():
        if not name.startswith("_"):
            yield f"talon/html_replies/{name}", html(folder / "html_replies" / name, value)
    for name in ("OLK_SRC_BODY_SECTION.html", "reply-separated-by-hr.html"):
        want = html_to_text(spec[name]["expected_whitespace_removed"])
        yield f"talon/{name}", html(folder / name, want)

    def share_block() -> str | None:
        got = visible_text((folder / "reply-quotations-share-block.eml").read_text(), keep_signature=True)
        return (
            None if got.strip() and "From" not in got else f"expected non-empty without 'From', got {got!r}"
        )

    yield "talon/reply-quotations-share-block.eml", share_block


def _fragment_pattern(kind: str, value: str) -> Callable[[str], bool]:
    if kind == "equals":
        return lambda content: content == value
    if kind == "contains":
        return lambda content: value in content
    if kind == "startswith":
        return lambda content: re.match(value, content) is not None
    ruby = value.replace("\\A", "^")  # Ruby's ^ is a line start, as with re.MULTILINE
    return lambda content: re.search(ruby, content, re.MULTILINE) is not None


def reply_parser_check(path: Path, spec: dict[str, Any], *, stripped: bool) -> str | None:
    """None when every expectation pinned for the fixture holds, else the first failure.
    ``stripped``: the suite's fragments are compared stripped (zapier's ``content`` is)."""
    text = path.read_text(encoding="utf-8")
    started = time.monotonic()
    fragments = split_fragments(text)
    contents = [f.content.strip() if stripped else f.content for f in fragments]
    visible = visible_text(text)
    elapsed = time.monotonic() - started
    if "max_seconds" in spec and elapsed > spec["max_seconds"]:
        return f"took {elapsed:.2f} s"
    if "fragments" in spec and len(fragments) != spec["fragments"]:
        return f"expected {spec['fragments']} fragments, got {len(fragments)}: {contents!r}"
    for flag in ("quoted", "signature", "hidden"):
        if flag in spec:
            got = [getattr(f, flag) for f in fragments]
            if got != spec[flag]:
                return f"{flag}: expected {spec[flag]}, got {got}"
    for kind in ("equals", "matches", "contains", "startswith"):
        for key, value in spec.get(f"fragment_{kind}", {}).items():
            index = int(key.rstrip("b"))
            if index >= len(contents) or not _fragment_pattern(kind, value)(contents[index]):
                content = contents[index] if index < len(contents) else None
                return f"fragment {key} should {kind} {value!r}, got {content!r}"
    if "reply" in spec and _norm(visible) != _norm(spec["reply"]):
        return f"expected {spec['reply']!r}, got {visible!r}"
    if "reply_stripped" in spec and visible.strip() != spec["reply_stripped"]:
        return f"expected {spec['reply_stripped']!r}, got {visible!r}"
    for needle in spec.get("reply_contains", []):
        if needle not in visible:
            return f"visible text should contain {needle!r}: {visible!r}"
    for needle in spec.get("reply_not_contains", []):
        if needle in visible:
            return f"visible text should not contain {needle!r}: {visible!r}"
    return None


def reply_parser_cases(suite: str) -> Iterator[tuple[str, Callable[[], str | None]]]:
    folder = corpus(suite)
    spec = json.loads((folder / "EXPECTATIONS.json").read_text())
    stripped = suite == "zapier_reply_parser"
    for name in sorted(p.name for p in (folder / "emails").iterdir()):
        if name in spec:  # a fixture its suite pins nothing for is not a case
            yield (
                f"{suite}/{name}",
                functools.partial(
                    reply_parser_check, folder / "emails" / name, spec[name], stripped=stripped
                ),
            )
    for text in spec.get("_inline_cases", {}):

        def unchanged(text: str = text) -> str | None:
            got = visible_text(text)
            return None if got == text else f"expected {text!r} unchanged, got {got!r}"

        yield f"{suite}/inline {text!r}", unchanged


def test_reply_parser_fixtures() -> None:
    suites = {
        "talon": list(talon_cases()),
        "github_reply_parser": list(reply_parser_cases("github_reply_parser")),
        "zapier_reply_parser": list(reply_parser_cases("zapier_reply_parser")),
    }
    passed = total = 0
    for suite, cases in suites.items():
        ok = 0
        for name, check in cases:
            reason = check()
            if reason is not None:
                print(f"reply {name}: {reason}")
            ok += reason is None
        print(f"{suite}: {ok}/{len(cases)} ({ok / len(cases):.1%})")
        passed, total = passed + ok, total + len(cases)
    print(f"reply parsers overall: {passed}/{total} ({passed / total:.1%})")
    print("not counted: talon/signature/emails (talon's ML signature classifier, not a reply rule)")
    assert passed / total >= 0.90
