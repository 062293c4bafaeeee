"""The content-addressed blob folder."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from hub.errors import NotFound
from hub.store.blobs import FolderBlobStore


async def test_put_is_addressed_by_content_and_kept_once(tmp_path: Path) -> None:
    blobs = FolderBlobStore(tmp_path)
    data = b"%PDF-1.4 fax page"
    name = await blobs.put(data)
    assert name == hashlib.sha256(data).hexdigest()
    assert await blobs.put(data) == name
    assert await blobs.get(name) == data
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files == [tmp_path / name[:2] / name[2:4] / name]


async def test_missing_and_malformed_names_are_not_found(tmp_path: Path) -> None:
    blobs = FolderBlobStore(tmp_path)
    with pytest.raises(NotFound):
        await blobs.get("0" * 64)
    with pytest.raises(NotFound):
        await blobs.get("../../etc/passwd")
    assert not await blobs.exists("0" * 64)


async def test_delete_removes_the_file(tmp_path: Path) -> None:
    blobs = FolderBlobStore(tmp_path)
    name = await blobs.put(b"x")
    await blobs.delete(name)
    assert not await blobs.exists(name)
    await blobs.delete(name)  # deleting twice is fine
