"""The OpenAPI 3.1 document, built from the same RouteSpecs the app registers."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any

from hub.auth.csrf import HEADER as CSRF_HEADER
from hub.auth.csrf import UNSAFE_METHODS
from hub.routespec import RouteSpec

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "request_id": {"type": "string"},
        "field": {"type": "string", "description": "the input field at fault"},
    },
    "required": ["type", "title", "status", "detail"],
}


# Answers the middlewares give before or around any handler, so every route that can
# meet them declares them (the routes' own ``responses=`` name what their handlers add).
_SESSION_ANSWERS = {
    401: "No session, or it ended",
    403: "No CSRF token, two-factor setup pending, or the role is too low",
}
_TOKEN_ANSWERS = {401: "No API token, or it is unknown or revoked"}
_BODY_ANSWERS = {
    400: "The body cannot be parsed",
    413: "The body is over the size limit",
    415: "The body is not of the declared media type",
    422: "A field is invalid",
}
_UPGRADE_ANSWERS = {400: "Not a WebSocket upgrade request"}


def _answers(spec: RouteSpec) -> dict[int, str]:
    """The route's own statuses plus the generic ones that can occur on it."""
    answers: dict[int, str] = {}
    if spec.access == "token":
        answers.update(_TOKEN_ANSWERS)
    elif spec.access in ("agent", "supervisor", "admin"):
        answers.update(_SESSION_ANSWERS)
    if spec.request_schema is not None:
        answers.update(_BODY_ANSWERS)
    if spec.query:
        answers[422] = "A field or query parameter is invalid"
    if spec.query or "{" in spec.path:
        # hub.request_body's strict readers: a number that is not ASCII digits in range,
        # or a NUL, in a path or query parameter
        answers[400] = "A path or query parameter cannot be read; the detail names it"
    if 101 in spec.responses:
        answers.update(_UPGRADE_ANSWERS)
    answers.update(spec.responses)
    return answers


class _Components:
    """Collects the ``$defs`` pydantic puts inside each model's schema into
    ``components/schemas``, so every ``$ref`` resolves from the document's root."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {"Problem": PROBLEM_SCHEMA}

    def hoist(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        copied: dict[str, Any] = copy.deepcopy(dict(schema))
        defs: dict[str, Any] = copied.pop("$defs", {})
        renamed: dict[str, str] = {}
        for name, definition in defs.items():
            target, n = name, 1
            # two models may name different sub-models alike: the second gets a suffix
            while target in self.schemas and self.schemas[target] != self._refs(definition, {}):
                n += 1
                target = f"{name}{n}"
            renamed[name] = target
        for name, definition in defs.items():
            self.schemas[renamed[name]] = self._refs(definition, renamed)
        hoisted: dict[str, Any] = self._refs(copied, renamed)
        return hoisted

    def _refs(self, node: Any, renamed: Mapping[str, str]) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/"):
                    name = value.removeprefix("#/$defs/")
                    value = "#/components/schemas/" + renamed.get(name, name)
                out[key] = self._refs(value, renamed)
            return out
        if isinstance(node, list):
            return [self._refs(item, renamed) for item in node]
        return node


def _template(path: str) -> str:
    """The path as OpenAPI writes it: ``{name:regex}`` becomes ``{name}``."""
    return re.sub(r"\{(\w+):[^}]+\}", r"{\1}", path)


def _operation_id(spec: RouteSpec) -> str:
    words = re.sub(r"[{}]", "", _template(spec.path)).strip("/").replace("/", "_").replace("-", "_")
    return f"{spec.method.lower()}_{words or 'root'}"


def build_openapi(specs: Sequence[RouteSpec], version: str = "0.1.0") -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    components = _Components()
    for spec in specs:
        op: dict[str, Any] = {
            "summary": spec.summary,
            "operationId": _operation_id(spec),
            "tags": [spec.tag],
            "x-access": spec.access,
            "responses": {},
        }
        params = re.findall(r"{(\w+)}", _template(spec.path))
        if params:
            op["parameters"] = [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params
            ]
        for name, schema in spec.query.items():
            op.setdefault("parameters", []).append(
                {"name": name, "in": "query", "required": False, "schema": dict(schema)}
            )
        if spec.access == "token":
            op["security"] = [{"bearerToken": []}]
        elif spec.access in ("agent", "supervisor", "admin"):
            op["security"] = [{"session": []}]
            if spec.method in UNSAFE_METHODS:
                op.setdefault("parameters", []).append(
                    {
                        "name": CSRF_HEADER,
                        "in": "header",
                        "required": True,
                        "description": "the csrf_token from the login response or GET /api/v1/me",
                        "schema": {"type": "string"},
                    }
                )
        else:
            op["security"] = []
        if spec.request_schema is not None:
            op["requestBody"] = {
                "required": True,
                "content": {spec.request_media: {"schema": components.hoist(spec.request_schema)}},
            }
        response_schema = None if spec.response_schema is None else components.hoist(spec.response_schema)
        for status, description in sorted(_answers(spec).items()):
            response: dict[str, Any] = {"description": description}
            text = {media: {"schema": {"type": "string"}} for media in spec.response_text}
            if status >= 400:
                # a page (HTML) says its errors as a page too
                problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
                response["content"] = problem | (text if spec.pages else {})
            elif response_schema is not None:
                response["content"] = {"application/json": {"schema": response_schema}} | text
            elif spec.pages:
                response["content"] = text
            op["responses"][str(status)] = response
        paths.setdefault(_template(spec.path), {})[spec.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ContactHub API",
            "version": version,
            "description": "Every HTTP route of the hub. Errors are application/problem+json.",
        },
        "paths": paths,
        "components": {
            "schemas": components.schemas,
            "securitySchemes": {
                "bearerToken": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "contacthub_session"},
            },
        },
    }
