"""The hub's one clock. The app makes one (``utc_now``) and hands it to every service that
stamps or compares times (the router, agent actions, replies, delivery reports, the
outbox, connectors), so a test can hand them all the same fake one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)
