"""Backup and restore: a consistent snapshot of the database and the blob store, checked
after it is written and before it is restored.

A backup is a folder: ``database.sqlite`` (SQLite's online backup API: a consistent copy
while the hub serves) or ``database.pgdump`` (``pg_dump`` in its custom format, on a
snapshot the hub exports from the transaction that counts the rows, so the counts are of
exactly what was dumped), ``blobs/`` (the content-addressed files: a file's name is the
SHA-256 of its bytes, so each is checked by hashing it), and ``manifest.json``, written
last: a folder without it is not a backup. The embedded queue and outbox live in the
SQLite database and travel with it; Redis is not part of a backup.

A restore goes into a fresh installation only (an empty database), of the same kind, at
the schema the backup was made at, and checks what it restored against the manifest.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.errors import InputError
from hub.store.engine import Store
from hub.store.tables import attachments, conversations, customers, events, messages

MANIFEST = "manifest.json"
FORMAT = 1
COUNTED = (customers, conversations, messages, attachments, events)
FILES = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}


@dataclass
class Manifest:
    backend: str  # sqlite | postgresql
    revision: str  # the schema's migration
    counts: dict[str, int]
    database: dict[str, Any]  # file, bytes, sha256
    blobs: dict[str, int]  # files, bytes
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    format: int = FORMAT

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST
        if not path.is_file():
            raise InputError(f"{folder}: no {MANIFEST}, so not a (complete) backup")
        try:
            data = json.loads(path.read_text())
            manifest = cls(**data)
        except (ValueError, TypeError) as exc:
            raise InputError(f"{path}: not a backup manifest ({exc})") from exc
        if manifest.format != FORMAT or manifest.backend not in FILES:
            raise InputError(
                f"{path}: format {manifest.format} of {manifest.backend!r} is not one this hub reads"
            )
        return manifest


# --- what is in a database ---------------------------------------------------------------


async def _counts(conn: AsyncConnection) -> dict[str, int]:
    return {t.name: int(await conn.scalar(sa.select(sa.func.count()).select_from(t)) or 0) for t in COUNTED}


async def _revision(conn: AsyncConnection) -> str | None:
    try:
        found = await conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
        return str(found) if found is not None else None
    except sa.exc.DBAPIError:  # no such table: nobody migrated this database
        await conn.rollback()
        return None


async def contents(store: Store) -> tuple[str | None, dict[str, int] | None]:
    """The database's schema revision and its rows (None, None: an empty database)."""
    async with store.engine.connect() as conn:
        revision = await _revision(conn)
        return revision, (await _counts(conn) if revision is not None else None)


# --- files ---------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _blob_files(root: Path) -> Iterator[Path]:
    if root.is_dir():
        yield from (p for p in sorted(root.rglob("*")) if p.is_file() and not p.name.startswith(".incoming-"))


def copy_blobs(source: Path, target: Path) -> dict[str, int]:
    """Every blob of ``source`` into ``target`` (same layout), each checked by its hash."""
    files = size = 0
    for path in _blob_files(source):
        relative = path.relative_to(source)
        copy = target / relative
        copy.parent.mkdir(parents=True, exist_ok=True)
        if not copy.exists():
            shutil.copyfile(path, copy)
        if _sha256(copy) != path.name:
            raise InputError(f"blob {relative}: its bytes do not match its name (damaged)")
        files += 1
        size += copy.stat().st_size
    return {"files": files, "bytes": size}


def _check_blobs(root: Path, expected: dict[str, int]) -> None:
    files = size = 0
    for path in _blob_files(root):
        if _sha256(path) != path.name:
            raise InputError(f"blob {path.relative_to(root)}: its bytes do not match its name (damaged)")
        files += 1
        size += path.stat().st_size
    if files < expected["files"]:
        raise InputError(f"{root}: {files} blobs, the manifest says {expected['files']}")


def _empty_folder(folder: Path) -> None:
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InputError(f"{folder} exists and is not an empty folder: choose a new one")
    folder.mkdir(parents=True, exist_ok=True)


# --- PostgreSQL's tools ----------------------------------------------------------------------


def _pg(store: Store) -> tuple[str, dict[str, str]]:
    """A libpq URL (without the password) and an environment with the password."""
    url = make_url(store.engine.url.render_as_string(hide_password=False))
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return plain, env


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    tool = shutil.which(args[0])
    if tool is None:
        raise InputError(f"{args[0]} is not installed: {what} needs PostgreSQL's client tools")
    done = subprocess.run([tool, *args[1:]], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise InputError(f"{what} failed: {args[0]}: {done.stderr.strip()[:2000]}")


# --- backup ------------------------------------------------------------------------------------


async def backup(store: Store, blob_root: Path, dest: Path) -> Manifest:
    """Write a backup of the database and the blobs into the new folder ``dest``."""
    _empty_folder(dest)
    database = dest / FILES[store.dialect]
    if store.dialect == "sqlite":
        assert store.sqlite_file is not None
        await asyncio.to_thread(_sqlite_copy, Path(store.sqlite_file), database)
        revision, counts = await asyncio.to_thread(_sqlite_contents, database)
    else:
        revision, counts = await _pg_dump(store, database)
    if revision is None or counts is None:
        raise InputError("the database has no schema: nothing to back up (run `contacthub migrate` first)")
    blobs = await asyncio.to_thread(copy_blobs, blob_root, dest / "blobs")
    manifest = Manifest(
        backend=store.dialect,
        revision=revision,
        counts=counts,
        database={"file": database.name, "bytes": database.stat().st_size, "sha256": _sha256(database)},
        blobs=blobs,
    )
    if store.dialect == "postgresql":  # the dump is readable: its table of contents lists every table
        _, env = _pg(store)
        _run(["pg_restore", "--list", str(database)], env, "checking the dump")
    (dest / MANIFEST).write_text(json.dumps(asdict(manifest), indent=2) + "\n")
    return manifest


def _read_only(path: Path) -> str:
    """The file's SQLite URI, read-only (``as_uri`` escapes a ``?`` or ``#`` in the path)."""
    return path.resolve().as_uri() + "?mode=ro"


def _sqlite_copy(source: Path, target: Path) -> None:
    src = sqlite3.connect(_read_only(source), uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # page by page, a consistent snapshot while others write
    finally:
        dst.close()
        src.close()


def _sqlite_contents(path: Path) -> tuple[str | None, dict[str, int] | None]:
    conn = sqlite3.connect(_read_only(path), uri=True)
    try:
        check = conn.execute("PRAGMA integrity_check").fetchone()
        if check is None or check[0] != "ok":
            raise InputError(f"{path}: the copy fails SQLite's integrity check: {check}")
        try:
            revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:
            return None, None
        counts = {t.name: conn.execute(f'SELECT count(*) FROM "{t.name}"').fetchone()[0] for t in COUNTED}
        return (revision[0] if revision else None), counts
    finally:
        conn.close()


async def _pg_dump(store: Store, target: Path) -> tuple[str | None, dict[str, int] | None]:
    """``pg_dump`` of the hub's schema on the snapshot of a transaction that counts the rows."""
    plain, env = _pg(store)
    async with store.engine.connect() as conn:
        await conn.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        snapshot = await conn.scalar(sa.text("SELECT pg_export_snapshot()"))
        revision = await _revision(conn)
        counts = await _counts(conn) if revision is not None else None
        args = ["pg_dump", "--format=custom", f"--snapshot={snapshot}", f"--file={target}", "--no-owner"]
        if store.schema:
            args.append(f"--schema={store.schema}")
        await asyncio.to_thread(_run, [*args, plain], env, "pg_dump")
        await conn.rollback()
    return revision, counts


# --- restore ----------------------------------------------------------------------------------


async def restore(store: Store, blob_root: Path, source: Path) -> Manifest:
    """Restore the backup in ``source`` into this installation, whose database must be empty."""
    manifest = Manifest.read(source)
    if manifest.backend != store.dialect:
        raise InputError(
            f"{source} is a backup of a {manifest.backend} database; this hub runs on {store.dialect}"
            " (to move an embedded installation to PostgreSQL, restore it on SQLite first)"
        )
    database = source / manifest.database["file"]
    if not database.is_file() or _sha256(database) != manifest.database["sha256"]:
        raise InputError(f"{database}: missing or damaged (its checksum differs from the manifest's)")
    await asyncio.to_thread(_check_blobs, source / "blobs", manifest.blobs)
    revision, _ = await contents(store)
    if revision is not None:
        raise InputError(
            "the database is not empty: a backup is restored into a fresh installation only"
            " (a new database, or stop the hub and remove it first)"
        )
    if store.dialect == "sqlite":
        assert store.sqlite_file is not None
        await store.engine.dispose()  # nothing of ours holds the file while it is replaced
        await asyncio.to_thread(_sqlite_copy, database, Path(store.sqlite_file))
    else:
        plain, env = _pg(store)
        await asyncio.to_thread(
            _run,
            ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={plain}", str(database)],
            env,
            "pg_restore",
        )
    await asyncio.to_thread(copy_blobs, source / "blobs", blob_root)
    revision, counts = await contents(store)
    if revision != manifest.revision or counts != manifest.counts:
        raise InputError(
            f"the restored database differs from the backup: schema {revision} (backup: {manifest.revision}),"
            f" rows {counts} (backup: {manifest.counts})"
        )
    return manifest
