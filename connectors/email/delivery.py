"""What becomes of one mail a watcher read: a bounce of one of our replies marks that
reply undelivered; mail from an email-to-fax gateway becomes a fax; anything else is
stored (its parts in the blob store) and put on the ingest queue. Durable when it returns,
so the watcher may move its cursor past the mail."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from connectors.base import ConnectorContext
from connectors.email.fax_gateway import gateway_fax
from connectors.email.inbound import bounced_reply, our_addresses, stored_inbound
from connectors.email.payloads import ParsedMail
from connectors.email.settings import MailboxSettings


def deliverer(
    ctx: ConnectorContext,
    name: str,
    mailbox: MailboxSettings,
    parse: Callable[[bytes], Awaitable[ParsedMail]],
) -> Callable[[bytes], Awaitable[None]]:
    """The delivery of mailbox ``name``'s mail, as its watcher calls it with the raw bytes;
    ``parse`` is ``parse_pool.MailParser.parse``."""
    domain = ctx.settings.connectors.email.domain
    ours = our_addresses(ctx.settings.connectors.email)

    async def deliver(raw: bytes) -> None:
        parsed = await parse(raw)
        bounced = bounced_reply(parsed, domain)
        if bounced is not None and bounced.permanent:  # a delivery failure of that reply
            code = bounced.status or "bounce"
            if await ctx.report_delivery(bounced.reply_id, bounced.message_id, "undelivered", code):
                return
        fax = gateway_fax(parsed, raw, mailbox.fax_gateway) if mailbox.fax_gateway else None
        if fax is not None:  # an email-to-fax gateway's mail: a fax, pages and OCR to come
            await ctx.accept_fax(fax)
            return
        await ctx.queue.append(await stored_inbound(parsed, raw, name, mailbox, ctx.blobs, ctx.clock(), ours))

    return deliver
