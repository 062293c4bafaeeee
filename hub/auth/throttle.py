"""Sign-in throttling: attempts are counted per email and per client address.

Each attempt is counted BEFORE the password (or code) is looked at, by one statement: an
upsert on the key's row in ``login_attempts`` that adds one and returns the new count.
The database serialises the upserts of one key (a row lock on PostgreSQL, the single
writer on SQLite), so 40 parallel attempts see the counts 1 to 40 and only the first
``per_email`` are checked; a read-then-insert let them all through. In the database,
every hub process behind a load balancer counts the same attempts.

A window starts with a key's first attempt and lasts ``window``; after ``per_email``
failed attempts for one email, or ``per_ip`` from one address, further attempts are
refused with TooManyRequests (and not counted) until the window ends. An attempt that
turns out not to be a failure (the password was right) is given back; a sign-in
clears the email's count.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from hub.errors import TooManyRequests
from hub.store.engine import Store
from hub.store.tables import login_attempts
from hub.store.times import utc

a = login_attempts.c


class LoginThrottle:
    """Counts sign-in attempts in the store. ``email`` is passed normalised (lower case)."""

    def __init__(self, store: Store, *, per_email: int, per_ip: int, window: timedelta) -> None:
        self._store = store
        self._per_email = per_email
        self._per_ip = per_ip
        self._window = window

    async def attempt(self, email: str, ip: str, now: datetime) -> None:
        """Count one attempt for the email and the address; raise TooManyRequests (with
        the seconds until the window ends) when either is over its limit. Nothing may be
        verified before this returned."""
        keys = _keys(email, ip)
        refused: tuple[Any, str] | None = None
        async with self._store.write() as conn:
            counted = {r.key: r for r in await conn.execute(self._count(keys, now))}
            for key, limit, what in (
                (keys[0], self._per_email, "for this account"),
                (keys[1], self._per_ip, "from your address"),
            ):
                if counted[key].attempts > limit:
                    refused = counted[key], what
                    break
            if refused is not None:
                # not checked, so not a failure: the count stays; the upsert's row locks
                # (held until this commits) still made the decision atomic
                for key in keys:
                    await conn.execute(_uncount(key))
            await conn.execute(self._prune(now))
        if refused is not None:
            row, what = refused
            wait = max(1, math.ceil((utc(row.window_start) + self._window - now).total_seconds()))
            raise TooManyRequests(
                f"too many failed sign-ins {what}; try again in {_minutes(wait)}", retry_after=wait
            )

    async def give_back(self, email: str, ip: str) -> None:
        """The attempt was not a failure (right password, but more is needed first)."""
        async with self._store.write() as conn:
            for key in _keys(email, ip):  # in the order attempt() locks them: no deadlock
                await conn.execute(_uncount(key))

    async def succeeded(self, email: str, ip: str) -> None:
        """A correct sign-in: the email's count starts again; the address gets its attempt back."""
        email_key, ip_key = _keys(email, ip)
        async with self._store.write() as conn:
            await conn.execute(sa.delete(login_attempts).where(a.key == email_key))
            await conn.execute(_uncount(ip_key))

    def _count(self, keys: Sequence[str], now: datetime) -> Any:
        """INSERT ... ON CONFLICT (key) DO UPDATE: one more attempt, or the first of a new
        window when the key's window has ended; RETURNING the counts."""
        insert = (postgresql.insert if self._store.dialect == "postgresql" else sqlite.insert)(login_attempts)
        stmt = insert.values([{"key": k, "attempts": 1, "window_start": now} for k in keys])
        ended = a.window_start <= now - self._window
        return stmt.on_conflict_do_update(
            index_elements=[a.key],
            set_={
                "attempts": sa.case((ended, 1), else_=a.attempts + 1),
                "window_start": sa.case((ended, stmt.excluded.window_start), else_=a.window_start),
            },
        ).returning(a.key, a.attempts, a.window_start)

    def _prune(self, now: datetime) -> Any:
        """Forget keys whose window has ended. Rows another attempt holds are skipped
        (PostgreSQL), so the prune never waits on, or deadlocks with, an attempt."""
        ended = (
            sa.select(a.key)
            .where(a.window_start <= now - self._window)
            .limit(100)
            .with_for_update(skip_locked=True)
        )
        return sa.delete(login_attempts).where(a.key.in_(ended.scalar_subquery()))


def _keys(email: str, ip: str) -> list[str]:
    return [f"email:{email}"[:400], f"ip:{ip[:64]}"]


def _uncount(key: str) -> Any:
    return sa.update(login_attempts).where(a.key == key, a.attempts > 0).values(attempts=a.attempts - 1)


def _minutes(seconds: int) -> str:
    if seconds < 60:
        return f"{max(1, seconds)} seconds"
    minutes = math.ceil(seconds / 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"
