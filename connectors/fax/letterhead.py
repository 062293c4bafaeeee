"""An agent's text as a fax: a PDF on A4 with the letterhead from the settings (name,
address lines, footer), the recipient, the date and page numbers. Pure: in memory.

Uploaded PDFs are appended after it (or sent alone, without text), with pdfium.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from xml.sax.saxutils import escape

import pypdfium2 as pdfium
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer

from connectors.fax.render import PDFIUM_LOCK
from connectors.fax.settings import FaxLetterhead

BODY = ParagraphStyle("body", fontName="Helvetica", fontSize=11, leading=15, spaceAfter=6)
HEAD = ParagraphStyle("head", fontName="Helvetica-Bold", fontSize=16, leading=20)
SMALL = ParagraphStyle("small", fontName="Helvetica", fontSize=9, leading=12)


class NotAPdf(ValueError):
    pass


def letter_pdf(text: str, letterhead: FaxLetterhead, *, to: str, sender: str | None, on: date) -> bytes:
    """The text on letterhead paper, as PDF bytes."""
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=25 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=25 * mm,
        title=f"Fax {letterhead.name}",
        author=letterhead.name,
    )
    story: list[Flowable] = [Paragraph(escape(letterhead.name), HEAD)]
    story += [Paragraph(escape(line), SMALL) for line in letterhead.lines]
    story.append(Spacer(1, 8 * mm))
    facts = [f"An / To: {to}", *([f"Von / From: {sender}"] if sender else []), f"Datum / Date: {on:%d.%m.%Y}"]
    story += [Paragraph(escape(line), SMALL) for line in facts]
    story.append(Spacer(1, 8 * mm))
    for block in text.replace("\r\n", "\n").split("\n\n"):
        story.append(Paragraph(escape(block).replace("\n", "<br/>") or "&nbsp;", BODY))
    footer = letterhead.footer

    def decorate(canvas: Canvas, document: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        width, _ = A4
        if footer:
            canvas.drawString(25 * mm, 12 * mm, footer[:150])
        canvas.drawRightString(width - 20 * mm, 12 * mm, f"Seite / Page {document.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return out.getvalue()


def combine(parts: Sequence[bytes]) -> tuple[bytes, int]:
    """One PDF of several, in order, and its page count. Raises NotAPdf naming the part."""
    with PDFIUM_LOCK:
        merged = pdfium.PdfDocument.new()
        try:
            for n, data in enumerate(parts):
                try:
                    part = pdfium.PdfDocument(data)
                except pdfium.PdfiumError as exc:
                    raise NotAPdf(f"file {n + 1} is not a readable PDF ({exc})") from exc
                try:
                    merged.import_pages(part)
                finally:
                    part.close()
            out = io.BytesIO()
            merged.save(out)
            return out.getvalue(), len(merged)
        finally:
            merged.close()
