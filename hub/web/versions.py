"""The routes every versioned admin configuration has (``hub.versioned_config``): its
saved versions, one version with its diff against the one before, a check of a draft
with its diff against the live one, and a rollback. Routing rules and automations use
them; each names its app key, its base path and what it is called."""

from __future__ import annotations

import difflib
from typing import Any

import yaml
from aiohttp import web
from pydantic import ConfigDict, Field

from hub.errors import NotFound
from hub.request_body import int_path, json_response, read_json_object
from hub.routespec import RouteSpec
from hub.untrusted import INT64_MAX
from hub.validation import RequestModel, validated
from hub.versioned_config import VersionedConfig
from hub.web.middleware import AGENT

Key = web.AppKey[Any]


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
        return json_response({"version": await config(request).rollback(body.version, request[AGENT].actor)})

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
