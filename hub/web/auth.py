"""Agent session routes: log in, log out, who am I."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from hub.auth.sessions import COOKIE
from hub.keys import SESSIONS, SETTINGS
from hub.request_body import json_response, read_json_object
from hub.routespec import RouteSpec
from hub.validation import validated
from hub.web.middleware import AGENT


class LoginIn(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1000)


async def login(request: web.Request) -> web.Response:
    body = validated(LoginIn, await read_json_object(request, 16_384))
    token, who = await request.app[SESSIONS].login(body.email, body.password)
    response = json_response({"id": who.agent_id, "email": who.email, "name": who.name, "role": who.role})
    public = request.app[SETTINGS].server.public_url or ""
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        path="/",
        secure=request.secure or public.startswith("https://"),
    )
    return response


async def logout(request: web.Request) -> web.Response:
    await request.app[SESSIONS].logout(request.cookies[COOKIE])
    response = web.Response(status=204)
    response.del_cookie(COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    who = request[AGENT]
    return json_response({"id": who.agent_id, "email": who.email, "name": who.name, "role": who.role})


def auth_routes() -> list[RouteSpec]:
    return [
        RouteSpec(
            "POST",
            "/api/v1/auth/login",
            login,
            "Sign in; sets an HttpOnly session cookie",
            "public",
            tag="auth",
            request_schema=LoginIn.model_json_schema(),
            responses={200: "Signed in", 401: "Wrong email or password", 403: "Account disabled"},
        ),
        RouteSpec(
            "POST",
            "/api/v1/auth/logout",
            logout,
            "Sign out",
            "agent",
            tag="auth",
            responses={204: "Signed out", 401: "Not signed in"},
        ),
        RouteSpec(
            "GET",
            "/api/v1/me",
            me,
            "The signed-in agent",
            "agent",
            tag="auth",
            responses={200: "The agent", 401: "Not signed in"},
        ),
    ]
