"""Automations in the admin pages: the ones in force, a check of a draft while it is typed
(errors with their path and position, and the diff), saving (a new version in force once
what it names exists), versions and rollback (``hub.web.versions``), and the dry run.
Supervisors read them; admins change them."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from hub.automation.config import AutomationConfig
from hub.automation.dry_run import dry_run
from hub.automation.rules import Automation, Automations, references
from hub.automation.runner import Env
from hub.errors import InputError
from hub.keys import AUTOMATIONS, CLOCK, RECORDS, ROUTING, SETTINGS, STORE
from hub.request_body import int_query, json_response
from hub.routespec import TEXT, RouteSpec, limit
from hub.store.repos import automation as repo
from hub.store.repos import webhooks as webhooks_repo
from hub.web.versions import diff, draft_errors, rules_text, save_version, version_routes

BASE = "/api/v1/automations"


def _summary(a: Automation) -> dict[str, Any]:
    return {
        "name": a.name,
        "trigger": a.trigger,
        "options": {k: (v.strftime("%H:%M") if k == "at" else v) for k, v in a.options.items()},
        "when": a.when,
        "actions": [{a.kind: a.value} for a in a.actions],
        "enabled": a.enabled,
    }


async def get_automations(request: web.Request) -> web.Response:
    config = request.app[AUTOMATIONS]
    return json_response(
        {
            "version": config.version,
            "text": config.text,
            "automations": [_summary(a) for a in config.automations.items],
        }
    )


async def _unknown_references(request: web.Request, automations: Automations) -> list[dict[str, Any]]:
    """What the automations name that does not exist: each with its path."""
    named = references(automations)
    if not named:
        return []
    queues = set(request.app[ROUTING].rules.queues)
    async with request.app[STORE].read() as conn:
        shortcuts = await repo.shared_shortcuts(conn)
        hooks = {h.name for h in await webhooks_repo.all_webhooks(conn) if h.active}
        agents = await repo.agents_by_email(conn, [v for _, kind, v in named if kind == "agent"])
    errors = []
    for path, kind, value in named:
        missing = {
            "reply": value not in shortcuts and f"no shared canned response has the shortcut {value!r}",
            "set_queue": value not in queues
            and f"no queue {value!r}; queues are {', '.join(sorted(queues))}",
            "webhook": value not in hooks and f"no active webhook is named {value!r}",
            "agent": value.lower() not in agents and f"no active agent {value}",
        }[kind]
        if missing:
            errors.append({"field": path, "position": None, "message": missing})
    return errors


async def _draft(request: web.Request) -> tuple[str, list[dict[str, Any]]]:
    text = await rules_text(request)
    config: AutomationConfig = request.app[AUTOMATIONS]
    errors = draft_errors(config.check, text)
    if not errors:
        errors = await _unknown_references(request, config.check(text))
    return text, errors


def _refuse(errors: list[dict[str, Any]]) -> None:
    """422 with every error and its path, as a draft that does not check gets it."""
    if errors:
        refused = InputError(errors[0]["message"], field=errors[0]["field"])
        refused.errors = errors  # type: ignore[attr-defined]
        raise refused


async def validate_draft(request: web.Request) -> web.Response:
    text, errors = await _draft(request)
    config = request.app[AUTOMATIONS]
    return json_response(
        {
            "valid": not errors,
            "errors": errors,
            "live_version": config.version,
            "diff": diff(config.text, text, f"version {config.version} (live)", "draft"),
        }
    )


async def put_automations(request: web.Request) -> web.Response:
    text, errors = await _draft(request)
    _refuse(errors)
    config = request.app[AUTOMATIONS]
    version = await save_version(request, config, text, "automations.saved", "automations")
    return json_response({"version": version})


async def post_dry_run(request: web.Request) -> web.Response:
    """The draft (or, with an empty body, the automations in force) against the last
    ``days`` of history, without acting."""
    days = int_query(request, "days", 7, 31)
    config: AutomationConfig = request.app[AUTOMATIONS]
    if request.body_exists:
        text, errors = await _draft(request)
        _refuse(errors)
        automations = config.check(text)
    else:
        automations = config.automations
    app = request.app
    env = Env(app[ROUTING].rules, ZoneInfo(app[SETTINGS].reports.timezone), app[RECORDS])
    found = await dry_run(app[STORE], automations, env, app[CLOCK](), days)
    return json_response({"valid": True, **found})


def automation_routes() -> list[RouteSpec]:
    common = {401: "Not signed in", 403: "Role too low"}
    yaml_body = {"type": "string"}
    return [
        RouteSpec(
            "GET",
            BASE,
            get_automations,
            "The automations in force: their text (YAML), version and each one read",
            "supervisor",
            tag="automations",
            responses={200: "The automations", **common},
        ),
        RouteSpec(
            "PUT",
            BASE,
            put_automations,
            "Save automations (YAML or JSON): a new version in force (?comment=)",
            "admin",
            tag="automations",
            query={"comment": TEXT},
            request_media="application/yaml",
            request_schema=yaml_body,
            responses={
                200: "The version",
                415: "Not YAML or JSON",
                422: "Invalid, or naming what does not exist: each error with its path",
                **common,
            },
        ),
        RouteSpec(
            "POST",
            f"{BASE}/validate",
            validate_draft,
            "Check draft automations without saving: errors with path and position, and the diff",
            "admin",
            tag="automations",
            request_media="application/yaml",
            request_schema=yaml_body,
            responses={200: "The verdict and the diff", 415: "Not YAML or JSON", **common},
        ),
        RouteSpec(
            "POST",
            f"{BASE}/dry-run",
            post_dry_run,
            "What draft automations (or, with no body, those in force) would have done in the last"
            " days, without doing it",
            "admin",
            tag="automations",
            query={"days": limit(31)},
            request_media="application/yaml",
            request_schema=yaml_body,
            responses={
                200: "Per conversation, the actions it would have taken",
                400: "Bad days",
                415: "Not YAML or JSON",
                422: "Invalid draft: each error with its path",
                **common,
            },
        ),
        *version_routes(BASE, AUTOMATIONS, "automations", "automations"),
    ]
