"""Which failures mean "a dependency is briefly unreachable" rather than "this input is bad".

Transient failures are retried (the ingest worker keeps its batch; an edge answers 503 so
the provider retries); they never count as a message's attempt.
"""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, OperationalError

_TRANSIENT = (OperationalError, OSError, RedisConnectionError, RedisTimeoutError, TimeoutError)


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, DBAPIError) and "deadlock" in str(exc.orig).lower():
        return True
    return isinstance(exc, _TRANSIENT)
