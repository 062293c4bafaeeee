"""API bearer tokens. Only a SHA-256 of each token is stored: tokens are 256 random bits,
so a slow password hash would add nothing but latency to every API call.
Verified tokens are cached briefly; a revoke takes effect within ``CACHE_SECONDS``
in other processes and at once in this one. While the store is unreachable, a token
this process verified before keeps working (nobody can revoke it meanwhile), so that a
provider's messages are still accepted into the queue during a database outage."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from hub.errors import NotFound, Unauthenticated
from hub.store.engine import Store
from hub.store.tables import api_tokens
from hub.store.times import iso
from hub.transient import is_transient
from hub.untrusted import secrets_equal

PREFIX = "cht_"
CACHE_SECONDS = 30.0
# what a token may do; it carries one or more (stored space-separated, as OAuth writes them)
SCOPES = {
    "ingest": "the API channel: inject inbound messages (POST /api/v1/messages)",
    "customers:read": "read a customer's record by its external id (GET /api/v1/integration/customers/…)",
    "customers:write": "upsert customers and their identities by external id (PUT /api/v1/customers)",
    "contracts:write": "upsert contracts by their external reference (PUT /api/v1/contracts)",
    "revenue:write": "upsert revenue per customer and month by external reference (PUT /api/v1/revenue)",
    "events:read": "read what happened since a cursor (GET /api/v1/integration/events)",
}


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: str
    name: str
    scopes: tuple[str, ...]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()  # any header decodes


class TokenService:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._cache: dict[str, tuple[TokenInfo, float]] = {}

    async def create(self, name: str, scopes: Sequence[str] = ("ingest",)) -> tuple[TokenInfo, str]:
        token = PREFIX + secrets.token_urlsafe(32)
        info = TokenInfo(str(uuid.uuid4()), name, tuple(dict.fromkeys(scopes)))
        async with self._store.write() as conn:
            await conn.execute(
                sa.insert(api_tokens).values(
                    id=info.id,
                    name=name,
                    token_hash=_digest(token),
                    scope=" ".join(info.scopes),
                    created_at=datetime.now(UTC),
                )
            )
        return info, token

    async def verify(self, token: str) -> TokenInfo:
        digest = _digest(token)
        cached = self._cache.get(digest)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        try:
            async with self._store.read() as conn:
                row = (
                    await conn.execute(sa.select(api_tokens).where(api_tokens.c.token_hash == digest))
                ).one_or_none()
        except Exception as exc:
            if cached is not None and is_transient(exc):
                return cached[0]
            raise
        # compare_digest keeps the check constant-time even though the lookup is by hash
        if row is None or row.revoked_at is not None or not secrets_equal(digest, row.token_hash):
            raise Unauthenticated("the API token is unknown or revoked")
        info = TokenInfo(row.id, row.name, tuple(row.scope.split()))
        self._cache[digest] = (info, time.monotonic() + CACHE_SECONDS)
        # "last used" is as fresh as the cache: one write per token and process every 30 s
        try:
            async with self._store.write() as conn:
                await conn.execute(
                    sa.update(api_tokens)
                    .where(api_tokens.c.id == row.id)
                    .values(last_used_at=datetime.now(UTC))
                )
        except Exception as exc:
            if not is_transient(exc):
                raise  # an outage only delays "last used": the token itself was verified
        return info

    async def list(self) -> list[dict[str, object]]:
        """Every token, newest first, without its hash."""
        async with self._store.read() as conn:
            rows = await conn.execute(
                sa.select(
                    api_tokens.c.id,
                    api_tokens.c.name,
                    api_tokens.c.scope,
                    api_tokens.c.created_at,
                    api_tokens.c.last_used_at,
                    api_tokens.c.revoked_at,
                ).order_by(api_tokens.c.created_at.desc())
            )
            return [
                {
                    "id": r.id,
                    "name": r.name,
                    "scopes": r.scope.split(),
                    "created_at": iso(r.created_at),
                    "last_used_at": iso(r.last_used_at),
                    "revoked_at": iso(r.revoked_at),
                }
                for r in rows
            ]

    async def revoke(self, token_id: str) -> None:
        async with self._store.write() as conn:
            result = await conn.execute(
                sa.update(api_tokens)
                .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
        if not result.rowcount:
            raise NotFound(f"no active token with id {token_id}")
        self._cache = {k: v for k, v in self._cache.items() if v[0].id != token_id}
