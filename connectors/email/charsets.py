"""Header values and bodies as mail really has them, decoded without failing. Pure.

Mail declares charsets that Python does not know (``iso-gb2312``, ``ks_c_5601-1987``,
``x-unknown``), declares the wrong one (cp1252 text labelled ``iso-8859-1``), or none.
Every function here returns text for any input: it falls back to UTF-8, then to
Latin-1 (which maps every byte), and never raises. Address lists are split here too,
by a small tokenizer that keeps the addr-spec exactly as written.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

# Labels seen in the wild that Python's codec registry does not resolve, or resolves to
# a codec narrower than what senders actually use.
_ALIASES = {
    "iso-gb2312": "gb18030",
    "gb2312": "gb18030",
    "gb_2312-80": "gb18030",
    "euc-cn": "gb18030",
    "x-gbk": "gb18030",
    "gbk": "gb18030",
    "cp936": "gb18030",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "ksc5601": "cp949",
    "euc-kr": "cp949",
    "unicode-1-1-utf-7": "utf-7",
    "x-utf-7": "utf-7",
    "utf7": "utf-7",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso_8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "windows-1252": "cp1252",
    "iso-8859-8-i": "iso-8859-8",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "iso-2022-jp": "iso2022_jp_2",
    "windows-874": "cp874",
    "x-mac-roman": "mac_roman",
    "macintosh": "mac_roman",
    "utf8": "utf-8",
    "ascii": "ascii",
    "us-ascii": "ascii",
    "ansi_x3.4-1968": "ascii",
}
# Labels that mean "we do not know", and codecs that are no charset (they interpret
# backslashes or hostnames): treated like no label at all.
_UNKNOWN = {"", "x-unknown", "unknown", "unknown-8bit", "x-user-defined", "default", "none", "charset"}
_NOT_CHARSETS = {"idna", "punycode", "undefined", "unicode-escape", "raw-unicode-escape", "mbcs", "oem"}

# 8-bit header bytes under a 7-bit label: what such clients actually wrote.
_EIGHT_BIT_SIBLINGS = {
    "iso2022_jp": ("cp932", "euc_jp"),
    "iso2022_jp_2": ("cp932", "euc_jp"),
    "iso2022_kr": ("cp949",),
    "hz": ("gb18030",),
}
_WORD = re.compile(r"=\?([^?\s]{1,64})\?([bBqQ])\?(.*?)\?=")
_BETWEEN_WORDS = re.compile(r"[ \t\r\n]*")
_SURROGATES = re.compile(r"[\udc80-\udcff]")


def codec_for(label: str | None) -> str | None:
    """The Python text codec for a charset label, or None when the label is absent,
    unknown, or names no text encoding (``base64``, ``zlib``)."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = name.split("*", 1)[0]  # RFC 2231 language suffix: utf-8*de
    if name in _UNKNOWN:
        return None
    name = _ALIASES.get(name, name)
    try:
        b"".decode(name)
        codec = codecs.lookup(name).name
    except (LookupError, ValueError):  # ValueError: a NUL in the label
        return None
    return None if codec.replace("_", "-") in _NOT_CHARSETS else codec


def decode_bytes(data: bytes, label: str | None = None) -> str:
    """``data`` as text: in the declared charset if it fits (for a 7-bit ISO-2022 label
    on 8-bit bytes, that language's 8-bit charsets), else UTF-8, else a lossy
    decode (the declared charset or UTF-8 with replacement characters; unlabelled
    legacy bytes as cp1252/Latin-1). Never raises."""
    codec = codec_for(label)
    for candidate in (codec, *_EIGHT_BIT_SIBLINGS.get(codec or "", ()), "utf-8"):
        text = _try_decode(data, candidate)
        if text is not None:
            return text
    if codec is None:
        return _decode_legacy(data)
    if codec == "cp1252":  # labelled Latin-1, holds bytes cp1252 leaves undefined
        return data.decode("latin-1")
    return _try_decode(data, codec, "replace") or data.decode("utf-8", "replace")


def _try_decode(data: bytes, codec: str | None, errors: str = "strict") -> str | None:
    if codec is None:
        return None
    try:
        return data.decode(codec, errors)
    except (UnicodeError, LookupError, ValueError):  # some codecs raise their own kinds
        return None


def _decode_legacy(data: bytes) -> str:
    return _try_decode(data, "cp1252") or data.decode("latin-1")


def unescape_raw(value: str, hints: Sequence[str] = ()) -> str:
    """A raw header value from the parser (8-bit bytes kept as surrogate escapes) as text.
    The bytes are read as UTF-8, else in a charset the message declares (ones that can
    reject bytes first; for a 7-bit ISO-2022 label, that language's 8-bit charsets,
    which such clients really send), else as cp1252."""
    if not _SURROGATES.search(value):
        return value
    data = value.encode("utf-8", "surrogateescape")
    known = [c for c in (codec_for(h) for h in hints) if c is not None]
    candidates = ["utf-8"] + [s for c in known for s in _EIGHT_BIT_SIBLINGS.get(c, (c,))]
    for candidate in sorted(dict.fromkeys(candidates), key=_accepts_anything):
        text = _try_decode(data, candidate)
        if text is not None:
            return text
    return _decode_legacy(data)


@functools.cache
def _accepts_anything(codec: str) -> bool:
    """True for single-byte tables (every byte one character): they decode any bytes,
    so their success is no evidence and they are tried last."""
    probes = (b"\xc4\xe4", b"\xc3\xa4", b"\x82\xa0")  # Ää in Latin-1, ä in UTF-8, あ in Shift_JIS
    return all(len(_try_decode(probe, codec, "replace") or "") == 2 for probe in probes)


def decode_words(text: str) -> str:
    """Decode RFC 2047 encoded-words wherever they occur: between words, glued to other
    text, inside quotes, with spaces inside them or bad padding. Whitespace between two
    adjacent encoded-words is dropped, and adjacent words in one charset are decoded
    together (a multi-byte character may be split across them). The result is in NFC
    (macOS writes names decomposed: "e" + combining accent)."""
    if "=?" not in text:
        return unicodedata.normalize("NFC", text)
    out: list[str] = []
    pos = 0
    pending: list[tuple[str | None, bytes]] = []  # adjacent words not yet decoded
    for match in _WORD.finditer(text):
        gap = text[pos : match.start()]
        if pending and not _BETWEEN_WORDS.fullmatch(gap):
            out.append(_flush(pending))
            out.append(gap)
        elif not pending:
            out.append(gap)
        charset, encoding, payload = match.groups()
        data = _decode_b(payload) if encoding in "bB" else _decode_q(payload)
        codec = codec_for(charset)
        if pending and pending[-1][0] == codec:
            pending[-1] = (codec, pending[-1][1] + data)
        else:
            pending.append((codec, data))
        pos = match.end()
    out.append(_flush(pending))
    out.append(text[pos:])
    return unicodedata.normalize("NFC", "".join(out))


def _flush(pending: list[tuple[str | None, bytes]]) -> str:
    text = "".join(decode_bytes(data, codec) for codec, data in pending)
    pending.clear()
    return text


def _decode_b(payload: str) -> bytes:
    cleaned = re.sub(r"[^A-Za-z0-9+/]", "", payload)
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned)
    except (binascii.Error, ValueError):
        return payload.encode("ascii", "replace")


def _decode_q(payload: str) -> bytes:
    raw = payload.replace("_", " ").encode("latin-1", "replace")
    return re.sub(rb"=([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), raw)


def unfold(value: str) -> str:
    """A header value on one line: folding line breaks removed (the whitespace after them kept)."""
    return re.sub(r"\r?\n(?=[ \t])", "", value).replace("\r", "").replace("\n", "")


@dataclass(slots=True)
class AddressParts:
    """One address of an address list, split into its raw pieces."""

    angle: str | None = None  # the addr-spec between < and >, as written
    display: list[str] = field(default_factory=list)  # text before the angle, quotes removed
    words: list[str] = field(default_factory=list)  # raw top-level words when there is no angle
    comments: list[str] = field(default_factory=list)

    def display_name(self) -> str:
        return collapse(decode_words("".join(self.display)))

    def comment_name(self) -> str:
        return collapse(decode_words(" ".join(self.comments)))


def collapse(text: str) -> str:
    """Runs of ASCII whitespace as one space, trimmed (an ideographic space stays)."""
    return re.sub(r"[ \t\r\n]+", " ", text).strip(" ")


def split_address_list(value: str) -> list[AddressParts]:
    """Split an address-list value at top-level commas, keeping quoted strings, comments,
    angle addresses and encoded-words (which may contain commas) whole. Group names
    (``undisclosed-recipients:;``) are dropped. Never raises."""
    out: list[AddressParts] = []
    cur = AddressParts()
    word: list[str] = []  # the raw top-level word being read (no angle yet)

    def end_word() -> None:
        if word:
            cur.words.append("".join(word))
            word.clear()

    i, n = 0, len(value)
    while i < n:
        c = value[i]
        if c == '"':
            j, text = _read_quoted(value, i)
            cur.display.append(text)
            word.append(value[i:j])
            i = j
            continue
        if c == "(":
            j, text = _read_comment(value, i)
            cur.comments.append(text)
            end_word()
            i = j
            continue
        if c == "<":
            j = value.find(">", i + 1)
            j = n if j < 0 else j
            if cur.angle is None:
                cur.angle = value[i + 1 : j]
            word.clear()
            i = j + 1
            continue
        match = _WORD.match(value, i) if c == "=" else None
        if match:
            cur.display.append(match.group(0))
            word.append(match.group(0))
            i = match.end()
            continue
        if c in ",;":
            end_word()
            out.append(cur)
            cur = AddressParts()
        elif c == ":" and cur.angle is None and not any("@" in w for w in [*cur.words, "".join(word)]):
            cur = AddressParts()  # a group's display name
            word.clear()
        elif c.isspace():
            end_word()
            cur.display.append(" ")
        elif c != ">":
            word.append(c)
            cur.display.append(c)
        i += 1
    end_word()
    out.append(cur)
    return [p for p in out if p.angle is not None or p.words]


def _read_quoted(value: str, start: int) -> tuple[int, str]:
    """(index after the closing quote, unescaped content) of the quoted string at ``start``."""
    chars: list[str] = []
    i = start + 1
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value):
            chars.append(value[i + 1])
            i += 2
            continue
        if c == '"':
            return i + 1, "".join(chars)
        chars.append(c)
        i += 1
    return i, "".join(chars)


def _read_comment(value: str, start: int) -> tuple[int, str]:
    """(index after the comment, its text) of the (possibly nested) comment at ``start``."""
    depth, i, chars = 0, start, []
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value):
            chars.append(value[i + 1])
            i += 2
            continue
        if c == "(":
            depth += 1
            if depth > 1:
                chars.append(c)
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1, "".join(chars)
            chars.append(c)
        else:
            chars.append(c)
        i += 1
    return i, "".join(chars)
