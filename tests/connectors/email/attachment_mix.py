"""A mail carrying a mix of attachments, each with the SHA-256 of the bytes the sender
attached: text with CRLF line ends in every transfer encoding (none, 8bit,
quoted-printable, base64), binaries, and file names with umlauts in the ways clients
write them (RFC 2231, RFC 2047, raw UTF-8)."""

from __future__ import annotations

import base64
import hashlib
import random

BOUNDARY = "==mix-1=="


def _files() -> list[tuple[str, bytes, bytes]]:
    """(expected name, header lines, the exact bytes of the file) per attachment."""
    rng = random.Random(32)
    binary = rng.randbytes(3000)
    png = b"\x89PNG\r\n\x1a\n" + rng.randbytes(500)
    csv = "Datum;Zählerstand\r\n2025-01-01;4711\r\n2025-02-01;4802\r\n".encode()
    note = "Grüße aus Köln\r\nZeile 2\r\n\r\nEnde\r\n".encode()
    return [
        (
            "Zählerstände.txt",
            b"Content-Type: text/plain; charset=us-ascii\r\n"
            b"Content-Disposition: attachment; filename*=utf-8''Z%C3%A4hlerst%C3%A4nde.txt\r\n",
            b"Datum;Stand\r\n2025-01-01;4711\r\nLetzte Zeile\r\n",
        ),
        (
            "Übergabe.txt",
            b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
            b'Content-Disposition: attachment; filename="\xc3\x9cbergabe.txt"\r\n',
            "Übergabe am Montag\r\nSchlüssel: 2\r\n".encode(),
        ),
        (
            "Grüße.txt",
            b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n"
            b'Content-Disposition: attachment; filename="=?utf-8?q?Gr=C3=BC=C3=9Fe.txt?="\r\n',
            note,
        ),
        (
            "Zählerstände.csv",
            b"Content-Type: text/csv; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename*=utf-8''Z%C3%A4hlerst%C3%A4nde.csv\r\n",
            csv,
        ),
        (
            "Prüfprotokoll.bin",
            b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename*=utf-8''Pr%C3%BCfprotokoll.bin\r\n",
            binary,
        ),
        (
            "zähler.png",
            b"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n"
            b'Content-Disposition: attachment; filename="=?iso-8859-1?q?z=E4hler.png?="\r\n',
            png,
        ),
    ]


def _encode(headers: bytes, data: bytes) -> bytes:
    if b"base64" in headers:
        return base64.encodebytes(data).replace(b"\n", b"\r\n")
    if b"quoted-printable" in headers:
        # hard line breaks stay CRLF; non-ASCII as =XX (what Outlook and Thunderbird send)
        lines = data.split(b"\r\n")
        encoded = [
            b"".join(b"=%02X" % c if c > 126 or c == 61 else bytes([c]) for c in line) for line in lines
        ]
        return b"\r\n".join(encoded)
    return data


def attachment_mix(message_id: str = "mix-1@firma.example") -> tuple[bytes, dict[str, str]]:
    """The raw mail (CRLF) and {file name: SHA-256 of the attached bytes}."""
    out = [
        b"From: Karla Kunde <kunde@firma.example>\r\nTo: service@nordlicht.example\r\n",
        b"Subject: Unterlagen\r\nMessage-ID: <" + message_id.encode() + b">\r\n",
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="' + BOUNDARY.encode() + b'"\r\n\r\n',
        b"--"
        + BOUNDARY.encode()
        + b"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAnbei die Unterlagen.\r\n",
    ]
    sums: dict[str, str] = {}
    for name, headers, data in _files():
        body = _encode(headers, data)
        # the line break before a delimiter belongs to the delimiter (RFC 2046 §5.1.1)
        out.append(b"--" + BOUNDARY.encode() + b"\r\n" + headers + b"\r\n" + body + b"\r\n")
        sums[name] = hashlib.sha256(data).hexdigest()
    out.append(b"--" + BOUNDARY.encode() + b"--\r\n")
    return b"".join(out), sums
