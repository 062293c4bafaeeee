"""The hub's own routes (the connectors declare theirs), registered with their access
rules: the middleware enforces the ``RouteSpec`` each route was registered with."""

from __future__ import annotations

from aiohttp import web

from hub.keys import ROUTES
from hub.routespec import RouteSpec
from hub.settings import Settings
from hub.web.admin import admin_routes
from hub.web.agent_socket import socket_routes
from hub.web.agents import agent_routes
from hub.web.api_tokens import token_routes
from hub.web.auth import auth_routes
from hub.web.automations import automation_routes
from hub.web.campaigns import campaign_report_routes, campaign_routes
from hub.web.canned import canned_routes
from hub.web.channel_settings import channel_settings_routes
from hub.web.channels import channel_routes
from hub.web.console import console_routes
from hub.web.contracts import contract_routes
from hub.web.conversations import conversation_routes
from hub.web.csat import csat_routes
from hub.web.customers import customer_routes
from hub.web.feedback import feedback_routes
from hub.web.health import health_routes
from hub.web.integration import integration_routes
from hub.web.invitations import invitation_routes
from hub.web.middleware import SPEC
from hub.web.outreach import outreach_routes
from hub.web.reports import report_routes
from hub.web.revenue import revenue_routes
from hub.web.routing import routing_routes
from hub.web.saved_views import saved_view_routes
from hub.web.search import search_routes
from hub.web.segments import segment_routes
from hub.web.supervisor import supervisor_routes
from hub.web.system import system_routes
from hub.web.totp import totp_routes
from hub.web.webhooks import webhook_routes
from hub.web.whatsapp import whatsapp_routes
from hub.web.widget_public import widget_public_routes
from hub.web.widget_sites import widget_site_routes
from hub.web.widget_socket import widget_socket_routes


def hub_routes(settings: Settings) -> list[RouteSpec]:
    return [
        *system_routes(),
        *auth_routes(),
        *totp_routes(),
        *customer_routes(),
        *routing_routes(),
        *agent_routes(),
        *conversation_routes(),
        *search_routes(),
        *saved_view_routes(),
        *supervisor_routes(),
        *csat_routes(),  # before the reports': /reports/csat is not a measure
        *campaign_report_routes(),  # and neither is /reports/campaigns
        *report_routes(),
        *segment_routes(),
        *canned_routes(),
        *contract_routes(),
        *revenue_routes(),
        *integration_routes(),
        *webhook_routes(),
        *health_routes(),
        *automation_routes(),
        *outreach_routes(),
        *whatsapp_routes(),
        *campaign_routes(),
        *feedback_routes(),
        *channel_routes(),
        *channel_settings_routes(),
        *token_routes(),
        *invitation_routes(),
        *admin_routes(),
        *console_routes(),
        *socket_routes(),
        *widget_site_routes(),
        # the visitors' side of the chat channel: the widget script, uploads, the socket
        *(widget_public_routes() + widget_socket_routes() if settings.connectors.chat.enabled else []),
    ]


def register(app: web.Application, spec: RouteSpec) -> None:
    route = app.router.add_route(spec.method, spec.path, spec.handler)
    app[ROUTES].append(spec)
    app[SPEC][route] = spec
