"""The router's inbox: a durable queue stream of hints ("look at these conversations or
agents again"). Ingest workers and agent actions in any process append after their
commit; the active router reads them. A hint carries ids only: the store is the truth,
so a hint read twice, or late, does no harm, and a lost one is repaired by the rebuild
a router does when it takes over."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from hub.queue.base import Claimed, IngestQueue

STREAM = "routing"
Inbox = IngestQueue[dict[str, Any]]


def encode_hint(hint: dict[str, Any]) -> bytes:
    return orjson.dumps(hint)


async def notify(inbox: Inbox, *, conversations: Iterable[str] = (), agents: Iterable[str] = ()) -> None:
    hint: dict[str, Any] = {}
    if conv_ids := sorted(set(conversations)):
        hint["c"] = conv_ids
    if agent_ids := sorted(set(agents)):
        hint["a"] = agent_ids
    if hint:
        await inbox.append(hint)


def read_hints(entries: Sequence[Claimed]) -> tuple[set[str], set[str]]:
    """Conversation ids and agent ids named by a batch of hints; bad entries are skipped."""
    conversations: set[str] = set()
    agents: set[str] = set()
    for entry in entries:
        try:
            hint = orjson.loads(entry.payload)
        except orjson.JSONDecodeError:
            continue
        if isinstance(hint, dict):
            conversations.update(str(c) for c in hint.get("c", ()))
            agents.update(str(a) for a in hint.get("a", ()))
    return conversations, agents
