"""``POST /webhooks/cti/{token}``: a PBX (Asterisk, 3CX, sipgate, Placetel …) reports calls.

The token in the URL is compared in constant time; a wrong one gets 403. A ``newCall``
from a blocked number is answered ``{"action": "reject", "reason": "busy"}`` (and not
recorded); every other event is appended to the ingest queue and answered ``{}``.
"""

from __future__ import annotations

import logging

from aiohttp import web

from connectors.base import ConnectorContext
from connectors.cti.payloads import form_fields, json_fields, parse_cti
from hub.errors import ConfigError, Forbidden, InputError
from hub.request_body import FORM_TYPES, json_response, read_form, read_json_object
from hub.routespec import RouteSpec, form_schema
from hub.text.addresses import phone_address
from hub.untrusted import secrets_equal

log = logging.getLogger("contacthub.cti")
MAX_BYTES = 16_384


def routes(ctx: ConnectorContext) -> list[RouteSpec]:
    settings = ctx.settings.connectors.cti
    if settings.token is None:
        raise ConfigError("connectors.cti: set token (the secret part of the webhook URL the PBX calls)")
    token = settings.token.get_secret_value()
    region = ctx.settings.phone.default_region
    blocked = {phone_address(n, region, "blocked_numbers").value for n in settings.blocked_numbers}
    accepted = ctx.metrics.accepted.labels("voice")

    async def cti_event(request: web.Request) -> web.Response:
        if not secrets_equal(request.match_info["token"], token):
            log.warning("CTI webhook with a wrong token refused", extra={"route": "/webhooks/cti/{token}"})
            raise Forbidden("unknown CTI token")
        if request.content_type == "application/json":
            form, users = json_fields(await read_json_object(request, MAX_BYTES))
        elif request.content_type in FORM_TYPES:
            form, users = form_fields(await read_form(request, MAX_BYTES))
        else:
            raise InputError("send the event form-encoded or as JSON", field="(body)")
        msg = parse_cti(form, users, received_at=ctx.clock(), region=region)
        if msg.meta["event"] == "newCall" and msg.meta["direction"] == "in" and msg.sender.value in blocked:
            return json_response({"action": "reject", "reason": "busy"})
        await ctx.queue.append(msg)
        accepted.inc()
        return json_response({})

    return [
        RouteSpec(
            "POST",
            "/webhooks/cti/{token}",
            cti_event,
            "Generic CTI call events (Zammad-compatible fields: event, from, to, direction, callId, "
            "user[], answeringNumber, cause)",
            "signed",
            tag="channels",
            request_media="application/x-www-form-urlencoded",
            request_schema=form_schema(
                "event", "from", "to", "direction", "callId", "user[]", "answeringNumber", "cause"
            ),
            responses={
                200: '{} once recorded, or {"action": "reject", "reason": "busy"} for a blocked caller',
                403: "Wrong token",
                422: "A field is missing or wrong; `field` names it",
                503: "The ingest queue is unreachable; the PBX may retry",
            },
        )
    ]
