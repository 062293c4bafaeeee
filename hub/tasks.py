"""Stopping asyncio tasks without losing the caller's own cancellation.

``task.cancel()`` then ``with suppress(CancelledError): await task`` has a flaw: if the
caller is cancelled while it waits, the CancelledError it receives is swallowed as if it
were the task's, and a caller that loops goes on for ever. A library can swallow a cancel
too (redis-py may, in mid-command). A shutdown that waits for such a loop never ends.
"""

from __future__ import annotations

import asyncio
from typing import Any


async def stop(task: asyncio.Future[Any]) -> None:
    """Cancel ``task`` and wait until it has ended, whatever it raises (ask the task for
    its exception). If the caller is cancelled meanwhile, that is raised once the task
    has ended."""
    task.cancel()
    cancelled = False
    while not task.done():
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError


def raise_if_cancelled() -> None:
    """Raise CancelledError if this task was asked to stop and something swallowed the
    request: a loop checks this before each round."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
