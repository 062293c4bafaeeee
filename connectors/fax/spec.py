"""The fax connector's SPEC: how the app enables and wires it.

Its modules are imported when the app wires it, so a hub loads only the connectors it
has enabled (see connectors/registry.py): the fax's PDF and OCR libraries are heavy."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence

from connectors.base import ConnectorContext, ConnectorSpec, RunsInBackground, Sender
from hub.model import Channel
from hub.routespec import RouteSpec

log = logging.getLogger("contacthub.fax")


def _preparer(ctx: ConnectorContext) -> Sequence[RunsInBackground]:
    """The fax reader. OCR switched off by settings is "stopped"; OCR wanted but not
    possible here (no Tesseract, a language missing) is "degraded", said once at start-up
    and in GET /api/v1/channels: faxes still arrive, with their pages and no text."""
    from connectors.fax.ocr import ocr_unavailable
    from connectors.fax.prepare import FaxPreparer, ocr_on

    settings = ctx.settings.connectors.fax
    state = ctx.services.state("fax:ocr")
    if not settings.ocr:
        off: str | None = "OCR off by settings (connectors.fax.ocr)"
        state.set("stopped", off)
    elif off := ocr_unavailable(settings.tesseract, settings.ocr_languages):
        log.warning("fax: %s; faxes arrive with their pages but without text", off)
        state.set("degraded", off)
    else:
        state.set("connected", ocr_on(settings.ocr_languages))
    return [FaxPreparer(ctx, ocr_off=off, state=state)]


def _routes(ctx: ConnectorContext) -> list[RouteSpec]:
    from connectors.fax.connector import routes

    return routes(ctx)


def _sender(ctx: ConnectorContext) -> Sender:
    from connectors.fax.sender import FaxSender

    return FaxSender(ctx)


def _offers(ctx: ConnectorContext) -> None:
    from connectors.fax.prepare import accept_fax

    # how another connector (email-to-fax gateway mail) hands a fax to this one
    ctx.services.fax_intake = functools.partial(accept_fax, ctx)


SPEC = ConnectorSpec(
    name="fax",
    channel=Channel.FAX,
    enabled=lambda settings: settings.connectors.fax.enabled,
    routes=_routes,
    sender=_sender,
    sends=lambda settings: settings.connectors.fax.send_via is not None,
    background=_preparer,
    jobs=True,  # faxes wait there for their pages and OCR before ingest
    offers=_offers,
)
