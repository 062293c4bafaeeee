"""The admin pages at ``/admin/`` (static ES modules from ``widgets/admin``), the page an
invited agent sets their password on (``/invite/``), and the read-only view they need
besides the rest of the API: the tiers in force (an agent's key accounts: hub/web/agents.py)."""

from __future__ import annotations

from aiohttp import web

from hub.keys import TIERS
from hub.request_body import json_response
from hub.routespec import TEXT, RouteSpec
from hub.web.console import static_files
from hub.web.versions import draft_errors, rules_text, save_version


async def to_admin(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/admin/")


async def list_tiers(request: web.Request) -> web.Response:
    """The tiers in force (first match wins), with their conditions, and the last re-tiering."""
    config = request.app[TIERS]
    return json_response(
        {
            "version": config.version,
            "items": [{"name": t.name, "when": t.when, "priority": t.priority} for t in config.tiers.tiers],
            "currency": config.tiers.currency,
            "rates": config.tiers.rates,
            "retier": config.retier,
        }
    )


async def validate_tiers(request: web.Request) -> web.Response:
    """Check draft tiers without saving: ``valid`` and the errors with path and position."""
    errors = draft_errors(request.app[TIERS].check, await rules_text(request))
    return json_response({"valid": not errors, "errors": errors})


async def put_tiers(request: web.Request) -> web.Response:
    """Save tiers (YAML or JSON ``{"tiers": [...], "currency", "rates"}``) and re-tier every
    customer in the background."""
    config = request.app[TIERS]
    version = await save_version(request, config, await rules_text(request), "tiers.saved", "tier_rules")
    config.retier_in_background()
    return json_response({"version": version, "retier": config.retier})


def admin_routes() -> list[RouteSpec]:
    admin_files, invite_files = static_files("admin"), static_files("invite")
    page = {200: "The file", 404: "No such file"}
    return [
        RouteSpec(
            "GET",
            "/admin",
            to_admin,
            "The admin pages (redirects)",
            "public",
            tag="ui",
            responses={302: "To the pages, with a trailing slash"},
        ),
        RouteSpec("GET", "/admin/", admin_files, "The admin pages", "public", tag="ui", responses=page),
        RouteSpec(
            "GET",
            "/admin/{path:.+}",
            admin_files,
            "The admin pages' scripts",
            "public",
            tag="ui",
            responses=page,
        ),
        RouteSpec(
            "GET",
            "/invite/",
            invite_files,
            "Set a password from an invitation link",
            "public",
            tag="ui",
            responses=page,
        ),
        RouteSpec(
            "GET",
            "/invite/{path:.+}",
            invite_files,
            "The invitation page's script",
            "public",
            tag="ui",
            responses=page,
        ),
        RouteSpec(
            "GET",
            "/api/v1/tiers",
            list_tiers,
            "The customer tiers in force, first match wins, and the last re-tiering",
            "supervisor",
            tag="customers",
            responses={200: "The tiers", 401: "Not signed in", 403: "Role too low"},
        ),
        RouteSpec(
            "PUT",
            "/api/v1/tiers",
            put_tiers,
            "Save the tier rules (YAML, or JSON {tiers: [...]}); customers are re-tiered in the background",
            "admin",
            tag="customers",
            query={"comment": TEXT},
            request_media="application/yaml",
            request_schema={"type": "string"},
            responses={
                200: "Saved and in force",
                415: "Not YAML or JSON",
                422: "Invalid (path and position), or the routing rules name a tier that is gone",
                401: "Not signed in",
                403: "Admins only",
            },
        ),
        RouteSpec(
            "POST",
            "/api/v1/tiers/validate",
            validate_tiers,
            "Check draft tier rules without saving",
            "admin",
            tag="customers",
            request_media="application/yaml",
            request_schema={"type": "string"},
            responses={200: "The verdict", 415: "Not YAML or JSON", 401: "Not signed in", 403: "Admins only"},
        ),
    ]
