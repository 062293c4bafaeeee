"""Watching one IMAP folder: every new mail is handed to ``deliver`` once, in UID order.

``MailboxWatcher.run`` connects, logs in, selects the folder and fetches what arrived
after the cursor (``MailCursors``: the folder's UIDVALIDITY and the last UID handed
over). Each mail is delivered, then marked as ``after`` says, and only then the cursor
moves on, so a crash or a failed delivery repeats a mail rather than losing one (the hub
dedupes on Message-ID). No command asks for an answer that grows with the mailbox: the
folder is listed in UID windows (see ``MailboxWatcher._drain``). Then it waits for new
mail in IDLE (or polls without it), and reconnects with backoff on any failure. No table
access, no ``hub.web``; it speaks IMAP only through ``connectors.email.imap``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from connectors.base import ConnectorState, MailCursors
from connectors.email.imap import RETRYABLE, ImapConnection, ImapFailure, LoginRefused, describe
from connectors.email.settings import MailboxSettings
from hub.errors import ConfigError
from hub.tasks import stop
from hub.text.addresses import mask
from hub.transient import is_transient

log = logging.getLogger("contacthub.email")
T = TypeVar("T")

BATCH_BYTES = 8 * 1024 * 1024  # bodies fetched per round trip, at most (one mail always)
# Mails per FETCH: a batch's delivery overlaps the next one's fetch, and its mails share
# one queue write, one ingest transaction and one cursor update (50: 342 mails/s drained;
# 200: 428, bench/mail.py backlog, embedded)
BATCH_MAILS = 200
# UIDs listed per round trip, at most: an IMAP answer must never grow with the mailbox
# (aioimaplib 2.0 recurses once per response line; see ``MailboxWatcher._drain``)
WINDOW = 250


@dataclass(frozen=True, slots=True)
class _Delivery:
    """A fetched batch and the task that delivers it."""

    fetched: list[tuple[int, bytes]]
    task: asyncio.Future[None]


class HubSideFailure(Exception):
    """``deliver`` raised, or the cursors are briefly unreachable: the mail stays after
    the cursor and is tried again on the same connection."""


class MailboxWatcher:
    """Follows ``settings.folder`` of one mailbox until cancelled; see the module doc.

    ``state`` tells how it is doing: ``connected`` after SELECT, ``transient_failure``
    while it retries (connection, timeouts, BYE, a failing ``deliver`` or cursor store),
    ``bad_credentials`` when LOGIN is refused (retried every ``backoff_cap_s`` only) and
    ``stopped`` at the end. A refused ``after`` action (a missing ``move_to`` folder, say)
    counts as transient: the mail is delivered again on the next try. ``ssl_context``
    replaces the system trust store for ``tls`` and ``starttls``. Never logs bodies or
    full addresses.

    Raises ``ConfigError`` for ``after = "move"`` without ``move_to``.
    """

    def __init__(
        self,
        name: str,
        settings: MailboxSettings,
        *,
        deliver: Callable[[bytes], Awaitable[None]],
        cursors: MailCursors,
        state: ConnectorState,
        backoff_cap_s: float = 60.0,
        ssl_context: ssl.SSLContext | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        if settings.after == "move" and not settings.move_to:
            raise ConfigError(f'connectors.email.mailboxes.{name}.move_to: needed for after = "move"')
        self.name = name
        self.settings = settings
        self._deliver = deliver
        self._cursors = cursors
        self._state = state
        self._cap = backoff_cap_s
        self._ssl = ssl_context
        self._timeout = timeout_s
        self._failures = 0  # since the last successful login
        self._extra = {"channel": "email", "mailbox": name}

    async def run(self) -> None:
        """Watch until cancelled. Raises only what is neither an IMAP nor a transient
        failure (a bug in ``cursors``, say), after logging it."""
        try:
            while True:
                try:
                    await self._session()
                except LoginRefused as exc:
                    self._state.set("bad_credentials", str(exc))
                    user = mask("email", self.settings.user)
                    log.warning("login for %s refused: %s", user, exc, extra=self._extra)
                    await asyncio.sleep(self._cap)
                except Exception as exc:
                    if not (isinstance(exc, RETRYABLE) or is_transient(exc)):
                        log.exception("mailbox watcher failed", extra=self._extra)
                        self._state.set("stopped", f"failed: {exc!r}")
                        raise
                    await self._back_off(describe(exc), self._failures)
                    self._failures += 1
        finally:
            if self._state.state != "stopped":
                self._state.set("stopped")

    async def _back_off(self, reason: str, attempt: int) -> None:
        self._state.set("transient_failure", reason)
        delay = random.uniform(0, min(self._cap, 2.0**attempt))  # full jitter
        log.warning("%s; retrying in %.1fs", reason, delay, extra=self._extra)
        await asyncio.sleep(delay)

    async def _session(self) -> None:
        s = self.settings
        conn = await ImapConnection.open(s.host, s.port, s.security, self._ssl, self._timeout)
        try:
            await conn.login(s.user, s.password.get_secret_value())
            self._failures = 0
            uidvalidity = await conn.select(s.folder)
            self._state.set("connected")
            how = "IDLE" if conn.can_idle else f"polling every {s.poll_seconds:g}s"
            user = mask("email", s.user)
            log.info("watching %s on %s as %s (%s)", s.folder, s.host, user, how, extra=self._extra)
            await self._follow(conn, uidvalidity)
        finally:
            await conn.close()

    async def _follow(self, conn: ImapConnection, uidvalidity: int) -> None:
        last: int | None = None
        failed = 0
        while True:
            try:
                if last is None:
                    last = await self._start_at(uidvalidity)
                before = last
                last = await self._drain(conn, uidvalidity, last)
                if last != before:
                    continue  # more may have come while these were fetched
            except HubSideFailure as exc:
                await self._back_off(str(exc), failed)
                failed += 1
                last = None  # go on from what the cursor store holds
                continue
            failed = 0
            self._state.set("connected")
            if conn.can_idle:
                await conn.idle(self.settings.idle_seconds)
            else:
                await asyncio.sleep(self.settings.poll_seconds)

    async def _start_at(self, uidvalidity: int) -> int:
        """The last UID handed over; 0 when the cursor belongs to another UIDVALIDITY."""
        stored, last = await self._hub(self._cursors.get(self.name), "cursor store")
        if stored == uidvalidity:
            return last
        # UIDs of another UIDVALIDITY mean nothing here: take the folder from the start
        why = "no cursor yet" if stored is None else f"UIDVALIDITY {stored} -> {uidvalidity}"
        log.info("%s: reading all of %s", why, self.settings.folder, extra=self._extra)
        await self._hub(self._cursors.set(self.name, uidvalidity, 0), "cursor store")
        return 0

    async def _drain(self, conn: ImapConnection, uidvalidity: int, last: int) -> int:
        """Deliver every mail after ``last``; return the new last UID.

        The folder is read in windows of at most ``WINDOW`` UIDs, never with an open
        range: an answer that grows with the mailbox (``UID FETCH 1:*``) would be one
        response line per mail, and aioimaplib parses a response with one level of
        recursion per line (a mailbox of a few thousand mails hit the recursion limit
        on every connection, for ever). A window that holds no mail is skipped past
        the next mail's UID at once (a folder whose old mails were moved away).

        While one batch is delivered (parsed in the parser's processes, queued), the
        next is fetched: the two waits overlap. A batch is marked and the cursor moved
        only after its delivery, in UID order; a failure stops the delivery in hand,
        whose mails come again from the cursor (the hub drops what it already has)."""
        top = await conn.highest_uid()
        position = last  # every UID up to here has been looked at
        delivering: _Delivery | None = None
        try:
            while top is not None and position < top:
                end = min(position + WINDOW, top)
                listed = await conn.list_range(position + 1, end)
                if not listed:
                    after = await conn.first_uid_after(end)
                    position = top if after is None else max(end, min(after - 1, top))
                    continue
                for batch in _batches(listed):
                    fetched = await self._fetch(conn, batch)
                    if delivering is not None:
                        last = await self._settle(conn, uidvalidity, delivering)
                        delivering = None
                    if fetched:
                        delivering = _Delivery(fetched, asyncio.ensure_future(self._deliver_all(fetched)))
                position = end
            if delivering is not None:
                last = await self._settle(conn, uidvalidity, delivering)
                delivering = None
        finally:
            if delivering is not None:
                await stop(delivering.task)
        if position > last:
            # UIDs only grow: nothing can appear at or below a UID the server has shown,
            # so the next session starts after the empty stretch instead of reading it again
            last = position
            await self._hub(self._cursors.set(self.name, uidvalidity, last), "cursor store")
        return last

    async def _fetch(self, conn: ImapConnection, batch: list[int]) -> list[tuple[int, bytes]]:
        """The mails of one batch. Raises ImapFailure (the session starts again from the
        cursor) when the server left out a mail that is still there: the cursor never
        moves past an unread mail."""
        fetched = await conn.fetch(batch)
        missing = sorted(set(batch) - {uid for uid, _ in fetched})
        if missing:  # expunged meanwhile (fine), or left out of the answer (read again)
            listed = {uid for uid, _ in await conn.list_range(missing[0], missing[-1])}
            if still := listed & set(missing):
                raise ImapFailure(f"FETCH left out mails that are there (uid {min(still)}); reading again")
        return fetched

    async def _deliver_all(self, fetched: list[tuple[int, bytes]]) -> None:
        # the whole batch at once: concurrent appends share one queue write; a failure
        # of any leaves the batch to be taken again (the hub drops what it already has)
        await asyncio.gather(*(self._deliver(raw) for _, raw in fetched))

    async def _settle(self, conn: ImapConnection, uidvalidity: int, delivering: _Delivery) -> int:
        """Wait for a batch's delivery, mark its mails, move the cursor; the new last UID."""
        await self._hub(delivering.task, "delivery", any_error=True)
        uids = [uid for uid, _ in delivering.fetched]
        if self.settings.after == "seen":
            await conn.mark_seen(uids)
        elif self.settings.after == "move" and self.settings.move_to:
            await conn.move(uids, self.settings.move_to)
        last = uids[-1]
        await self._hub(self._cursors.set(self.name, uidvalidity, last), "cursor store")
        log.debug("%d mails queued, up to uid %d", len(uids), last, extra={**self._extra, "uid": last})
        return last

    async def _hub(self, step: Awaitable[T], what: str, *, any_error: bool = False) -> T:
        """Await a call into the hub; a transient failure (with ``any_error``: any
        failure, so that no mail is skipped) becomes ``HubSideFailure``."""
        try:
            return await step
        except Exception as exc:
            if not is_transient(exc):
                if not any_error:
                    raise
                log.exception("%s failed", what, extra=self._extra)
            raise HubSideFailure(f"{what} failed: {exc!r}") from exc


def _batches(pending: list[tuple[int, int]]) -> list[list[int]]:
    """UIDs grouped so that one FETCH carries at most BATCH_BYTES (or one mail)."""
    batches: list[list[int]] = []
    size = 0
    for uid, length in pending:
        if not batches or size + length > BATCH_BYTES or len(batches[-1]) >= BATCH_MAILS:
            batches.append([])
            size = 0
        batches[-1].append(uid)
        size += length
    return batches
