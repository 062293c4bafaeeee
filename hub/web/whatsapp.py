"""WhatsApp on the web: a customer's 24-hour window and the registered templates (what
the composer offers), and the template part of a request that sends one."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import ConfigDict, Field

from hub.keys import CLOCK, SETTINGS, STORE
from hub.outbox import whatsapp
from hub.request_body import json_response
from hub.routespec import RouteSpec
from hub.validation import NULLABLE, RequestModel
from hub.web.customers import visible_scope


class TemplateIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, description="a registered WhatsApp template's name")
    language: Annotated[str | None, NULLABLE] = Field(
        None, max_length=8, description="which of its languages (default: the first registered)"
    )
    variables: list[Annotated[str, Field(max_length=whatsapp.MAX_VARIABLE)]] = Field(
        [], max_length=20, description="the values of {{1}}, {{2}} … in order"
    )


def filled(request: web.Request, template: TemplateIn | None) -> whatsapp.Filled | None:
    """The template named in a request, filled (InputError naming what is wrong)."""
    if template is None:
        return None
    templates = request.app[SETTINGS].connectors.twilio.whatsapp_templates
    return whatsapp.fill(templates, template.name, template.language, template.variables)


async def customer_whatsapp(request: web.Request) -> web.Response:
    customer_id = request.match_info["id"]
    async with request.app[STORE].read() as conn:
        await visible_scope(conn, request, customer_id)
        last = await whatsapp.last_message(conn, customer_id)
    templates = request.app[SETTINGS].connectors.twilio.whatsapp_templates
    return json_response(
        {
            "window": whatsapp.window_view(last, request.app[CLOCK]()),
            "templates": [whatsapp.template_view(t) for t in templates],
        }
    )


def whatsapp_routes() -> list[RouteSpec]:
    return [
        RouteSpec(
            "GET",
            "/api/v1/customers/{id}/whatsapp",
            customer_whatsapp,
            "The customer's WhatsApp window (open for free text until 24 hours after their last"
            " message) and the registered templates, which go at any time",
            "agent",
            tag="customers",
            responses={200: "The window and the templates", 401: "Not signed in", 404: "No such customer"},
        )
    ]
