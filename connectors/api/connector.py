"""The API channel's I/O: read the body, append to the queue, answer 202 once durable."""

from __future__ import annotations

import time

from aiohttp import web

from connectors.api.payloads import REQUEST_SCHEMA, RESPONSE_SCHEMA, parse_message
from connectors.base import ConnectorContext
from hub.model import message_id
from hub.request_body import json_response, read_json_object
from hub.routespec import RouteSpec


def routes(ctx: ConnectorContext) -> list[RouteSpec]:
    max_bytes = ctx.settings.server.max_body_bytes
    region = ctx.settings.phone.default_region
    accepted = ctx.metrics.accepted.labels("api")
    append_latency = ctx.metrics.stage.labels("append")

    async def post_message(request: web.Request) -> web.Response:
        body = await read_json_object(request, max_bytes)
        msg = parse_message(body, received_at=ctx.clock(), default_region=region)
        started = time.perf_counter()
        await ctx.queue.append(msg)
        append_latency.observe(time.perf_counter() - started)
        accepted.inc()
        return json_response({"id": message_id(msg.channel, msg.external_id)}, status=202)

    return [
        RouteSpec(
            "POST",
            "/api/v1/messages",
            post_message,
            "Inject an inbound message (idempotent per external_id)",
            "token",
            tag="channels",
            request_schema=REQUEST_SCHEMA,
            response_schema=RESPONSE_SCHEMA,
            responses={
                202: "Accepted: durable on the ingest queue",
                400: "Malformed JSON",
                401: "Missing or unknown API token",
                413: "Body over the size limit",
                415: "Not application/json",
                422: "A field is missing or wrong; `field` names it",
                503: "The ingest queue is unreachable; retry after Retry-After seconds",
            },
        )
    ]
