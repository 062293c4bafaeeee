"""The IMAP client the mailbox watcher uses: one aioimaplib connection, with every
command raced against the loss of the connection and a timeout, and the answers parsed
into UIDs, sizes and raw mails. It knows IMAP, not the hub: no cursors, no delivery.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import math
import re
import ssl
from collections.abc import Awaitable
from typing import Any

import aioimaplib  # type: ignore[import-untyped]

log = logging.getLogger("contacthub.email")


class ImapFailure(Exception):
    """The server refused a command, said BYE, or the connection went away: transient."""


class LoginRefused(Exception):
    """The server answered LOGIN with NO or BAD: the credentials need fixing."""


# everything that means "try again later" on the IMAP side
RETRYABLE = (OSError, TimeoutError, aioimaplib.AioImapException, ImapFailure)
GOODBYE_S = 2.0  # for DONE and LOGOUT on the way out: a shutdown must not hang on them


def describe(exc: BaseException) -> str:
    """A failure in words, for the state and the log."""
    if isinstance(exc, (aioimaplib.CommandTimeout, TimeoutError)):
        return "IMAP server did not answer in time"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _mailbox(name: str) -> str:
    """A folder name as a quoted IMAP argument, in modified UTF-7 (RFC 3501 §5.1.3)."""
    out: list[str] = []
    wide = ""
    for ch in name:
        if " " <= ch <= "~":
            if wide:
                out.append(_utf7(wide))
                wide = ""
            out.append("&-" if ch == "&" else ch)
        else:
            wide += ch
    if wide:
        out.append(_utf7(wide))
    return _quote("".join(out))


def _utf7(text: str) -> str:
    b64 = base64.b64encode(text.encode("utf-16-be")).decode()
    return "&" + b64.rstrip("=").replace("/", ",") + "-"


_FETCH = re.compile(rb"^\d+ FETCH \(")
_FETCH_NUMBER = re.compile(rb"^(\d+) FETCH \(")
_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")


class ImapConnection:
    """One aioimaplib client. Every call races the loss of the connection (aioimaplib
    itself would leave a pending command waiting) and a timeout; failures raise
    ``ImapFailure``, ``TimeoutError`` or aioimaplib's errors."""

    def __init__(self, client: Any, lost: asyncio.Future[None], timeout: float) -> None:
        self._client = client
        self._lost = lost
        self._timeout = timeout

    @classmethod
    async def open(
        cls, host: str, port: int, security: str, context: ssl.SSLContext | None, limit: float
    ) -> ImapConnection:
        lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_lost(exc: Exception | None) -> None:
            if not lost.done():
                lost.set_result(None)

        if security == "tls":
            client = aioimaplib.IMAP4_SSL(host, port, timeout=limit, ssl_context=context)
            client.protocol.conn_lost_cb = on_lost  # IMAP4_SSL does not take the callback
        else:
            client = aioimaplib.IMAP4(host, port, timeout=limit, conn_lost_cb=on_lost)
        conn = cls(client, lost, limit)
        try:
            await conn._call(client.wait_hello_from_server())
            if security == "starttls":
                await conn._starttls(host, context)
        except BaseException:
            await conn.close()
            raise
        return conn

    @property
    def can_idle(self) -> bool:
        return bool(self._client.has_capability("IDLE"))

    async def _call(self, step: Awaitable[Any], limit: float | None = None) -> Any:
        """Await ``step``; ``limit`` defaults to the connection's timeout, ``math.inf`` waits on."""
        task = asyncio.ensure_future(step)
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # never "unretrieved"
        wait = self._timeout if limit is None else None if math.isinf(limit) else limit
        try:
            await asyncio.wait({task, self._lost}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not task.done():
                task.cancel()
        if task.done() and not task.cancelled():
            return task.result()
        if self._lost.done():
            raise ImapFailure("connection to the IMAP server lost")
        raise TimeoutError

    async def _ok(self, step: Awaitable[Any], what: str, limit: float | None = None) -> list[Any]:
        reply = await self._call(step, limit)
        if reply.result != "OK":
            raise ImapFailure(f"{what}: {reply.result} {_text(reply.lines)}")
        return list(reply.lines)

    async def _starttls(self, host: str, context: ssl.SSLContext | None) -> None:
        protocol = self._client.protocol
        if "STARTTLS" not in protocol.capabilities:
            raise ImapFailure("the server offers no STARTTLS")
        command = aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
        await self._ok(protocol.execute(command), "STARTTLS")
        context = context or ssl.create_default_context()
        protocol.transport = await self._call(
            protocol.loop.start_tls(protocol.transport, protocol, context, server_hostname=host)
        )
        await self._call(protocol.capability())  # what the server offered in clear text is void

    async def login(self, user: str, password: str) -> None:
        reply = await self._call(self._client.login(_quote(user), password))
        if reply.result != "OK":
            text = _text(reply.lines)
            if any(code in text for code in ("[UNAVAILABLE]", "[SERVERBUG]", "[INUSE]")):
                raise ImapFailure(f"LOGIN: {reply.result} {text}")
            raise LoginRefused(f"LOGIN: {reply.result} {text}")
        await self._call(self._client.protocol.capability())  # the full list, after login

    async def select(self, folder: str) -> int:
        """SELECT ``folder``; return its UIDVALIDITY."""
        lines = await self._ok(self._client.select(_mailbox(folder)), f"SELECT {folder}")
        for line in lines:
            if isinstance(line, bytes) and (found := re.search(rb"\[UIDVALIDITY (\d+)\]", line)):
                return int(found.group(1))
        raise ImapFailure(f"SELECT {folder}: no UIDVALIDITY")

    async def highest_uid(self) -> int | None:
        """The UID of the folder's last mail; None when the folder is empty. One line."""
        lines = await self._ok(self._client.uid("fetch", "*", "(UID)"), "FETCH")
        found = _listed(lines)
        return max(found) if found else None

    async def list_range(self, first: int, last: int) -> list[tuple[int, int]]:
        """(UID, size) of the mails with UIDs ``first`` to ``last``, in UID order: at
        most ``last - first + 1`` lines (a flag change another client made may be
        reported on the way: it is counted once)."""
        lines = await self._ok(self._client.uid("fetch", f"{first}:{last}", "(UID RFC822.SIZE)"), "FETCH")
        return sorted((uid, size) for uid, size in _listed(lines).items() if first <= uid <= last)

    async def first_uid_after(self, uid: int) -> int | None:
        """The lowest UID above ``uid``, by bisecting message sequence numbers (one line
        per step, about log2 of the folder's size); None when there is none; ``uid + 1``
        (skip nothing) when the server stops answering a step. Plain FETCH on purpose:
        no EXPUNGE may come while FETCH commands run (RFC 3501 §7.4.1), so the numbers
        hold still while it searches."""
        count, top = await self._at("*")
        if count is None or top is None or top <= uid:
            return None
        low, high, found = 1, count, top  # the mail at ``high`` is above ``uid``
        while low < high:
            middle = (low + high) // 2
            _, at = await self._at(str(middle))
            if at is None:
                return uid + 1
            if at > uid:
                high, found = middle, at
            else:
                low = middle + 1
        return found

    async def _at(self, number: str) -> tuple[int | None, int | None]:
        """(message sequence number, UID) of one mail by sequence number; (None, None)
        when the server refuses (an empty folder answers ``FETCH *`` with BAD)."""
        reply = await self._call(self._client.fetch(number, "(UID)"))
        if reply.result != "OK":
            return None, None
        found: dict[int, int] = {}  # (a flag change of another mail may be reported too)
        for line in reply.lines:
            if isinstance(line, bytes) and (m := _FETCH_NUMBER.match(line)) and (uid := _UID.search(line)):
                found[int(m.group(1))] = int(uid.group(1))
        at = max(found, default=None) if number == "*" else int(number) if int(number) in found else None
        return (None, None) if at is None else (at, found[at])

    async def fetch(self, uids: list[int]) -> list[tuple[int, bytes]]:
        """(UID, raw mail) for ``uids``, in UID order, without setting \\Seen."""
        step = self._client.uid("fetch", ",".join(map(str, uids)), "(UID BODY.PEEK[])")
        # bodies may be large: aioimaplib's own timer watches for silence instead
        lines = await self._ok(step, "FETCH", limit=math.inf)
        mails: dict[int, bytes] = {}
        uid: int | None = None
        body: bytes | None = None
        for line in [*lines, b"0 FETCH ("]:  # the sentinel closes the last message
            if isinstance(line, bytearray):  # a literal: the message itself
                body = bytes(line)
                continue
            if _FETCH.match(line):
                if uid is not None and body is not None:
                    mails[uid] = body
                uid, body = None, None
            if found := _UID.search(line):
                uid = int(found.group(1))
        return sorted(mails.items())

    async def mark_seen(self, uids: list[int]) -> None:
        # SILENT: no FETCH line per mail in the answer
        await self._ok(self._client.uid("store", _uid_set(uids), "+FLAGS.SILENT", "(\\Seen)"), "STORE \\Seen")

    async def move(self, uids: list[int], folder: str) -> None:
        target, which = _mailbox(folder), _uid_set(uids)
        if self._client.has_capability("MOVE"):
            await self._ok(self._client.uid("move", which, target), f"MOVE to {folder}")
            return
        await self._ok(self._client.uid("copy", which, target), f"COPY to {folder}")
        await self._ok(self._client.uid("store", which, "+FLAGS.SILENT", "(\\Deleted)"), "STORE \\Deleted")
        if self._client.has_capability("UIDPLUS"):
            await self._ok(self._client.uid("expunge", which), "EXPUNGE")
        else:
            await self._ok(self._client.expunge(), "EXPUNGE")

    async def idle(self, seconds: float) -> None:
        """Wait in IDLE until the server reports new mail or ``seconds`` pass; then DONE."""
        client = self._client
        queue = client.protocol.idle_queue
        news = False
        while not queue.empty():  # mail that came while we fetched: look again before idling
            news = news or _announces_mail(queue.get_nowait())
        if news:
            return
        try:
            await self._call(client.idle_start(timeout=seconds))
            log.debug("waiting in IDLE for %.0fs", seconds)
            while True:
                push = await self._call(client.wait_server_push(timeout=seconds + self._timeout), math.inf)
                if push == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    return
                if any(line.startswith(b"BYE") for line in push):
                    raise ImapFailure(f"server said {_text(push)}")
                if _announces_mail(push):
                    return
        finally:
            await self._leave_idle()

    async def _leave_idle(self) -> None:
        """DONE, if an IDLE is running (also one whose start was cancelled), and wait for
        its end. A failure here shows in the next command; it must not hide a cancel."""
        client = self._client
        if self._lost.done() or not client.has_pending_idle():
            return
        command = client.protocol.pending_sync_command
        client.idle_done()
        with contextlib.suppress(*RETRYABLE):
            await self._call(command.wait(), GOODBYE_S)

    async def close(self) -> None:
        """Log out if the connection is still up, then drop it. Never raises an IMAP or
        socket error."""
        client = self._client
        try:
            if not self._lost.done() and client.get_state() in ("AUTH", "SELECTED", "NONAUTH"):
                await self._leave_idle()
                await self._call(client.logout(), GOODBYE_S)
        except RETRYABLE:
            pass
        finally:
            client._client_task.cancel()  # still connecting: give up the attempt
            if client.protocol.transport is not None:
                client.protocol.transport.close()


def _listed(lines: list[Any]) -> dict[int, int]:
    """{UID: RFC822.SIZE (0 when not given)} from the FETCH lines of an answer."""
    found: dict[int, int] = {}
    for line in lines:
        if isinstance(line, bytes) and _FETCH.match(line) and (uid := _UID.search(line)):
            size = _SIZE.search(line)
            key = int(uid.group(1))
            found[key] = max(found.get(key, 0), int(size.group(1)) if size else 0)
    return found


def _uid_set(uids: list[int]) -> str:
    return ",".join(map(str, uids))


def _announces_mail(push: Any) -> bool:
    """Whether a server push (a list of lines) says the folder has new mail."""
    return isinstance(push, list) and any(
        isinstance(line, bytes | bytearray) and line.endswith((b"EXISTS", b"RECENT")) for line in push
    )


def _text(lines: list[Any]) -> str:
    """The server's words for a reply (its last line), for states and logs."""
    texts = [line for line in lines if isinstance(line, bytes)]
    return texts[-1].decode("utf-8", "replace")[:200] if texts else ""
