"""TCP proxies in front of the test PostgreSQL or Redis that can play their outages.

- ``passing``: every connection is piped to the real server;
- ``refusing``: a new connection is answered as a PostgreSQL that is shutting down or
  starting up answers it: an ErrorResponse with SQLSTATE 57P03 (or another code), then
  closed. Existing connections are cut when the mode changes, as a restart cuts them.

The client library (asyncpg, through SQLAlchemy) sees real server answers, so the
exceptions it raises are the ones a real outage produces.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct

from tests.hubproc import free_port


class TcpProxy:
    """Refusing closes each new connection at once, as a server that is not there yet."""

    def __init__(self, upstream_port: int) -> None:
        self.port = free_port()
        self.upstream_port = upstream_port
        self.refusing: str | None = None  # the SQLSTATE new connections get, or None
        self.refused = 0  # connections answered with an error so far
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def refuse(self, sqlstate: str = "57P03") -> None:
        """From now on, answer as a server that refuses connections; cut the open ones."""
        self.refusing = sqlstate
        self.cut()

    def pass_through(self) -> None:
        self.refusing = None

    def cut(self) -> None:
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing is not None:
            await self._refuse(reader, writer, self.refusing)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        self._open |= {writer, up_writer}
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        self._open -= {writer, up_writer}

    async def _refuse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, code: str) -> None:
        self.refused += 1
        writer.transport.abort()


class PgProxy(TcpProxy):
    """Refusing answers as PostgreSQL does while it shuts down or starts up."""

    def __init__(self, upstream_port: int = 5432) -> None:
        super().__init__(upstream_port)

    def url(self, database: str = "test") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    async def _refuse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, code: str) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while True:
                length = struct.unpack("!I", await reader.readexactly(4))[0]
                body = await reader.readexactly(length - 4)
                if struct.unpack("!I", body[:4])[0] == 80877103:  # SSLRequest: no SSL here
                    writer.write(b"N")
                    continue
                break  # the StartupMessage: answer it as the server would, then hang up
            fields = b"".join(
                kind + value.encode() + b"\0"
                for kind, value in (
                    (b"S", "FATAL"),
                    (b"V", "FATAL"),
                    (b"C", code),
                    (b"M", "the database system is shutting down"),
                )
            )
            writer.write(b"E" + struct.pack("!I", len(fields) + 5) + fields + b"\0")
            await writer.drain()
        self.refused += 1
        writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError, ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()
