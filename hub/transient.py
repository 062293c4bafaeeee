"""Which failures mean "a dependency is briefly unreachable" rather than "this input is bad".

Transient failures are retried (the ingest worker keeps its batch; an edge answers 503 so
the provider retries); they never count as a message's attempt. They come in two kinds:

- an **outage**: the database or Redis cannot be reached, or refuses work for a while
  (PostgreSQL SQLSTATE class 08, connection exception; 57P01-57P03, shutting down,
  crashed, starting up; class 53, out of resources such as connections; SQLite busy or
  unable to write; a socket error; Redis gone or still loading). Retry with backoff.
- a **conflict**: the transaction lost a race the database settled by aborting it
  (40001 serialization failure, 40P01 deadlock). Nothing is down: retry at once.

The class is read from the SQLSTATE (or SQLite's error code) that the driver attaches,
looked for through SQLAlchemy's wrapper (``orig``) and the ``__cause__`` chain, never
from the message text, which differs by server language and version.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from typing import Literal

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

Kind = Literal["outage", "conflict"]

# SQLSTATE -> what it means for a retry; a two-character key stands for its whole class
_SQLSTATES: dict[str, tuple[Kind, str]] = {
    "08": ("outage", "the database connection failed"),
    "53": ("outage", "the database is out of resources"),
    "57P01": ("outage", "the database is shutting down"),
    "57P02": ("outage", "the database crashed and is restarting"),
    "57P03": ("outage", "the database is starting up or shutting down"),
    "40001": ("conflict", "a serialization failure"),
    "40P01": ("conflict", "a deadlock"),
}
# SQLite's primary result codes that say the database is busy or cannot be written now
_SQLITE_OUTAGE = {
    sqlite3.SQLITE_BUSY: "the database is locked",
    sqlite3.SQLITE_LOCKED: "the database is locked",
    sqlite3.SQLITE_IOERR: "the database file cannot be read or written",
    sqlite3.SQLITE_FULL: "the disk is full",
    sqlite3.SQLITE_CANTOPEN: "the database file cannot be opened",
}
_UNREACHABLE = (
    OSError,  # ConnectionRefusedError and friends, while (re)connecting
    TimeoutError,
    RedisConnectionError,  # includes BusyLoadingError: Redis reading its AOF after a restart
    RedisTimeoutError,
    ReadOnlyError,  # a replica during failover
    PoolTimeoutError,  # no pooled connection came free: the database is slow or gone
)
# OSErrors of a local file (a blob the store no longer has): a definite answer, no outage
_FILE_ERRORS = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError)


def classify(exc: BaseException) -> tuple[Kind, str] | None:
    """``(kind, what happened)`` for a transient failure, None for anything else."""
    for link in _chain(exc):
        code = getattr(link, "sqlstate", None) or getattr(link, "pgcode", None)
        if isinstance(code, str) and code:
            found = _SQLSTATES.get(code) or _SQLSTATES.get(code[:2])
            if found is not None:
                return found
            return None  # the server answered with a definite error: the input or our bug
        if isinstance(link, sqlite3.Error) and getattr(link, "sqlite_errorcode", None) is not None:
            what = _SQLITE_OUTAGE.get(link.sqlite_errorcode & 0xFF)
            return ("outage", what) if what else None
        if isinstance(link, DBAPIError) and link.connection_invalidated:
            return ("outage", "the database connection was lost")
        if isinstance(link, _FILE_ERRORS):
            return None
        if isinstance(link, _UNREACHABLE):
            return ("outage", f"unreachable ({type(link).__name__})")
    return None


def is_transient(exc: BaseException) -> bool:
    """An outage or a conflict: retry, and never count it as an attempt."""
    return classify(exc) is not None


def is_conflict(exc: BaseException) -> bool:
    """A deadlock or a serialization failure: retry the transaction at once."""
    found = classify(exc)
    return found is not None and found[0] == "conflict"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what SQLAlchemy wrapped (``orig``), and its causes, each once."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 16:
        link = todo.pop(0)
        if id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        orig = getattr(link, "orig", None)
        if isinstance(orig, BaseException):
            todo.append(orig)
        if link.__cause__ is not None:
            todo.append(link.__cause__)


class OutageNotice:
    """For a loop that retries every few seconds: one warning when an outage starts and one
    line when it ends, rather than a traceback on every round."""

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self._log = logger
        self._what = what
        self._since: float | None = None

    def failed(self, exc: BaseException) -> bool:
        """Note a failure; False if it is no outage (the caller logs it as an error)."""
        found = classify(exc)
        if found is None:
            return False
        if self._since is None:
            self._since = time.monotonic()
            self._log.warning("%s: %s; retrying until it is back: %r", self._what, found[1], exc)
        return True

    def succeeded(self) -> None:
        if self._since is not None:
            self._log.warning("%s: back after %.1fs", self._what, time.monotonic() - self._since)
            self._since = None
