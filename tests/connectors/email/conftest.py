"""Fixtures of the email connector's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.connectors.email.dovecot import MINIMAL_CAPABILITIES, Dovecot, running_dovecot
from tests.connectors.email.smtp_peer import Peer

# --- IMAP: a private Dovecot per test (see dovecot.py) -----------------------------------


@pytest.fixture
async def dovecot() -> AsyncIterator[Dovecot]:
    """Plain IMAP on a loopback port, with IDLE, MOVE and UIDPLUS."""
    async with running_dovecot() as server:
        yield server


@pytest.fixture
async def dovecot_minimal() -> AsyncIterator[Dovecot]:
    """A server that offers neither IDLE nor MOVE."""
    async with running_dovecot(capabilities=MINIMAL_CAPABILITIES) as server:
        yield server


@pytest.fixture
async def dovecot_tls() -> AsyncIterator[Dovecot]:
    """STARTTLS on ``port``, implicit TLS on ``tls_port``; its certificate is ``cert``."""
    async with running_dovecot(tls=True) as server:
        yield server


# --- SMTP: aiosmtpd as the peer replies go to (see smtp_peer.py) ---------------------------


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    server = Peer()
    server.start()
    yield server
    if server.running:
        server.stop()
