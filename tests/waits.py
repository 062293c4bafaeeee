"""The one way tests wait: for an event, with a deadline.

A fixed sleep either wastes time on a quiet machine or flakes on a busy one; a check
polled until it holds (or its deadline passes, which fails the test with what it waited
for) does neither. The deadline is generous: it bounds a hang, it measures nothing.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any


async def eventually(
    check: Callable[[], Any],
    timeout: float = 20,
    what: str | Callable[[], str] = "",
    interval: float = 0.02,
) -> Any:
    """Call ``check`` (plain or async) until it returns something truthy, and return
    that; fail after ``timeout`` seconds, naming ``what`` it waited for (a callable is
    asked at that moment, so it can say how far things got)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {_said(what) or check}"
        await asyncio.sleep(interval)


def _said(what: str | Callable[[], str]) -> str:
    return what() if callable(what) else what
