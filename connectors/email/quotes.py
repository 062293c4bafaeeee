"""The part of a reply its author wrote: quoted history and signatures split off. Pure.

The text is cut into fragments the way GitHub's email_reply_parser does it, reading
from the bottom up: quoted lines (``>``) with the header above them ("On … wrote:",
"Am … schrieb …:", "Le … a écrit :" …), signature blocks (a ``-- ``, ``--`` or ``__``
line, ``-Name``, "Sent from my …" after a blank line) and Outlook header blocks
("From: … Sent: …", "Von: … Gesendet: …", "-----Original Message-----"), which hide
everything below them. Fragments below the last visible one are hidden; quoted
fragments between replies (inline answers) stay, but are not part of the visible text.

A forward is the other way round: the forwarded message is the content. ``visible_forward``
keeps it whole below the sender's note, found by its marker ("---------- Forwarded
message ---------", "-------- Weitergeleitete Nachricht --------", "Begin forwarded
message:" …) or, when the subject says forward ("Fwd:", "WG:" …), by the first header
block or "-----Original Message-----" line.

``html_to_text`` (stdlib ``html.parser``) turns an HTML body into lines, with
``> `` in front of blockquoted lines, so HTML replies go through the same rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from html.parser import HTMLParser

_FIELDS = {
    "from": "from|von|de|van|da|od|fra|från|lähettäjä|от|feladó|kimden|发件人|寄件者",
    "sent": "sent|date|gesendet|datum|envoyé|envoye|enviado|enviada|fecha|verzonden|inviato|data"
    "|odesláno|отправлено|дата|skickat|sendt|lähetetty|elküldve|gönderildi|发送时间|日期",
    "to": "to|an|à|a|para|aan|til|till|komu|кому|vastaanottaja|címzett|kime|收件人|do",
    "cc": "cc|kopie|copie|копия",
    "subject": "subject|betreff|objet|asunto|onderwerp|oggetto|assunto|emne|ämne|předmět|тема|aihe"
    "|tárgy|konu|主题|主旨|temat",
}
_FIELD = re.compile(
    r"^\s*[*_]*(?:" + "|".join(f"(?P<{k}>{v})" for k, v in _FIELDS.items()) + r")[*_]*\s*[:：][*_]*(?:\s|$)",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"^\s*-{2,}\s*(original message|ursprüngliche nachricht|original nachricht|message d'origine"
    r"|mensaje original|oorspronkelijk bericht|messaggio originale|původní zpráva|исходное сообщение"
    r"|alkuperäinen viesti|opprinnelig melding|originalmeddelande|mensagem original)\s*-{2,}\s*$",
    re.IGNORECASE,
)
# a line that introduces a forwarded message, in the words of Gmail, Thunderbird, Apple
# Mail and Outlook, in English, German and a few neighbours; quoted (Apple Mail cites
# what it forwards) only under a forward's subject, else it is a reply's quoted history
_FORWARD_MARK = re.compile(
    r"^(?P<quote>[\s>]*)(?:-{2,}\s*(?:forwarded message|weitergeleitete nachricht"
    r"|message transféré|message transfere|mensaje reenviado|messaggio inoltrato"
    r"|doorgestuurd bericht|videresendt meddelelse)\s*-{2,}"
    r"|begin forwarded message\s*:|anfang der weitergeleiteten nachricht\s*:"
    r"|début du message réexpédié\s*:|inicio del mensaje reenviado\s*:)\s*$",
    re.IGNORECASE,
)
FORWARD_MARKER = "---------- Forwarded message ---------"  # Gmail's; an embedded message gets it
_FORWARD_SUBJECT = re.compile(r"^\s*(?:\[[^\]]*\]\s*)?(?:fwd?|wg|weitergeleitet|tr|rv|enc|doorst)\s*:", re.I)
_VERB = re.compile(
    r"(?<!\w)(wrote|writes|schrieb|schreef|a écrit|a ecrit|escribió|escribio|ha scritto|scrisse"
    r"|escreveu|skrev|kirjoitti|napisał|napisal|pisze|написал|написала|írta|napsal|yazdı|έγραψε)"
    r"|写道|寫道",
    re.IGNORECASE,
)
_OPENER = re.compile(r"^\s*(on|am|le|el|op|il|em|den|dne|w dniu|στις)\s", re.IGNORECASE)
_DATE_FIRST = re.compile(r"^\s*\d{1,4}[./-]\d{1,2}[./-]\d{1,4}")
_EVIDENCE = re.compile(r"@|\d{1,2}:\d{2}|\d{1,4}[./-]\d{1,2}[./-]\d{2,4}")
_SIGNATURE = re.compile(r"^\s*(--|__|-\w)|^sent from my(\s+\w+){1,3}$", re.IGNORECASE)
_UNDERSCORES = re.compile(r"^\s?_{7,}")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200e\u200f\ufeff"), None)


@dataclass(frozen=True, slots=True)
class Fragment:
    """A run of lines of one kind; ``hidden`` means it is below everything visible."""

    content: str
    quoted: bool = False
    signature: bool = False
    headers: bool = False
    hidden: bool = False


def visible_text(text: str, *, keep_signature: bool = False) -> str:
    """What the author wrote: neither quoted nor hidden fragments, joined. When the
    whole text looks quoted (a bare forward), the whole text is returned instead."""
    fragments = split_fragments(text)
    if keep_signature:
        fragments = tuple(reversed(_mark_hidden(tuple(reversed(fragments)), signature_hides=False)))
    shown = "\n".join(f.content for f in fragments if not (f.hidden or f.quoted))
    shown = shown.strip("\n").rstrip()
    return shown if shown.strip() else text.replace("\r\n", "\n").strip()


def visible_html_text(html: str, *, keep_signature: bool = False) -> str:
    """``visible_text`` of an HTML reply (blockquotes count as quoted lines)."""
    return visible_text(html_to_text(html), keep_signature=keep_signature)


def is_forward_subject(subject: str) -> bool:
    """Whether a subject says the mail forwards another ("Fwd:", "FW:", "WG:", "TR:" …)."""
    return bool(_FORWARD_SUBJECT.match(subject))


def visible_forward(text: str, subject: str) -> str | None:
    """The visible text of a forward: the sender's note (quotes and signature split off
    as in a reply), then the forwarded message whole, its marker and header lines
    included; None when ``text`` forwards nothing. Apple Mail's ``>`` in front of the
    forwarded lines is taken off."""
    lines = _prepare(text)
    start = _forward_start(lines, is_forward_subject(subject))
    if start is None:
        return None
    above = "\n".join(lines[:start])
    note = visible_text(above) if above.strip() else ""
    forwarded = "\n".join(_uncite(lines[start:])).strip("\n").rstrip()
    return f"{note}\n\n{forwarded}" if note else forwarded


def _forward_start(lines: list[str], forward_subject: bool) -> int | None:
    """The line the forwarded message starts at: its marker; with a forward's subject
    also the first header block or separator (an underscore line above it included)."""
    for index, line in enumerate(lines):
        mark = _FORWARD_MARK.match(line)
        if mark and (forward_subject or ">" not in mark.group("quote")):
            return index
    if not forward_subject:
        return None
    blocks = _find_header_blocks(lines)
    if not blocks:
        return None
    start = min(blocks)
    above = start - 1
    while above >= 0 and not lines[above].strip():
        above -= 1
    return above if above >= 0 and _UNDERSCORES.match(lines[above]) else start


def _uncite(lines: list[str]) -> list[str]:
    """The lines with one level of ``>`` taken off when every line after the first
    (the marker) that has text is cited, as Apple Mail forwards; else unchanged."""
    body = [line for line in lines[1:] if line.strip()]
    if not body or not all(line.startswith(">") for line in body):
        return lines
    return [
        line[2:] if line.startswith("> ") else line[1:] if line.startswith(">") else line for line in lines
    ]


def split_fragments(text: str) -> tuple[Fragment, ...]:
    """The fragments of ``text`` from top to bottom, with quoted, signature, headers and
    hidden flags as email_reply_parser sets them."""
    lines = _prepare(text)
    headers = _find_header_blocks(lines)
    built: list[Fragment] = []  # bottom-up
    current: list[str] = []  # the current fragment's lines, bottom-up
    quoted = is_headers = signature = False

    def finish() -> None:
        nonlocal current, signature
        if current:
            built.append(Fragment("\n".join(reversed(current)), quoted, signature, is_headers))
        current, signature = [], False

    for index in range(len(lines) - 1, -1, -1):
        raw = lines[index]
        line = raw if _SIGNATURE.match(raw) else raw.rstrip()
        line_quoted = line.startswith(">")
        line_header = index in headers or _is_quote_header(line)
        empty = not line.strip()
        if current and empty and _SIGNATURE.match(current[-1]):
            signature = True
            finish()
        attach = line_header or _is_header_line(line) or empty
        if current and ((quoted == line_quoted and is_headers == line_header) or (quoted and attach)):
            current.append(line)
        else:
            finish()
            current, quoted, is_headers = [line], line_quoted, line_header
    if current and _SIGNATURE.match(current[-1]):  # the start of the text counts as a blank line
        signature = True
    finish()
    return tuple(reversed(_mark_hidden(tuple(built), signature_hides=True)))


def _mark_hidden(fragments: tuple[Fragment, ...], *, signature_hides: bool) -> tuple[Fragment, ...]:
    """Set ``hidden`` reading ``fragments`` (given bottom-up) from the bottom: everything
    up to the first visible fragment, and everything below a header block."""
    hidden: list[bool] = []
    found_visible = False
    last_headers = -1
    for index, frag in enumerate(fragments):
        if frag.headers:
            last_headers, found_visible = index, False
        quiet = frag.quoted or frag.headers or (frag.signature and signature_hides)
        hidden.append(not found_visible and (quiet or not frag.content.strip()))
        found_visible = found_visible or not hidden[-1]
    return tuple(
        replace(frag, hidden=hide or index < last_headers)
        for index, (frag, hide) in enumerate(zip(fragments, hidden, strict=True))
    )


def _prepare(text: str) -> list[str]:
    """Lines with LF endings, multi-line quote headers joined, and a blank line above
    underscore separators (a reply written directly above one is still split off)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").translate(_INVISIBLE).split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.startswith(">") and (_OPENER.match(line) or _DATE_FIRST.match(line)):
            if not _is_quote_header(line):
                joined = line.rstrip()
                for ahead in range(index + 1, min(index + 4, len(lines))):
                    nxt = lines[ahead].strip()
                    if not nxt or nxt.startswith(">"):
                        break
                    joined = f"{joined} {nxt}"
                    if _is_quote_header(joined):
                        line, index = joined, ahead
                        break
        if out and out[-1].strip() and _UNDERSCORES.match(line):
            out.append("")
        out.append(line)
        index += 1
    return out


def _is_quote_header(line: str) -> bool:
    """Whether the line says who wrote the quote below ("On <date>, <author> wrote:",
    "Am … schrieb …:", "Le … a écrit :" …), possibly after joining wrapped lines."""
    stripped = line.strip()
    if not stripped.endswith((":", "：")) or len(stripped) > 400 or stripped.startswith(">"):
        return False
    if not _VERB.search(stripped):
        return False
    return bool(_OPENER.match(stripped) or _EVIDENCE.search(stripped))


def _is_header_line(line: str) -> bool:
    """A single header field line, or a short line ending in ":" with an address or a
    date: counts as the header of a quoted block directly below it."""
    if _FIELD.match(line):
        return True
    stripped = line.strip()
    return stripped.endswith(":") and len(stripped) <= 300 and bool(_EVIDENCE.search(stripped))


def _find_header_blocks(lines: list[str]) -> set[int]:
    """Indexes of lines in Outlook-style header blocks: runs of field lines that name the
    sender and at least one other field, and "-----Original Message-----" separators."""
    found: set[int] = set()
    index = 0
    while index < len(lines):
        if _SEPARATOR.match(lines[index]):
            found.add(index)
            index += 1
            continue
        block: list[int] = []
        kinds: set[str] = set()
        cursor = index
        while cursor < len(lines) and not lines[cursor].startswith(">"):
            match = _FIELD.match(lines[cursor])
            if match:
                kinds.add(next(k for k, v in match.groupdict().items() if v))
                block.append(cursor)
            elif not (block and lines[cursor].strip() and _continues(lines, cursor)):
                break
            else:
                block.append(cursor)
            cursor += 1
        if "from" in kinds and len(kinds) >= 2:
            found.update(block)
        index = max(cursor, index + 1)  # a run that does not qualify has no part that does
    return found


def _continues(lines: list[str], index: int) -> bool:
    """A wrapped header value: one of the next two lines is a field line again."""
    return any(_FIELD.match(line) for line in lines[index + 1 : index + 3])


_BLOCKS = {
    "address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt", "fieldset",
    "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
    "nav", "ol", "p", "pre", "section", "table", "tbody", "thead", "tfoot", "tr", "ul",
}  # fmt: skip
_PARAGRAPHS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "pre"}
_SKIPPED = {"script", "style", "head", "title", "xml", "template", "noscript", "object"}


class _TextWriter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._line: list[str] = []
        self._quote = 0
        self._skip = 0
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skip += 1
        elif tag == "br":
            self._break(force=True)
        elif tag in _BLOCKS:
            self._break(paragraph=tag in _PARAGRAPHS)
            self._quote += tag == "blockquote"
            self._pre += tag == "pre"
            if tag == "li":
                self._line.append("- ")
        elif tag in ("td", "th") and self._line:
            self._line.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCKS:
            self._break(paragraph=tag in _PARAGRAPHS)
            if tag == "blockquote":
                self._quote = max(0, self._quote - 1)
            if tag == "pre":
                self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        data = data.replace("\xa0", " ").translate(_INVISIBLE)
        if self._pre:
            first, *rest = data.split("\n")
            self._line.append(first)
            for part in rest:
                self._break(force=True)
                self._line.append(part)
            return
        data = re.sub(r"\s+", " ", data)
        if not self._line:
            data = data.lstrip()
        if data:
            self._line.append(data)

    def _break(self, *, force: bool = False, paragraph: bool = False) -> None:
        text = "".join(self._line).rstrip()
        if text or force:
            self.lines.append((">" * self._quote + " " if self._quote else "") + text)
        self._line = []
        if paragraph and self.lines and self.lines[-1].strip("> "):
            self.lines.append(">" * self._quote)

    def text(self) -> str:
        self._break()
        joined = "\n".join(line.rstrip() for line in self.lines)
        return re.sub(r"\n{3,}", "\n\n", joined).strip("\n")


def html_to_text(html: str) -> str:
    """The text of an HTML document, one line per block element or ``<br>``; lines inside
    ``<blockquote>`` start with ``> ``. Scripts, styles and comments are dropped."""
    writer = _TextWriter()
    try:
        writer.feed(html)
        writer.close()
    except (AssertionError, ValueError):  # html.parser gives up on some broken markup
        pass
    return writer.text()
