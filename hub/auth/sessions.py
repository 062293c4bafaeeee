"""Agent log-in and sessions.

A session is a random token in an HttpOnly cookie; only its SHA-256 is stored, with an
expiry. Passwords are argon2 hashes (argon2-cffi). A wrong email and a wrong password
give the same answer, in about the same time.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hub.errors import Forbidden, Unauthenticated
from hub.model import Role
from hub.store.engine import Store
from hub.store.tables import agents, sessions
from hub.store.times import utc

COOKIE = "contacthub_session"
RANK = {Role.AGENT: 1, Role.SUPERVISOR: 2, Role.ADMIN: 3}
_hasher = PasswordHasher()
# verified against when the email is unknown, so both failures cost one argon2 check
_DUMMY_HASH = _hasher.hash("not-a-password")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a signed-in agent."""

    agent_id: str
    email: str
    name: str
    role: Role

    @property
    def actor(self) -> str:
        return f"agent:{self.agent_id}"

    def require(self, role: Role) -> None:
        if RANK[self.role] < RANK[role]:
            raise Forbidden(f"this needs the {role.value} role; you are signed in as {self.role.value}")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionService:
    def __init__(self, store: Store, lifetime: timedelta = timedelta(hours=12)) -> None:
        self._store = store
        self._lifetime = lifetime

    async def login(self, email: str, password: str) -> tuple[str, Principal]:
        async with self._store.read() as conn:
            row = (
                await conn.execute(sa.select(agents).where(agents.c.email == email.strip().lower()))
            ).one_or_none()
        try:
            _hasher.verify(row.password_hash if row and row.password_hash else _DUMMY_HASH, password)
            if row is None or not row.password_hash:
                raise VerificationError
        except (VerificationError, InvalidHashError) as exc:
            raise Unauthenticated("wrong email or password") from exc
        if not row.active:
            raise Forbidden("this account is disabled; ask an admin")
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        async with self._store.write() as conn:
            await conn.execute(
                sa.insert(sessions).values(
                    token_hash=_digest(token),
                    agent_id=row.id,
                    created_at=now,
                    expires_at=now + self._lifetime,
                )
            )
        return token, Principal(row.id, row.email, row.name, Role(row.role))

    async def verify(self, token: str) -> Principal:
        now = datetime.now(UTC)
        async with self._store.read() as conn:
            row = (
                await conn.execute(
                    sa.select(agents, sessions.c.expires_at)
                    .join(sessions, sessions.c.agent_id == agents.c.id)
                    .where(sessions.c.token_hash == _digest(token))
                )
            ).one_or_none()
        if row is None or utc(row.expires_at) <= now or not row.active:
            raise Unauthenticated("your session has ended; sign in again")
        return Principal(row.id, row.email, row.name, Role(row.role))

    async def logout(self, token: str) -> None:
        async with self._store.write() as conn:
            await conn.execute(sa.delete(sessions).where(sessions.c.token_hash == _digest(token)))
