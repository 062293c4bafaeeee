"""Content-addressed blob storage for attachments (faxes, MMS media, email parts).

A blob's name is the SHA-256 of its bytes, so storing the same file twice keeps one copy
and a message refers to it by hash. ``put`` writes to a temporary file, fsyncs it and
renames it into place: a crash leaves either the whole blob or none. The folder layout
is ``ab/cd/abcd…`` to keep directories small. Other backends (S3, …) implement the same
``BlobStore`` protocol.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

from hub.errors import NotFound

_HASH = re.compile(r"^[0-9a-f]{64}$")


class BlobStore(Protocol):
    async def put(self, data: bytes) -> str: ...
    async def get(self, sha256: str) -> bytes: ...
    async def exists(self, sha256: str) -> bool: ...
    async def delete(self, sha256: str) -> None: ...


class FolderBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, sha256: str) -> Path:
        if not _HASH.match(sha256):
            raise NotFound(f"no blob named {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    async def put(self, data: bytes) -> str:
        return await asyncio.to_thread(self._put, data)

    def _put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        target = self.path_of(digest)
        if target.exists():
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    async def get(self, sha256: str) -> bytes:
        path = self.path_of(sha256)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError as exc:
            raise NotFound(f"no blob named {sha256}") from exc

    async def exists(self, sha256: str) -> bool:
        return self.path_of(sha256).exists()

    async def delete(self, sha256: str) -> None:
        self.path_of(sha256).unlink(missing_ok=True)
