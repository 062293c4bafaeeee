"""The routes every versioned admin configuration has (``hub.versioned_config``): its
saved versions, one version with its diff against the one before, a check of a draft
with its diff against the live one, and a rollback; for a configuration with nothing
more to it, the text in force, a check and a save as well (``config_routes``). Each
names its app key, its base path and what it is called."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

import orjson
import yaml
from aiohttp import web
from pydantic import ConfigDict, Field

from hub.customers import audit
from hub.errors import InputError, NotFound, UnsupportedMediaType
from hub.keys import STORE
from hub.request_body import int_path, json_response, read_json_object, read_limited
from hub.routespec import TEXT, RouteSpec
from hub.untrusted import INT64_MAX
from hub.validation import RequestModel, validated
from hub.versioned_config import VersionedConfig
from hub.web.middleware import AGENT

Key = web.AppKey[Any]
MAX_RULES_BYTES = 256 * 1024


async def rules_text(request: web.Request) -> str:
    """A YAML or JSON document from the body (JSON is re-written as YAML)."""
    ctype = request.content_type
    raw = await read_limited(request, MAX_RULES_BYTES, "the rules")
    if ctype in ("application/yaml", "application/x-yaml", "text/yaml", "text/plain"):
        return raw.decode("utf-8", errors="replace")
    if ctype == "application/json":
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InputError(f"the body is not valid JSON: {exc}", field="rules") from exc
        return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    raise UnsupportedMediaType("send the rules as application/yaml or application/json")


def draft_errors(check: Callable[[str], object], text: str) -> list[dict[str, Any]]:
    """What is wrong with a draft (routing, tier or health rules), as an editor marks it:
    each error's path, position and message; none when it checks."""
    try:
        check(text)
    except InputError as exc:
        return getattr(exc, "errors", None) or [{"field": exc.field, "position": None, "message": exc.detail}]
    return []


class RollbackIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, le=INT64_MAX)


def normal(text: str) -> str:
    """One layout for every version (comments and key quoting aside), so diffs show changes only."""
    try:
        return yaml.safe_dump(yaml.safe_load(text), sort_keys=False, allow_unicode=True) if text else ""
    except yaml.YAMLError:
        return text


def diff(before: str, after: str, before_name: str, after_name: str) -> str:
    before, after = normal(before), normal(after)
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True), after.splitlines(keepends=True), before_name, after_name
        )
    )


def version_routes(base: str, key: Key, what: str, tag: str, parsed: str | None = None) -> list[RouteSpec]:
    """``GET base/versions``, ``GET base/versions/{version}`` (supervisors) and ``POST
    base/rollback`` (admins) for the configuration under ``key``; ``parsed``: the name
    under which a version's text is also given as parsed YAML."""

    def config(request: web.Request) -> VersionedConfig[Any]:
        found: VersionedConfig[Any] = request.app[key]
        return found

    async def list_versions(request: web.Request) -> web.Response:
        return json_response({"items": await config(request).versions()})

    async def get_version(request: web.Request) -> web.Response:
        version = int_path(request, "version")
        text, previous = await config(request).version_texts(version)
        if text is None:
            raise NotFound(f"no {what} version {version}")
        found: dict[str, Any] = {"version": version, "text": text}
        if parsed is not None:
            found[parsed] = yaml.safe_load(text)
        found["diff"] = diff(previous or "", text, f"version {version - 1}", f"version {version}")
        return json_response(found)

    async def rollback(request: web.Request) -> web.Response:
        body = validated(RollbackIn, await read_json_object(request, 1024))
        who = request[AGENT].actor
        version = await config(request).rollback(body.version, who)
        async with request.app[STORE].write() as conn:  # audited as a save is
            await audit.record(
                conn,
                actor=who,
                action="config.rolled_back",
                subject_type="config",
                subject_id=what,
                customer_id=None,
                data={"version": version, "to": body.version},
            )
        return json_response({"version": version})

    common = {401: "Not signed in", 403: "Role too low"}
    return [
        RouteSpec(
            "GET",
            f"{base}/versions",
            list_versions,
            f"Every saved version of the {what}: who and when",
            "supervisor",
            tag=tag,
            responses={200: "Versions, newest first", **common},
        ),
        RouteSpec(
            "GET",
            f"{base}/versions/{{version}}",
            get_version,
            f"One saved version of the {what}: its text and its diff against the one before",
            "supervisor",
            tag=tag,
            responses={200: "The version", 404: "No such version", 400: "Not a version number", **common},
        ),
        RouteSpec(
            "POST",
            f"{base}/rollback",
            rollback,
            f"Put an earlier version of the {what} back in force",
            "admin",
            tag=tag,
            request_schema=RollbackIn.model_json_schema(),
            responses={200: "The new version", 404: "No such version", **common},
        ),
    ]


async def save_version(
    request: web.Request,
    config: VersionedConfig[Any],
    text: str,
    action: str,
    subject_type: str,
    comment: str | None = None,
) -> int:
    """``text`` saved as the configuration's new version by the caller, audited as
    ``action``; the version. ``comment``: default the query's."""
    who = request[AGENT].actor
    version = await config.save(text, who, comment or request.query.get("comment"))
    async with request.app[STORE].write() as conn:
        await audit.record(
            conn,
            actor=who,
            action=action,
            subject_type=subject_type,
            subject_id=str(version),
            customer_id=None,
        )
    return version


def config_routes(
    base: str, key: Key, what: str, tag: str, saved: str, subject_type: str, save_note: str = ""
) -> list[RouteSpec]:
    """``GET base`` (the text in force, its version and the saved ones), ``POST
    base/validate`` and ``PUT base`` (a new version, audited as ``saved`` of
    ``subject_type``), and the version routes, for the configuration under ``key``."""

    async def get_text(request: web.Request) -> web.Response:
        config: VersionedConfig[Any] = request.app[key]
        return json_response(
            {"version": config.version, "text": config.text, "versions": await config.versions()}
        )

    async def validate(request: web.Request) -> web.Response:
        config: VersionedConfig[Any] = request.app[key]
        text = await rules_text(request)
        errors = draft_errors(config.check, text)
        return json_response(
            {"valid": not errors, "errors": errors, "diff": diff(config.text, text, "live", "draft")}
        )

    async def put_text(request: web.Request) -> web.Response:
        version = await save_version(
            request, request.app[key], await rules_text(request), saved, subject_type
        )
        return json_response({"version": version})

    common = {401: "Not signed in", 403: "Role too low"}
    yaml_body = {"type": "string"}
    return [
        RouteSpec(
            "GET",
            base,
            get_text,
            f"The {what} in force (YAML), its version and the saved versions",
            "supervisor",
            tag=tag,
            responses={200: f"The {what}", **common},
        ),
        RouteSpec(
            "POST",
            f"{base}/validate",
            validate,
            f"Check {what} without saving them",
            "admin",
            tag=tag,
            request_media="application/yaml",
            request_schema=yaml_body,
            responses={
                200: "valid, the errors with their path, and the diff against the live text",
                415: "Not YAML or JSON",
                **common,
            },
        ),
        RouteSpec(
            "PUT",
            base,
            put_text,
            f"Save {what} (a new version in force){save_note}",
            "admin",
            tag=tag,
            query={"comment": TEXT},
            request_media="application/yaml",
            request_schema=yaml_body,
            responses={200: "The version", 415: "Not YAML or JSON", 422: "Invalid, with the path", **common},
        ),
        *version_routes(base, key, what, tag),
    ]
