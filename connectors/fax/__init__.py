"""Fax: gateway callbacks in (Phaxio, Sinch, generic signed, email-to-fax), each fax's
pages rendered and read (OCR) before it is stored and routed, replies out as PDF through
the outbox, delivery reports back."""

from __future__ import annotations

from collections.abc import Sequence

from connectors.base import ConnectorContext, ConnectorSpec, RunsInBackground
from connectors.fax.connector import routes
from connectors.fax.ocr import ocr_unavailable
from connectors.fax.prepare import FaxPreparer, ocr_on
from connectors.fax.sender import FaxSender
from hub.model import Channel


def _preparer(ctx: ConnectorContext) -> Sequence[RunsInBackground]:
    settings = ctx.settings.connectors.fax
    off = "OCR off by settings (connectors.fax.ocr)" if not settings.ocr else None
    off = off or ocr_unavailable(settings.tesseract, settings.ocr_languages)
    state = ctx.services.state("fax:ocr")
    state.set("stopped" if off else "connected", off or ocr_on(settings.ocr_languages))
    return [FaxPreparer(ctx, ocr_off=off, state=state)]


SPEC = ConnectorSpec(
    name="fax",
    channel=Channel.FAX,
    enabled=lambda settings: settings.connectors.fax.enabled,
    routes=routes,
    sender=FaxSender,
    sends=lambda settings: settings.connectors.fax.send_via is not None,
    background=_preparer,
)
