"""Faxes from the edge to ingest: the durable fax queue, and the preparer that renders
each fax's pages and reads its text before the fax is stored and routed.

Why before: routing rules and search read a message's text when it is stored, so a fax
must arrive with its text. The edge therefore only stores the document (content
addressed, fsynced) and appends a *job* to the fax queue before it answers the gateway.
The preparer (one per deployment, by lease) claims a job, renders and reads it, appends
the finished message to the ingest queue, and only then acks the job. A crash at any
point leaves the job on the queue; it is claimed again (``reclaim_stale``) and the
finished message, appended twice at worst, is stored once: ``(channel, external_id)``
is unique. A job that keeps failing goes to the dead letters after N attempts.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time

from connectors.base import ConnectorContext, ConnectorState, ReceivedFax
from connectors.fax.ocr import OcrFailed, read_page
from connectors.fax.payloads import fax_job, finished, page_names
from connectors.fax.provider import PDF
from connectors.fax.render import Page, Rendered, render
from hub.errors import InputError, ServiceUnavailable
from hub.model import Attachment, InboundMessage
from hub.queue.base import Claimed, IngestQueue
from hub.queue.codec import decode_message
from hub.text.addresses import mask
from hub.transient import is_transient

log = logging.getLogger("contacthub.fax")


def fax_jobs(ctx: ConnectorContext) -> IngestQueue[InboundMessage]:
    if "fax" not in ctx.services.jobs:
        raise RuntimeError("the fax queue is not open: enable connectors.fax")
    return ctx.services.jobs["fax"]


async def accept_fax(ctx: ConnectorContext, fax: ReceivedFax) -> InboundMessage:
    """Store the document and queue the job; durable when it returns."""
    if not fax.document.data:
        raise InputError("file: the fax document is empty", field="file")
    data = fax.document.data
    document = Attachment(
        sha256=await ctx.blobs.put(data),
        filename=_safe_name(fax.document.filename, fax.document.content_type),
        content_type=fax.document.content_type or "application/octet-stream",
        size=len(data),
    )
    job = fax_job(fax, document, region=ctx.settings.phone.default_region, received_at=ctx.clock())
    started = time.perf_counter()
    await fax_jobs(ctx).append(job)
    ctx.metrics.stage.labels("append").observe(time.perf_counter() - started)
    ctx.metrics.accepted.labels("fax").inc()
    log.info(
        "fax accepted",
        extra={
            "channel": "fax",
            "external_id": job.external_id,
            "sender": mask(job.sender.kind, job.sender.value),
            "bytes": len(data),
        },
    )
    return job


def ocr_on(languages: str) -> str:
    return f"OCR on ({languages})"


def _safe_name(raw: str, content_type: str) -> str:
    name = "".join(ch for ch in raw.replace("\\", "/").rsplit("/", 1)[-1] if ch.isprintable()).strip()
    if not name or name in (".", ".."):
        name = "fax.pdf" if content_type == PDF else "fax"
    return name[:200]


class FaxPreparer:
    """Runs until cancelled; a failure is logged, reported in the state, and retried."""

    name = "prepare"

    def __init__(self, ctx: ConnectorContext, *, ocr_off: str | None, state: ConnectorState) -> None:
        self._ctx = ctx
        self._settings = ctx.settings.connectors.fax
        self._ocr_off = ocr_off
        self._state = state
        self._consumer = f"{socket.gethostname()}-{os.getpid()}-fax"
        self._stale_ms = ctx.settings.queue.stale_after_ms

    async def run(self) -> None:
        jobs = fax_jobs(self._ctx)
        backoff = 0.2
        last_reclaim = 0.0
        while True:
            try:
                if time.monotonic() - last_reclaim > self._stale_ms / 2000:
                    last_reclaim = time.monotonic()
                    moved = await jobs.reclaim_stale(self._stale_ms)
                    if moved:
                        log.warning("fax: took over %d jobs of a stopped preparer", moved)
                for entry in await jobs.claim(self._consumer, 1, 500):
                    await self._one(jobs, entry)
                backoff = 0.2
            except Exception as exc:
                # the job stays claimed and is taken over once stale; nothing is lost
                if is_transient(exc) or isinstance(exc, ServiceUnavailable):
                    log.warning("fax: store or queue unreachable, retrying in %.1fs: %r", backoff, exc)
                else:
                    log.exception("fax preparer error, retrying in %.1fs", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _one(self, jobs: IngestQueue[InboundMessage], entry: Claimed) -> None:
        try:
            job = decode_message(entry.payload)
        except ValueError as exc:
            await jobs.retry_later(entry.id, str(exc))
            return
        try:
            msg = await self.prepare(job)
        except Exception as exc:
            if is_transient(exc):
                raise
            log.exception("fax not prepared: external_id=%s attempt=%d", job.external_id, entry.attempts + 1)
            await jobs.retry_later(entry.id, repr(exc))
            return
        await self._ctx.queue.append(msg)  # durable; a crash before the ack repeats it, stored once
        await jobs.ack([entry.id])

    async def prepare(self, job: InboundMessage) -> InboundMessage:
        """The job's pages rendered and stored, its text read: the message to ingest."""
        started = time.perf_counter()
        document = job.attachments[0]
        data = await self._ctx.blobs.get(document.sha256)
        s = self._settings
        rendered: Rendered = await asyncio.to_thread(render, data, dpi=s.render_dpi, max_pages=s.max_pages)
        pages = [await self._store_page(p) for p in rendered.pages]
        made_pdf = None
        if rendered.pdf is not None:
            stem = document.filename.rsplit(".", 1)[0] or "fax"
            made_pdf = Attachment(
                sha256=await self._ctx.blobs.put(rendered.pdf),
                filename=f"{stem}.pdf",
                content_type=PDF,
                size=len(rendered.pdf),
            )
        texts, ocr = await self._read(rendered.pages) if not rendered.error else ([], "none")
        msg = finished(
            job,
            pages=pages,
            total_pages=rendered.total_pages,
            made_pdf=made_pdf,
            render_error=rendered.error,
            texts=texts,
            ocr=ocr,
        )
        log.info(
            "fax prepared",
            extra={
                "channel": "fax",
                "external_id": job.external_id,
                "pages": len(pages),
                "render": msg.meta.get("render"),
                "ocr": msg.meta.get("ocr"),
                "seconds": round(time.perf_counter() - started, 2),
            },
        )
        return msg

    async def _store_page(self, page: Page) -> tuple[Attachment, Attachment]:
        full_name, thumb_name = page_names(page.number)
        full = Attachment(
            sha256=await self._ctx.blobs.put(page.full),
            filename=full_name,
            content_type="image/png",
            size=len(page.full),
        )
        thumb = Attachment(
            sha256=await self._ctx.blobs.put(page.thumb),
            filename=thumb_name,
            content_type="image/png",
            size=len(page.thumb),
        )
        return full, thumb

    async def _read(self, pages: tuple[Page, ...]) -> tuple[list[str], str]:
        if self._ocr_off is not None:
            return [], "off"
        s = self._settings
        texts = []
        try:
            for page in pages:
                texts.append(
                    await read_page(
                        page.full,
                        command=s.tesseract,
                        languages=s.ocr_languages,
                        limit_s=s.ocr_timeout_seconds,
                    )
                )
        except OcrFailed as exc:  # the fax is still stored and routed, without its text
            log.warning("fax OCR failed: %s", exc, extra={"channel": "fax"})
            self._state.set("transient_failure", f"OCR failed on the last fax: {exc}")
            return texts, "failed"
        self._state.set("connected", ocr_on(s.ocr_languages))
        return texts, "done"
