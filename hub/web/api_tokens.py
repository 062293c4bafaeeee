"""API tokens in the admin pages: list (with when each was last used), create (the token
is in that one response only) and revoke."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import ConfigDict, Field

from hub.customers import audit
from hub.keys import STORE, TOKENS
from hub.request_body import json_response, read_json_object
from hub.routespec import RouteSpec
from hub.tokens import SCOPES
from hub.validation import RequestModel, validated
from hub.web.middleware import AGENT


class TokenIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, description="what uses it, e.g. 'shop backend'")
    scopes: list[Literal[tuple(SCOPES)]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["ingest"], min_length=1, max_length=len(SCOPES), description="what it may do"
    )


async def list_tokens(request: web.Request) -> web.Response:
    return json_response({"items": await request.app[TOKENS].list(), "scopes": SCOPES})


async def create_token(request: web.Request) -> web.Response:
    body = validated(TokenIn, await read_json_object(request, 4096))
    info, token = await request.app[TOKENS].create(body.name, body.scopes)
    await _audit(request, "token.created", info.id)
    return json_response(
        {"id": info.id, "name": info.name, "scopes": list(info.scopes), "token": token}, status=201
    )


async def revoke_token(request: web.Request) -> web.Response:
    token_id = request.match_info["id"]
    await request.app[TOKENS].revoke(token_id)
    await _audit(request, "token.revoked", token_id)
    return web.Response(status=204)


async def _audit(request: web.Request, action: str, token_id: str) -> None:
    async with request.app[STORE].write() as conn:
        await audit.record(
            conn,
            actor=request[AGENT].actor,
            action=action,
            subject_type="api_token",
            subject_id=token_id,
            customer_id=None,
        )


def token_routes() -> list[RouteSpec]:
    common = {401: "Not signed in", 403: "Role too low"}
    return [
        RouteSpec(
            "GET",
            "/api/v1/tokens",
            list_tokens,
            "Every API token (never the token itself) and the scopes there are",
            "admin",
            tag="admin",
            responses={200: "Tokens, newest first", **common},
        ),
        RouteSpec(
            "POST",
            "/api/v1/tokens",
            create_token,
            "Create an API token; the response is the only time it is shown",
            "admin",
            tag="admin",
            request_schema=TokenIn.model_json_schema(),
            responses={201: "The token, shown once", 422: "Invalid name or scope", **common},
        ),
        RouteSpec(
            "DELETE",
            "/api/v1/tokens/{id}",
            revoke_token,
            "Revoke an API token (at once in this process, within 30 s in others)",
            "admin",
            tag="admin",
            responses={204: "Revoked", 404: "No such active token", **common},
        ),
    ]
