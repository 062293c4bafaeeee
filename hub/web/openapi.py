"""The OpenAPI 3.1 document, built from the same RouteSpecs the app registers."""

from __future__ import annotations

import re
from collections.abc import Sequence
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


def _template(path: str) -> str:
    """The path as OpenAPI writes it: ``{name:regex}`` becomes ``{name}``."""
    return re.sub(r"\{(\w+):[^}]+\}", r"{\1}", path)


def _operation_id(spec: RouteSpec) -> str:
    words = re.sub(r"[{}]", "", _template(spec.path)).strip("/").replace("/", "_").replace("-", "_")
    return f"{spec.method.lower()}_{words or 'root'}"


def build_openapi(specs: Sequence[RouteSpec], version: str = "0.1.0") -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
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
                "content": {spec.request_media: {"schema": spec.request_schema}},
            }
        for status, description in sorted(spec.responses.items()):
            response: dict[str, Any] = {"description": description}
            if status >= 400:
                response["content"] = {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                }
            elif spec.response_schema is not None:
                response["content"] = {"application/json": {"schema": spec.response_schema}}
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
            "schemas": {"Problem": PROBLEM_SCHEMA},
            "securitySchemes": {
                "bearerToken": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "contacthub_session"},
            },
        },
    }
