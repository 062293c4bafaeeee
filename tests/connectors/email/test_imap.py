"""The IMAP watcher against a real Dovecot (tests/connectors/email/dovecot.py): no IMAP
mocks. Cursors are a dict and ``deliver`` records what it got."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
import tracemalloc
from collections import Counter
from collections.abc import AsyncIterator
from email.parser import BytesHeaderParser
from typing import Any

import pytest

from connectors.base import ConnectorState
from connectors.email import watcher as watcher_module
from connectors.email.settings import MailboxSettings
from connectors.email.watcher import MailboxWatcher
from hub.errors import ConfigError
from tests.connectors.email.dovecot import Dovecot
from tests.waits import eventually

NAME = "support"
IDLING = "waiting in IDLE"


class Cursors:
    """``MailCursors`` in a dict; the ``set`` calls numbered in ``fail_sets`` raise."""

    def __init__(self, fail_sets: tuple[int, ...] = ()) -> None:
        self.rows: dict[str, tuple[int | None, int]] = {}
        self.sets = 0
        self.fail_sets = fail_sets

    async def get(self, mailbox: str) -> tuple[int | None, int]:
        return self.rows.get(mailbox, (None, 0))

    async def set(self, mailbox: str, uidvalidity: int, last_uid: int) -> None:
        self.sets += 1
        if self.sets in self.fail_sets:
            raise ConnectionRefusedError("database unreachable")
        self.rows[mailbox] = (uidvalidity, last_uid)


class Inbox:
    """The ``deliver`` callable: records raw mails; the calls numbered in ``fail_calls``
    raise, and each takes ``pause`` seconds."""

    def __init__(self, fail_calls: tuple[int, ...] = (), pause: float = 0.0) -> None:
        self.raw: list[bytes] = []
        self.calls = 0
        self.fail_calls = fail_calls
        self.pause = pause

    async def __call__(self, raw: bytes) -> None:
        self.calls += 1
        if self.calls in self.fail_calls:
            raise ConnectionError("ingest queue unreachable")
        await asyncio.sleep(self.pause)
        self.raw.append(raw)

    @property
    def ids(self) -> list[str]:
        return [str(BytesHeaderParser().parsebytes(raw)["Message-ID"]) for raw in self.raw]


class States(ConnectorState):
    """A ``ConnectorState`` that remembers every state it went through."""

    def __init__(self) -> None:
        super().__init__()
        self.history: list[str] = [self.state]

    def set(self, state: str, detail: str | None = None) -> None:
        super().set(state, detail)
        if self.history[-1] != state:
            self.history.append(state)


def mail(n: int) -> bytes:
    return (
        f"From: Kunde {n} <kunde{n}@example.org>\r\n"
        "To: support@contacthub.example\r\n"
        f"Subject: Anfrage {n}\r\n"
        f"Message-ID: <{n}@test.example>\r\n"
        "Date: Mon, 01 Dec 2025 10:00:00 +0100\r\n"
        "\r\n"
        f"Hallo, das ist Nachricht {n}.\r\n"
    ).encode()


def mid(*ns: int) -> list[str]:
    return [f"<{n}@test.example>" for n in ns]


def settings_for(server: Dovecot, **overrides: Any) -> MailboxSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port,
        "security": "none",
        "user": server.user,
        "password": server.password,
        "idle_seconds": 600,
        "poll_seconds": 600,
    }
    values.update(overrides)
    return MailboxSettings(**values)


@contextlib.asynccontextmanager
async def watching(
    server: Dovecot,
    cursors: Cursors,
    inbox: Inbox,
    *,
    backoff_cap_s: float = 0.5,
    ssl_context: ssl.SSLContext | None = None,
    **overrides: Any,
) -> AsyncIterator[States]:
    """Run a watcher in a task while the block runs; cancel it afterwards."""
    state = States()
    watcher = MailboxWatcher(
        NAME,
        settings_for(server, **overrides),
        deliver=inbox,
        cursors=cursors,
        state=state,
        backoff_cap_s=backoff_cap_s,
        ssl_context=ssl_context,
    )
    task = asyncio.create_task(watcher.run())
    try:
        yield state
    finally:
        task.cancel()
        # a watcher that does not stop (waits out an IMAP timeout) fails here; a deadline,
        # not a measured time: a loaded machine may take a moment
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=30)
    assert state.state == "stopped"


def idles(caplog: pytest.LogCaptureFixture) -> int:
    return sum(IDLING in r.getMessage() for r in caplog.records)


@pytest.fixture
def caplog_imap(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="contacthub.email")
    return caplog


# --- what to do after delivery ------------------------------------------------------------


async def test_mails_there_before_start_are_delivered_once_in_order_then_seen(dovecot: Dovecot) -> None:
    for n in (1, 2, 3):
        await dovecot.append(mail(n))
    uidvalidity = (await dovecot.status())["UIDVALIDITY"]
    cursors, inbox = Cursors(), Inbox()
    async with watching(dovecot, cursors, inbox) as state:
        await eventually(lambda: cursors.rows.get(NAME) == (uidvalidity, 3), what="cursor at uid 3")
        assert state.state == "connected"
    assert inbox.ids == mid(1, 2, 3)
    assert inbox.raw[0] == mail(1)
    assert await dovecot.count_seen() == 3


async def test_after_move_puts_them_in_the_other_folder(dovecot: Dovecot) -> None:
    await dovecot.create("Erledigt")
    for n in (1, 2):
        await dovecot.append(mail(n))
    cursors, inbox = Cursors(), Inbox()
    async with watching(dovecot, cursors, inbox, after="move", move_to="Erledigt"):
        await eventually(lambda: cursors.rows.get(NAME, (0, 0))[1] == 2, what="cursor at uid 2")
    assert inbox.ids == mid(1, 2)
    assert (await dovecot.status())["MESSAGES"] == 0
    assert (await dovecot.status("Erledigt"))["MESSAGES"] == 2


async def test_after_leave_leaves_them_unseen(dovecot: Dovecot) -> None:
    for n in (1, 2):
        await dovecot.append(mail(n))
    cursors, inbox = Cursors(), Inbox()
    async with watching(dovecot, cursors, inbox, after="leave"):
        await eventually(lambda: cursors.rows.get(NAME, (0, 0))[1] == 2, what="cursor at uid 2")
    assert inbox.ids == mid(1, 2)
    status = await dovecot.status()
    assert (status["MESSAGES"], status["UNSEEN"]) == (2, 2)


# --- waiting for mail ---------------------------------------------------------------------


async def test_mail_arriving_during_idle_is_delivered_within_seconds(
    dovecot: Dovecot, caplog_imap: pytest.LogCaptureFixture
) -> None:
    cursors, inbox = Cursors(), Inbox()
    async with watching(dovecot, cursors, inbox):
        await eventually(lambda: idles(caplog_imap) == 1, what="IDLE")
        await dovecot.append(mail(1))
        # pushed by IDLE: the watcher polls only every 600 s, far beyond this deadline
        await eventually(lambda: len(inbox.raw) == 1, timeout=60, what="the mail, pushed")
        await eventually(lambda: idles(caplog_imap) == 2, what="IDLE again")
    assert inbox.ids == mid(1)


async def test_without_idle_it_polls(dovecot_minimal: Dovecot, caplog_imap: pytest.LogCaptureFixture) -> None:
    cursors, inbox = Cursors(), Inbox()
    async with watching(dovecot_minimal, cursors, inbox, poll_seconds=0.2) as state:
        await eventually(lambda: state.state == "connected", what="connected")
        await dovecot_minimal.append(mail(1))
        await eventually(lambda: len(inbox.raw) == 1, timeout=3, what="the mail")
    assert inbox.ids == mid(1)
    assert idles(caplog_imap) == 0
    assert any("polling every 0.2s" in r.getMessage() for r in caplog_imap.records)


async def test_without_move_it_copies_and_expunges(dovecot_minimal: Dovecot) -> None:
    await dovecot_minimal.create("Erledigt")
    for n in (1, 2):
        await dovecot_minimal.append(mail(n))
    cursors, inbox = Cursors(), Inbox()
    async with watching(dovecot_minimal, cursors, inbox, after="move", move_to="Erledigt"):
        await eventually(lambda: cursors.rows.get(NAME, (0, 0))[1] == 2, what="cursor at uid 2")
    assert inbox.ids == mid(1, 2)
    assert (await dovecot_minimal.status())["MESSAGES"] == 0
    assert (await dovecot_minimal.status("Erledigt"))["MESSAGES"] == 2


# --- never twice, never lost ----------------------------------------------------------------


async def test_a_restarted_watcher_delivers_nothing_again(
    dovecot: Dovecot, caplog_imap: pytest.LogCaptureFixture
) -> None:
    for n in (1, 2):
        await dovecot.append(mail(n))
    cursors, first = Cursors(), Inbox()
    async with watching(dovecot, cursors, first):
        await eventually(lambda: cursors.rows.get(NAME, (0, 0))[1] == 2, what="cursor at uid 2")
    second = Inbox()
    caplog_imap.clear()
    async with watching(dovecot, cursors, second):
        await eventually(lambda: idles(caplog_imap) == 1, what="IDLE")
        await dovecot.append(mail(3))  # a marker: whatever came before it would be a repeat
        await eventually(lambda: len(second.raw) == 1, what="the new mail")
    assert first.ids == mid(1, 2)
    assert second.ids == mid(3)


async def test_a_failed_delivery_takes_the_batch_again_and_skips_nothing(dovecot: Dovecot) -> None:
    for n in (1, 2, 3):
        await dovecot.append(mail(n))
    cursors, inbox = Cursors(), Inbox(fail_calls=(2,))
    async with watching(dovecot, cursors, inbox) as state:
        await eventually(lambda: cursors.rows.get(NAME, (0, 0))[1] == 3, what="cursor at uid 3")
        # connected once a drain finds nothing new: one more fetch after the cursor moved
        await eventually(lambda: state.state == "connected", what="connected again")
    # one batch of three, handed over together: mail 2 failed, so all three come again
    # (the hub drops the repeats by Message-ID); the cursor never passed mail 2 before it
    assert inbox.calls == 6
    assert sorted(inbox.ids[-3:]) == mid(1, 2, 3) and mid(2)[0] not in inbox.ids[:-3]
    assert await dovecot.count_seen() == 3
    assert state.history[-3:] == ["transient_failure", "connected", "stopped"]


async def test_a_delivery_failing_while_the_next_batch_is_fetched_skips_nothing(
    dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of three: the second batch's delivery (overlapping the third's fetch) fails
    at its second mail. The cursor stays after the first batch, the rest comes again, in
    order, and every mail is delivered; none but the failed batch's are repeated."""
    monkeypatch.setattr(watcher_module, "BATCH_MAILS", 3)
    for n in range(1, 11):
        await dovecot.append(mail(n))
    cursors, inbox = Cursors(), Inbox(fail_calls=(5,))
    moves: list[int] = []
    original_set = cursors.set

    async def recording_set(mailbox: str, uidvalidity: int, last_uid: int) -> None:
        await original_set(mailbox, uidvalidity, last_uid)
        moves.append(last_uid)

    cursors.set = recording_set  # type: ignore[method-assign]
    async with watching(dovecot, cursors, inbox, after="leave") as state:
        await eventually(lambda: cursors.rows.get(NAME, (0, 0))[1] == 10, what="cursor at uid 10")
    assert sorted(set(inbox.ids)) == sorted(mid(*range(1, 11)))
    repeated = [m for m, k in Counter(inbox.ids).items() if k > 1]
    assert set(repeated) <= set(mid(4, 6)), repeated  # only the failed batch's (mail 5 failed)
    assert moves == [0, 3, 6, 9, 10], "the cursor waited after the first batch for the retry"
    assert "transient_failure" in state.history


async def test_a_failing_cursor_store_repeats_the_batch_rather_than_losing_it(dovecot: Dovecot) -> None:
    for n in (1, 2):
        await dovecot.append(mail(n))
    cursors, inbox = Cursors(fail_sets=(2,)), Inbox()  # 1: the first cursor; 2: after the batch
    async with watching(dovecot, cursors, inbox) as state:
        await eventually(lambda: cursors.rows.get(NAME, (0, 0))[1] == 2, what="cursor at uid 2")
    assert sorted(inbox.ids) == sorted(mid(1, 1, 2, 2))
    assert "transient_failure" in state.history


async def test_a_server_crash_loses_nothing_and_repeats_nothing(
    private_dovecot: Dovecot, caplog_imap: pytest.LogCaptureFixture
) -> None:
    dovecot = private_dovecot
    for n in (1, 2):
        await dovecot.append(mail(n))
    cursors, inbox = Cursors(), Inbox()
    async with watching(dovecot, cursors, inbox) as state:
        await eventually(lambda: len(inbox.raw) == 2 and idles(caplog_imap) == 1, what="two mails, then IDLE")
        dovecot.kill()
        await eventually(lambda: state.state == "transient_failure", what="transient_failure")
        await asyncio.sleep(0.3)  # a window, not a wait: it retries against a closed port meanwhile
        await dovecot.start()
        for n in (3, 4):
            await dovecot.append(mail(n))
        await eventually(lambda: len(inbox.raw) == 4, timeout=8, what="all four mails")
        await eventually(lambda: state.state == "connected", what="connected again")
    assert inbox.ids == mid(1, 2, 3, 4)
    assert max(Counter(inbox.ids).values()) == 1
    assert state.history[:4] == ["starting", "connected", "transient_failure", "connected"]
    assert await dovecot.count_seen() == 4


async def test_a_crash_in_the_middle_of_a_batch_repeats_at_most_the_batch_in_hand(
    private_dovecot: Dovecot,
) -> None:
    dovecot = private_dovecot
    for n in range(1, 7):
        await dovecot.append(mail(n))
    cursors, inbox = Cursors(), Inbox(pause=0.3)
    async with watching(dovecot, cursors, inbox) as state:
        await eventually(lambda: inbox.calls == 6, what="the batch in hand")
        dovecot.kill()  # before the batch is marked seen and the cursor moves
        await eventually(lambda: state.state == "transient_failure", what="transient_failure")
        await dovecot.start()
        await eventually(lambda: cursors.rows.get(NAME, (0, 0))[1] == 6, timeout=8, what="cursor at uid 6")
    assert sorted(set(inbox.ids)) == sorted(mid(*range(1, 7)))
    assert len(inbox.ids) - len(set(inbox.ids)) <= 6
    assert await dovecot.count_seen() == 6


async def test_a_new_uidvalidity_reads_the_folder_again(dovecot: Dovecot) -> None:
    await dovecot.create("Anfragen")
    for n in (1, 2):
        await dovecot.append(mail(n), "Anfragen")
    old = (await dovecot.status("Anfragen"))["UIDVALIDITY"]
    cursors, inbox = Cursors(), Inbox()
    async with watching(dovecot, cursors, inbox, folder="Anfragen"):
        await eventually(lambda: cursors.rows.get(NAME) == (old, 2), what="cursor at uid 2")
    # the folder is recreated (a restore, a migration): its UIDs start again at 1
    await dovecot.delete("Anfragen")
    await dovecot.create("Anfragen")
    for n in (1, 2, 3):
        await dovecot.append(mail(n), "Anfragen")
    new = (await dovecot.status("Anfragen"))["UIDVALIDITY"]
    assert new != old
    async with watching(dovecot, cursors, inbox, folder="Anfragen"):
        await eventually(lambda: cursors.rows.get(NAME) == (new, 3), what="cursor at the new uid 3")
    assert inbox.ids == mid(1, 2, 1, 2, 3)  # repeats are fine: the hub dedupes on Message-ID


async def test_a_stored_uidvalidity_that_differs_reads_the_folder_again(dovecot: Dovecot) -> None:
    for n in (1, 2):
        await dovecot.append(mail(n))
    uidvalidity = (await dovecot.status())["UIDVALIDITY"]
    cursors, inbox = Cursors(), Inbox()
    cursors.rows[NAME] = (uidvalidity - 1, 99)
    async with watching(dovecot, cursors, inbox):
        await eventually(lambda: cursors.rows.get(NAME) == (uidvalidity, 2), what="cursor at uid 2")
    assert inbox.ids == mid(1, 2)


# --- failures and shutdown -------------------------------------------------------------------


async def test_a_wrong_password_is_bad_credentials_and_retried_slowly(dovecot: Dovecot) -> None:
    cursors, inbox = Cursors(), Inbox()
    # Dovecot answers a failed LOGIN after about 0.5 s; a client that retried at once
    # would log in 5 times in 2.5 s, one that waits the 1 s cap about twice
    async with watching(dovecot, cursors, inbox, password="wrong", backoff_cap_s=1.0) as state:
        await eventually(lambda: state.state == "bad_credentials", what="bad_credentials")
        await asyncio.sleep(2.0)
        assert state.state == "bad_credentials"
        assert state.detail is not None and "AUTHENTICATIONFAILED" in state.detail
        attempts = dovecot.failed_logins()
    print(f"login attempts in 2.5 s: {attempts}")
    assert 1 <= attempts <= 3
    assert inbox.calls == 0


async def test_an_unreachable_server_is_a_transient_failure(private_dovecot: Dovecot) -> None:
    await private_dovecot.stop()
    async with watching(private_dovecot, Cursors(), Inbox()) as state:
        await eventually(lambda: state.state == "transient_failure", what="transient_failure")
        assert state.detail is not None and "Connect" in state.detail


def test_after_move_needs_a_folder() -> None:
    settings = MailboxSettings(host="127.0.0.1", user="u", password="p", after="move")
    with pytest.raises(ConfigError, match="move_to"):
        MailboxWatcher(NAME, settings, deliver=Inbox(), cursors=Cursors(), state=ConnectorState())


async def test_cancelling_logs_out_politely(dovecot: Dovecot, caplog_imap: pytest.LogCaptureFixture) -> None:
    def logged_out() -> bool:
        return any("Disconnected: Logged out" in line for line in dovecot.log_lines())

    async with watching(dovecot, Cursors(), Inbox()) as state:
        await eventually(lambda: idles(caplog_imap) == 1, what="IDLE")
    await eventually(logged_out, timeout=3, what="LOGOUT")
    assert state.state == "stopped"


# --- TLS ---------------------------------------------------------------------------------


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_tls_and_starttls(dovecot_tls: Dovecot, security: str) -> None:
    await dovecot_tls.append(mail(1))
    trust = ssl.create_default_context(cafile=str(dovecot_tls.cert))
    port = dovecot_tls.tls_port if security == "tls" else dovecot_tls.port
    cursors, inbox = Cursors(), Inbox()
    async with watching(dovecot_tls, cursors, inbox, ssl_context=trust, security=security, port=port):
        await eventually(lambda: cursors.rows.get(NAME, (0, 0))[1] == 1, what="cursor at uid 1")
    assert inbox.ids == mid(1)
    assert any("Login:" in line and "TLS" in line for line in dovecot_tls.log_lines())


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_an_untrusted_certificate_is_refused(dovecot_tls: Dovecot, security: str) -> None:
    await dovecot_tls.append(mail(1))
    port = dovecot_tls.tls_port if security == "tls" else dovecot_tls.port
    inbox = Inbox()
    async with watching(dovecot_tls, Cursors(), inbox, security=security, port=port) as state:
        await eventually(lambda: state.state == "transient_failure", what="transient_failure")
        assert state.detail is not None and "CERTIFICATE_VERIFY_FAILED" in state.detail
    assert inbox.raw == []


async def test_mail_that_comes_while_a_batch_is_fetched_is_not_left_waiting(dovecot: Dovecot) -> None:
    """A burst from several senders at once: what arrives during a drain (its EXISTS
    comes before the next IDLE) is fetched at once, not after the IDLE timeout."""
    cursors, inbox = Cursors(), Inbox(pause=0.01)  # the hub takes a while per mail
    async with watching(dovecot, cursors, inbox):
        await eventually(lambda: NAME in cursors.rows, what="the watcher is up")

        async def burst(start: int) -> None:
            async with dovecot.session() as imap:
                for n in range(start, 400, 4):
                    assert (await imap.append(mail(n), mailbox="INBOX")).result == "OK"

        await asyncio.gather(*(burst(k) for k in range(4)))
        await eventually(lambda: len(inbox.raw) >= 400, timeout=20, what="all 400 delivered")
    assert sorted(Counter(inbox.ids).values()) == [1] * 400, "each once"


# --- a mailbox of thousands -------------------------------------------------------------------

_NUMBER = re.compile(rb"Message-ID: <(\d+)@test\.example>")


class Tally:
    """A ``deliver`` whose memory does not grow with the mails: one byte per mail,
    allocated up front, counts how often each arrived."""

    def __init__(self, size: int) -> None:
        self.seen = bytearray(size + 1)
        self.calls = 0
        self.out_of_order = 0
        self._last = 0

    async def __call__(self, raw: bytes) -> None:
        found = _NUMBER.search(raw)
        assert found is not None
        n = int(found.group(1))
        self.out_of_order += n < self._last
        self._last = n
        self.seen[n] = min(self.seen[n] + 1, 255)
        self.calls += 1


async def drain_traced(server: Dovecot, folder: str, size: int) -> tuple[Tally, int]:
    """Drain a pre-filled ``folder`` with a fresh watcher; return what arrived and the
    peak of the memory Python allocated meanwhile (tracemalloc)."""
    cursors, tally = Cursors(), Tally(size)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        async with watching(server, cursors, tally, folder=folder, after="leave") as state:  # type: ignore[arg-type]
            await eventually(
                lambda: cursors.rows.get(NAME, (0, 0))[1] >= size, timeout=240, what=f"all {size} mails"
            )
            await eventually(lambda: state.state == "connected", what="connected")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "transient_failure" not in state.history, "no reconnect on the way"
    return tally, peak


@pytest.mark.long
async def test_a_mailbox_of_ten_thousand_drains_completely_with_flat_memory(dovecot: Dovecot) -> None:
    """aioimaplib 2.0 parses a response with one level of recursion per line: the
    former ``UID FETCH 1:* (UID RFC822.SIZE)`` hit the recursion limit at about 2,000
    mails, dropped the connection and started again, for ever."""
    dovecot.deliver_files((mail(n) for n in range(1, 1_001)), "Klein")
    dovecot.deliver_files((mail(n) for n in range(1, 10_001)), "Gross")
    small, small_peak = await drain_traced(dovecot, "Klein", 1_000)
    large, large_peak = await drain_traced(dovecot, "Gross", 10_000)
    for tally, size in ((small, 1_000), (large, 10_000)):
        assert tally.seen[1:] == bytes([1]) * size, "each mail once"
        assert tally.out_of_order == 0
    ratio = large_peak / small_peak
    print(f"tracemalloc peak: 1,000 mails {small_peak / 1e6:.1f} MB, 10,000 mails {large_peak / 1e6:.1f} MB")
    assert ratio < 1.5, f"the watcher's memory grows with the mailbox: {ratio:.2f}x for 10x the mails"


async def test_a_folder_whose_old_mails_went_away_is_read_past_the_gap(dovecot: Dovecot) -> None:
    """UIDs 2..1,100 expunged (moved away long ago): far more than one window is empty."""
    dovecot.deliver_files(mail(n) for n in range(1, 1_201))
    async with dovecot.session() as imap:
        await imap.select("INBOX")
        for first in range(2, 1_101, 100):  # one EXPUNGE line per mail: this client recurses too
            which = f"{first}:{min(first + 99, 1_100)}"
            assert (await imap.uid("store", which, "+FLAGS.SILENT", "(\\Deleted)")).result == "OK"
            assert (await imap.expunge()).result == "OK"
    cursors, inbox = Cursors(), Inbox()
    async with watching(dovecot, cursors, inbox, after="leave") as state:
        await eventually(lambda: cursors.rows.get(NAME, (0, 0))[1] == 1_200, what="cursor at uid 1200")
        await eventually(lambda: state.state == "connected", what="connected")
        await dovecot.append(mail(5_000))  # after the gap, mail still comes in
        await eventually(lambda: len(inbox.raw) == 102, what="the new mail")
    assert inbox.ids == mid(1, *range(1_101, 1_201), 5_000)
