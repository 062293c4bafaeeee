"""Connector settings saved in the admin pages (table ``channel_settings``).

A saved section (``twilio``, ``email`` ...) replaces that section of the settings file
when a hub process starts; a section set by environment variables stays as the
environment says, and the admin pages show it read-only. Secrets are write-only: what
leaves the hub is :func:`masked`, where each secret is only ``{"$secret": "set"}``.

The pure part (mask, merge, overlay) does no I/O; ``load_saved`` and ``save`` use the store.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_core import to_jsonable_python
from sqlalchemy.exc import DBAPIError

from hub.errors import Conflict, NotFound
from hub.settings import ENV_PREFIX, ConnectorSettings, Settings
from hub.settings_section import Section
from hub.store.engine import Store
from hub.store.tables import channel_settings
from hub.validation import InvalidFields

log = logging.getLogger("contacthub.settings")
SECRET_SET = {"$secret": "set"}  # how a secret that has a value is shown
KEEP = "set"  # ``{"$secret": "set"}`` sent back means: keep the saved value


def sections() -> dict[str, type[Section]]:
    """Every ``[connectors.NAME]`` section and its model."""
    out: dict[str, type[Section]] = {}
    for name, field in ConnectorSettings.model_fields.items():
        model = field.annotation
        if isinstance(model, type) and issubclass(model, Section):
            out[name] = model
    return out


def _walk(value: Any, secret: Callable[[SecretStr], Any]) -> Any:
    if isinstance(value, SecretStr):
        return secret(value)
    if isinstance(value, BaseModel):
        return {name: _walk(getattr(value, name), secret) for name in type(value).model_fields}
    if isinstance(value, Mapping):
        return {str(k): _walk(v, secret) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(v, secret) for v in value]
    return to_jsonable_python(value)


def masked(value: Any) -> Any:
    """JSON-ready values with every secret replaced by ``SECRET_SET`` (or None if unset)."""
    return _walk(value, lambda s: SECRET_SET if s.get_secret_value() else None)


def revealed(value: Any) -> Any:
    """JSON-ready values with secrets in clear: what the table stores, never a response."""
    return _walk(value, lambda s: s.get_secret_value())


def _is_keep(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get("$secret") == KEEP and len(value) == 1


def _same_entry(incoming: Any, current: Any) -> bool:
    """Whether a list entry is the saved one: every text both have in clear is equal
    (a Twilio account by its SID), so a removed or moved entry never lends its secret."""
    if not isinstance(incoming, Mapping) or not isinstance(current, Mapping):
        return False
    shared = [k for k, v in incoming.items() if isinstance(v, str) and isinstance(current.get(k), str)]
    return bool(shared) and all(incoming[k] == current[k] for k in shared)


def _keep_secrets(incoming: Any, current: Any) -> Any:
    """``incoming`` with each ``{"$secret": "set"}`` replaced by the saved value at the
    same place in ``current`` (mappings by key, list entries by ``_same_entry``);
    where there is none, the secret is unset (and validation says it is missing)."""
    if _is_keep(incoming):
        return current if isinstance(current, str) else None
    if isinstance(incoming, Mapping):
        cur = current if isinstance(current, Mapping) else {}
        return {k: _keep_secrets(v, cur.get(k)) for k, v in incoming.items()}
    if isinstance(incoming, list):
        saved = current if isinstance(current, list) else []
        return [_keep_secrets(v, next((c for c in saved if _same_entry(v, c)), None)) for v in incoming]
    return incoming


def merge(name: str, incoming: Any, current: Section) -> Section:
    """Validate an edited section; raise InvalidFields naming each wrong field."""
    model = sections()[name]
    data = _keep_secrets(incoming, revealed(current))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidFields(
            [
                {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "message": e["msg"]}
                for e in exc.errors()
            ]
        ) from exc


def env_locked(environ: Mapping[str, str]) -> dict[str, str]:
    """Sections that environment variables set, each with one of the variables."""
    prefix = f"{ENV_PREFIX}CONNECTORS__"
    out: dict[str, str] = {}
    for key in environ:
        if key.upper().startswith(prefix):
            section = key[len(prefix) :].split("__")[0].lower()
            out.setdefault(section, key)
    return out


def overlay(settings: Settings, saved: Mapping[str, Any], locked: Mapping[str, str]) -> Settings:
    """The settings with each saved section in place of the file's (not the locked ones,
    nor one that no longer validates: that is logged, and the file's applies)."""
    models = sections()
    update: dict[str, Section] = {}
    for name, data in saved.items():
        if name not in models or name in locked:
            continue
        try:
            update[name] = models[name].model_validate(data)
        except ValidationError as exc:  # e.g. saved by an older version: the hub must still start
            log.error("[connectors.%s] saved in /admin/ is invalid, the file's applies: %s", name, exc)
    if not update:
        return settings
    return settings.model_copy(update={"connectors": settings.connectors.model_copy(update=update)})


async def load_saved(store: Store) -> dict[str, Any]:
    """Every saved section: name -> {data, updated_by, updated_at}; {} before migrating."""
    try:
        async with store.read() as conn:
            rows = (await conn.execute(sa.select(channel_settings))).all()
    except DBAPIError:  # no table yet: `contacthub migrate` has not run
        return {}
    return {r.name: {"data": r.data, "updated_by": r.updated_by, "updated_at": r.updated_at} for r in rows}


def with_saved_sections(settings: Settings, environ: Mapping[str, str]) -> Settings:
    """At process start, before the app is built (its routes depend on these settings)."""

    async def read() -> dict[str, Any]:
        store = Store(settings.database)
        try:
            return await load_saved(store)
        finally:
            await store.close()

    try:
        saved = asyncio.run(read())
    except (OSError, DBAPIError) as exc:  # the start reports an unreachable database itself
        log.warning("saved connector settings not read (%r); the file's apply", exc)
        return settings
    return overlay(settings, {n: s["data"] for n, s in saved.items()}, env_locked(environ))


async def save(store: Store, name: str, section: Section, actor: str, locked: Mapping[str, str]) -> None:
    if name not in sections():
        raise NotFound(f"no connector settings section {name!r}")
    if name in locked:
        raise Conflict(f"[connectors.{name}] is set by the environment ({locked[name]}); change it there")
    values = {"data": revealed(section), "updated_by": actor, "updated_at": datetime.now(UTC)}
    async with store.write() as conn:
        updated = await conn.execute(
            sa.update(channel_settings).where(channel_settings.c.name == name).values(**values)
        )
        if not updated.rowcount:
            await conn.execute(sa.insert(channel_settings).values(name=name, **values))
