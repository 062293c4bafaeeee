"""``GET /api/v1/channels``: every connector, whether it is on, whether it sends, and the
live state of each of its parts (a mailbox, the SMTP peer) with the last error."""

from __future__ import annotations

from aiohttp import web

from connectors.registry import CONNECTORS
from hub.keys import OUTBOX, SERVICES, SETTINGS
from hub.request_body import json_response
from hub.routespec import RouteSpec
from hub.store.times import iso


async def list_channels(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    states = request.app[SERVICES].states
    sending = request.app[OUTBOX].channels
    items = []
    for spec in CONNECTORS:
        prefix = f"{spec.name}:"
        parts = {
            name.removeprefix(prefix): {
                "state": s.state,
                "detail": s.detail,
                "since": iso(s.since) if s.since else None,
            }
            for name, s in sorted(states.items())
            if name.startswith(prefix)
        }
        items.append(
            {
                "name": spec.name,
                "channel": spec.channel.value,
                "enabled": spec.enabled(settings),
                "sends": spec.opens_sender(settings) and spec.channel.value in sending,
                "parts": parts,
            }
        )
    return json_response({"items": items})


def channel_routes() -> list[RouteSpec]:
    return [
        RouteSpec(
            "GET",
            "/api/v1/channels",
            list_channels,
            "Connectors: on or off, sending or not, and each part's live state",
            "admin",
            tag="channels",
            responses={200: "The connectors", 401: "Not signed in", 403: "Admins only"},
        )
    ]
