"""Agents' chat replies: put in the visitor's widget feed and pushed to their sockets.

The hub hands the sender one service, ``Services.chat``, that writes the reply to the
feed (once, however often the outbox retries) and publishes it to every hub process. A
reply is ``sent`` once it is in the feed: the visitor gets it live, or at their next
visit; their ``read`` marks it delivered.
"""

from __future__ import annotations

from connectors.base import ConnectorContext, Outbound, SendFailed, Sent


class ChatSender:
    carries_attachments = True  # the widget links the files from the blob store

    def __init__(self, ctx: ConnectorContext) -> None:
        self._ctx = ctx

    async def send(self, item: Outbound) -> Sent:
        deliver = self._ctx.services.chat
        if deliver is None:
            raise SendFailed("the widget feed is not open yet", permanent=False)
        seq = await deliver(item.id, item.attachments)
        if seq is None:
            raise SendFailed("the reply's message is gone (erased)", permanent=True, code="gone")
        return Sent(provider_ids=(f"feed:{seq}",))

    async def close(self) -> None:
        """Nothing to release: the feed is the hub's."""
