"""A fax document's pages to images: PDF (pdfium) or TIFF (Pillow), each page a PNG at
the configured resolution and a PNG thumbnail. CPU only, no files and no network; the
preparer runs it in a worker thread.

A document that is neither, or one that cannot be read, is not an error here: the
result says why (``error``), and the fax is kept with its original attached. Fax TIFFs
in "normal" mode have half the vertical resolution (204×98 dpi); their pages are
stretched to square pixels so they do not look squashed.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass

import pypdfium2 as pdfium
from PIL import Image, ImageSequence, UnidentifiedImageError

THUMB_WIDTH = 200
MAX_SIDE = 4000  # pixels: a page larger than this at the chosen dpi is scaled down
PDFIUM_LOCK = threading.Lock()  # pdfium is not thread-safe: every use holds it


@dataclass(frozen=True, slots=True)
class Page:
    number: int  # from 1
    full: bytes  # PNG
    thumb: bytes  # PNG
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Rendered:
    kind: str  # pdf, tiff or unknown
    pages: tuple[Page, ...] = ()
    total_pages: int = 0
    error: str | None = None  # why it could not be rendered
    pdf: bytes | None = None  # a PDF made from a TIFF, for those who want to download one


def sniff(data: bytes) -> str:
    """pdf, tiff or unknown, by the bytes (never by the name or type a sender gave)."""
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    return "unknown"


def render(data: bytes, *, dpi: int, max_pages: int) -> Rendered:
    kind = sniff(data)
    if kind == "pdf":
        return _render_pdf(data, dpi, max_pages)
    if kind == "tiff":
        return _render_tiff(data, max_pages)
    return Rendered(kind, error="could not render: the document is neither a PDF nor a TIFF")


def _render_pdf(data: bytes, dpi: int, max_pages: int) -> Rendered:
    pages: list[Page] = []
    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            return Rendered("pdf", error=f"could not render: the PDF cannot be read ({exc})")
        try:
            total = len(pdf)
            if total == 0:
                return Rendered("pdf", error="could not render: the PDF has no pages")
            for n in range(min(total, max_pages)):
                page = pdf[n]
                try:
                    width, height = page.get_size()
                    scale = min(dpi / 72, MAX_SIDE / max(width, height, 1))
                    image = page.render(scale=scale, grayscale=True).to_pil()
                finally:
                    page.close()
                pages.append(_page(n + 1, image))
        except pdfium.PdfiumError as exc:
            return Rendered("pdf", error=f"could not render: page {len(pages) + 1} cannot be read ({exc})")
        finally:
            pdf.close()
    return Rendered("pdf", tuple(pages), total)


def _render_tiff(data: bytes, max_pages: int) -> Rendered:
    pages: list[Page] = []
    frames: list[Image.Image] = []
    try:
        with Image.open(io.BytesIO(data)) as tiff:
            total = getattr(tiff, "n_frames", 1)
            for n, frame in enumerate(ImageSequence.Iterator(tiff)):
                if n >= max_pages:
                    break
                image = _square_pixels(frame)
                frames.append(image)
                pages.append(_page(n + 1, image))
        pdf = io.BytesIO()
        frames[0].save(pdf, "PDF", save_all=True, append_images=frames[1:], resolution=200.0)
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,
        EOFError,
        Image.DecompressionBombError,
        Warning,  # Pillow warns of corrupt tags first; an error where warnings are errors
    ) as exc:
        return Rendered("tiff", error=f"could not render: the TIFF cannot be read ({exc})")
    return Rendered("tiff", tuple(pages), total, pdf=pdf.getvalue())


def _square_pixels(frame: Image.Image) -> Image.Image:
    image = frame.convert("L")
    dpi = frame.info.get("dpi")
    try:
        x, y = (float(d) for d in dpi) if isinstance(dpi, tuple) and len(dpi) == 2 else (0.0, 0.0)
    except (TypeError, ValueError, ZeroDivisionError):  # a TIFF's resolution is the sender's word
        x, y = 0.0, 0.0
    if x > 0 and y > 0 and abs(x - y) > 1 and 0.25 <= x / y <= 4:
        image = image.resize((image.width, round(image.height * x / y)))
    if max(image.size) > MAX_SIDE:
        image.thumbnail((MAX_SIDE, MAX_SIDE))
    return image


def _page(number: int, image: Image.Image) -> Page:
    if image.mode not in ("L", "1"):
        image = image.convert("L")
    thumb = image.copy()
    thumb.thumbnail((THUMB_WIDTH, THUMB_WIDTH * 2))
    return Page(number, _png(image), _png(thumb), image.width, image.height)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()
