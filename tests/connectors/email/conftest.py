"""Fixtures of the email connector's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.connectors.email.dovecot import MINIMAL_CAPABILITIES, Dovecot, Servers, running_dovecot
from tests.connectors.email.smtp_peer import Peer

# --- IMAP: a mailbox of its own per test on a Dovecot per worker (see dovecot.py) -------


@pytest.fixture(scope="session")
def dovecot_servers() -> Iterator[Servers]:
    servers = Servers()
    yield servers
    servers.close()


@pytest.fixture
async def dovecot(dovecot_servers: Servers) -> AsyncIterator[Dovecot]:
    """Plain IMAP on a loopback port, with IDLE, MOVE and UIDPLUS."""
    mailbox = await dovecot_servers.mailbox()
    yield mailbox
    mailbox.remove_mail()


@pytest.fixture
async def dovecot_minimal(dovecot_servers: Servers) -> AsyncIterator[Dovecot]:
    """A server that offers neither IDLE nor MOVE."""
    mailbox = await dovecot_servers.mailbox(capabilities=MINIMAL_CAPABILITIES)
    yield mailbox
    mailbox.remove_mail()


@pytest.fixture
async def dovecot_tls(dovecot_servers: Servers) -> AsyncIterator[Dovecot]:
    """STARTTLS on ``port``, implicit TLS on ``tls_port``; its certificate is ``cert``."""
    mailbox = await dovecot_servers.mailbox(tls=True)
    yield mailbox
    mailbox.remove_mail()


@pytest.fixture
async def private_dovecot() -> AsyncIterator[Dovecot]:
    """A server of the test's own, which it may crash, stop and start again."""
    async with running_dovecot() as server:
        yield server


# --- SMTP: aiosmtpd as the peer replies go to (see smtp_peer.py) ---------------------------


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    server = Peer()
    server.start()
    yield server
    if server.running:
        server.stop()
