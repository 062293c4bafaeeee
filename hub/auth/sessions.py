"""Agent log-in and sessions.

A session is a random token in an HttpOnly cookie; only its SHA-256 is stored, with an
expiry. Passwords are argon2 hashes (argon2-cffi). A wrong email and a wrong password
give the same answer, in about the same time. Failed attempts are throttled per email
and per client address (hub/auth/throttle.py). An agent with two-factor authentication
on must also send the current TOTP code; one for whom it is required but not yet set up
gets a ``totp_setup`` session that may only enrol (the access middleware enforces it).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hub.auth.throttle import LoginThrottle
from hub.auth.totp import verify_code
from hub.errors import Forbidden, TotpInvalid, TotpRequired, Unauthenticated
from hub.model import Role
from hub.settings import SecuritySettings
from hub.store.engine import Store
from hub.store.tables import agents, sessions
from hub.store.times import utc

COOKIE = "contacthub_session"
RANK = {Role.AGENT: 1, Role.SUPERVISOR: 2, Role.ADMIN: 3}
FULL = "full"
TOTP_SETUP = "totp_setup"  # two-factor is required but not set up: the session may only enrol
SESSION_ENDED = "session.ended"
"""Bus topic when sessions end, so every process closes their sockets: ``{"agent_id",
"session": session_digest(token)}`` for one session, ``{"agent_id"}`` for all of an agent's."""
_hasher = PasswordHasher()
# verified against when the email is unknown, so both failures cost one argon2 check
_DUMMY_HASH = _hasher.hash("not-a-password")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a signed-in agent, and what their session may do."""

    agent_id: str
    email: str
    name: str
    role: Role
    scope: str = FULL
    totp_enabled: bool = False
    totp_required: bool = False
    """Two-factor is required for this agent: by the admin, or by security.totp_required."""

    @property
    def actor(self) -> str:
        return f"agent:{self.agent_id}"

    @property
    def setup_only(self) -> bool:
        return self.scope == TOTP_SETUP

    def require(self, role: Role) -> None:
        if RANK[self.role] < RANK[role]:
            raise Forbidden(f"this needs the {role.value} role; you are signed in as {self.role.value}")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def session_digest(token: str) -> str:
    """The SHA-256 hex digest of a session token, as stored in ``sessions.token_hash``."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()  # any cookie decodes


class SessionService:
    def __init__(
        self,
        store: Store,
        security: SecuritySettings | None = None,
        lifetime: timedelta = timedelta(hours=12),
    ) -> None:
        security = security or SecuritySettings()
        self._store = store
        self._lifetime = lifetime
        self._totp_required = security.totp_required
        self.throttle = LoginThrottle(
            store,
            per_email=security.login_failures_per_email,
            per_ip=security.login_failures_per_ip,
            window=timedelta(minutes=security.login_failure_window_minutes),
        )

    async def login(
        self, email: str, password: str, *, totp: str | None = None, ip: str = "unknown"
    ) -> tuple[str, Principal]:
        """Check the password (and the TOTP code if the agent has one); start a session.

        Raises TooManyRequests (throttled: nothing is checked), Unauthenticated (wrong
        email or password), Forbidden (disabled), TotpRequired (no code sent) or
        TotpInvalid (wrong code). Wrong passwords and wrong codes count as failures;
        the attempt is counted first, so parallel attempts cannot outrun the count.
        """
        now = datetime.now(UTC)
        email = email.strip().lower()
        await self.throttle.attempt(email, ip, now)
        async with self._store.read() as conn:
            row = (await conn.execute(sa.select(agents).where(agents.c.email == email))).one_or_none()
        try:
            _hasher.verify(row.password_hash if row and row.password_hash else _DUMMY_HASH, password)
            if row is None or not row.password_hash:
                raise VerificationError
        except (VerificationError, InvalidHashError) as exc:
            raise Unauthenticated("wrong email or password") from exc  # the attempt stays counted
        if not row.active:
            await self.throttle.give_back(email, ip)
            raise Forbidden("this account is disabled; ask an admin")
        if row.totp_enabled:
            if not (totp or "").strip():
                await self.throttle.give_back(email, ip)
                raise TotpRequired(
                    "this account uses two-factor authentication: send the 6-digit code "
                    "from your authenticator app as 'totp'"
                )
            if not verify_code(row.totp_secret, totp):
                raise TotpInvalid(
                    "the two-factor code is wrong or has expired; send the current code "
                    "from your authenticator app"
                )
        await self.throttle.succeeded(email, ip)
        who = self._principal(row, FULL)
        if who.totp_required and not who.totp_enabled:
            who = self._principal(row, TOTP_SETUP)
        token = secrets.token_urlsafe(32)
        async with self._store.write() as conn:
            await conn.execute(
                sa.insert(sessions).values(
                    token_hash=session_digest(token),
                    agent_id=row.id,
                    created_at=now,
                    expires_at=now + self._lifetime,
                    scope=who.scope,
                )
            )
        return token, who

    async def verify(self, token: str) -> Principal:
        """The agent of a live session; Unauthenticated if it ended, expired or is disabled."""
        now = datetime.now(UTC)
        async with self._store.read() as conn:
            row = (
                await conn.execute(
                    sa.select(agents, sessions.c.expires_at, sessions.c.scope)
                    .join(sessions, sessions.c.agent_id == agents.c.id)
                    .where(sessions.c.token_hash == session_digest(token))
                )
            ).one_or_none()
        if row is None or utc(row.expires_at) <= now or not row.active:
            raise Unauthenticated("your session has ended; sign in again")
        return self._principal(row, row.scope)

    async def upgrade(self, token: str) -> None:
        """Give a ``totp_setup`` session full access (its agent has just enrolled)."""
        async with self._store.write() as conn:
            await conn.execute(
                sa.update(sessions).where(sessions.c.token_hash == session_digest(token)).values(scope=FULL)
            )

    async def logout(self, token: str) -> None:
        async with self._store.write() as conn:
            await conn.execute(sa.delete(sessions).where(sessions.c.token_hash == session_digest(token)))

    def _principal(self, row: Any, scope: str) -> Principal:
        return Principal(
            row.id,
            row.email,
            row.name,
            Role(row.role),
            scope=scope,
            totp_enabled=bool(row.totp_enabled),
            totp_required=self._totp_required or bool(row.totp_required),
        )
