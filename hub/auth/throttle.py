"""Sign-in throttling: failed attempts are counted per email and per client address.

The failures live in the ``login_failures`` table, so every hub process behind a load
balancer counts the same attempts. After ``per_email`` failures for one email, or
``per_ip`` from one address, within the window, ``check`` refuses further attempts with
TooManyRequests until enough of them have aged out; it never looks at a password.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.errors import TooManyRequests
from hub.store.engine import Store
from hub.store.tables import login_failures
from hub.store.times import utc


class LoginThrottle:
    """Counts failed sign-ins in the store. ``email`` is passed normalised (lower case)."""

    def __init__(self, store: Store, *, per_email: int, per_ip: int, window: timedelta) -> None:
        self._store = store
        self._per_email = per_email
        self._per_ip = per_ip
        self._window = window

    async def check(self, email: str, ip: str, now: datetime) -> None:
        """Raise TooManyRequests (with the seconds until the next attempt may be made) when
        the email or the address has used up its failures within the window."""
        since, ip = now - self._window, ip[:64]
        async with self._store.read() as conn:
            for column, key, limit, what in (
                (login_failures.c.email, email, self._per_email, "for this account"),
                (login_failures.c.ip, ip, self._per_ip, "from your address"),
            ):
                # the limit-th most recent failure: once it leaves the window, one more try is allowed
                oldest = await _nth_latest(conn, column, key, since, limit)
                if oldest is not None:
                    wait = math.ceil((utc(oldest) + self._window - now).total_seconds())
                    raise TooManyRequests(
                        f"too many failed sign-ins {what}; try again in {_minutes(wait)}",
                        retry_after=wait,
                    )

    async def failed(self, email: str, ip: str, now: datetime) -> None:
        """Count one failed attempt, and forget those older than the window."""
        async with self._store.write() as conn:
            await conn.execute(sa.delete(login_failures).where(login_failures.c.at < now - self._window))
            await conn.execute(sa.insert(login_failures).values(email=email, ip=ip[:64], at=now))

    async def succeeded(self, email: str) -> None:
        """A correct sign-in: forget that email's failures (the address keeps its count)."""
        async with self._store.write() as conn:
            await conn.execute(sa.delete(login_failures).where(login_failures.c.email == email))


async def _nth_latest(
    conn: AsyncConnection, column: sa.ColumnElement[str], key: str, since: datetime, n: int
) -> datetime | None:
    stmt = (
        sa.select(login_failures.c.at)
        .where(column == key, login_failures.c.at > since)
        .order_by(login_failures.c.at.desc())
        .offset(n - 1)
        .limit(1)
    )
    value: datetime | None = await conn.scalar(stmt)
    return value


def _minutes(seconds: int) -> str:
    if seconds < 60:
        return f"{max(1, seconds)} seconds"
    minutes = math.ceil(seconds / 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"
