"""Replies by fax: the agent's text on letterhead, and any uploaded PDFs after it, sent
through the gateway ``send_via`` names. The gateway reports delivery to
``/webhooks/fax/<gateway>?id=<reply>``.

A refusal that cannot change (a bad number, bad keys, a file that is not a PDF) fails
the reply at once; an outage or a 5xx is retried by the outbox.
"""

from __future__ import annotations

import asyncio

from connectors.base import ConnectorContext, Outbound, SendFailed, Sent
from connectors.fax.gateways import callback_base, gateways
from connectors.fax.letterhead import NotAPdf, combine, letter_pdf
from connectors.fax.provider import PDF, OutgoingFax
from hub.errors import ConfigError


class FaxSender:
    carries_attachments = True

    def __init__(self, ctx: ConnectorContext) -> None:
        settings = ctx.settings.connectors.fax
        via = settings.send_via
        found = gateways(ctx.settings)
        if via is None or via not in found:
            raise ConfigError(f"connectors.fax.send_via: configure [connectors.fax.{via}] to send through it")
        if not found[via].can_send:
            raise ConfigError(f"connectors.fax.{via}: set the gateway's API credentials to send faxes")
        self._ctx = ctx
        self._gateway = found[via]
        self._letterhead = settings.letterhead
        base = callback_base(ctx.settings)
        if base is None:
            raise ConfigError("connectors.fax.public_url: set the URL gateways report delivery to")
        self._base = base
        self._state = ctx.services.state(f"fax:send_{via}")

    async def document(self, item: Outbound) -> tuple[bytes, int]:
        """The PDF to send and its pages. Raises SendFailed (permanent) for other files."""
        others = [a.filename for a in item.attachments if not _is_pdf(a.content_type, a.filename)]
        if others:
            raise SendFailed(
                f"a fax carries PDF files only, not {', '.join(others)}", permanent=True, code="file"
            )
        parts = [await self._ctx.blobs.get(a.sha256) for a in item.attachments]
        if item.text.strip():
            cover = await asyncio.to_thread(
                letter_pdf,
                item.text,
                self._letterhead,
                to=item.recipient,
                sender=item.sender,
                on=self._ctx.clock().date(),
            )
            parts.insert(0, cover)
        try:
            return await asyncio.to_thread(combine, parts)
        except NotAPdf as exc:
            raise SendFailed(str(exc), permanent=True, code="file") from exc

    async def send(self, item: Outbound) -> Sent:
        pdf, pages = await self.document(item)
        fax = OutgoingFax(
            reply_id=item.id,
            to=item.recipient,
            sender=item.sender,
            pdf=pdf,
            callback_url=f"{self._base}/webhooks/fax/{self._gateway.name}?id={item.id}",
        )
        try:
            fax_id = await self._gateway.send(self._ctx.http, fax)
        except SendFailed as exc:
            if exc.code in ("401", "403"):
                self._state.set("bad_credentials", str(exc))
            elif not exc.permanent:  # a refused fax (a bad number) says nothing of the gateway
                self._state.set("transient_failure", str(exc))
            raise
        self._state.set("connected")
        return Sent((fax_id,), {"fax": {"gateway": self._gateway.name, "pages": pages, "bytes": len(pdf)}})

    async def close(self) -> None:
        return None


def _is_pdf(content_type: str, filename: str) -> bool:
    return content_type == PDF or filename.lower().endswith(".pdf")
