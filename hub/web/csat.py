"""Satisfaction surveys on the web: the small page an email's link opens (no sign-in,
German or English, one score per survey, then an optional comment), the settings in the
admin pages (versioned), and the report: sent, answered, response rate, mean score and
low scores by agent, team, queue, tier or channel."""

from __future__ import annotations

import html
from collections import defaultdict
from typing import Any

from aiohttp import web

from hub.csat.surveys import Surveys
from hub.errors import Conflict, InputError, NotFound
from hub.keys import CSAT, STORE, SURVEYS
from hub.request_body import json_response, read_form
from hub.routespec import TEXT, RouteSpec, form_schema
from hub.store.repos import csat as repo
from hub.store.repos.csat import Survey
from hub.untrusted import strict_int
from hub.web.public_page import page_language, public_page
from hub.web.reports import only_params, report_range, report_scope, report_zone
from hub.web.versions import config_routes

BY = ("agent", "team", "queue", "tier", "channel")
WORDS = {
    "de": {
        "title": "Ihre Bewertung",
        "star": "{n} von 5",
        "send": "Senden",
        "unknown": "Diesen Link kennen wir nicht.",
        "answered": "Diese Umfrage ist schon beantwortet. Danke!",
        "expired": "Diese Umfrage ist abgelaufen.",
        "noted": "Danke, wir haben Ihren Kommentar erhalten.",
    },
    "en": {
        "title": "Your rating",
        "star": "{n} of 5",
        "send": "Send",
        "unknown": "We do not know this link.",
        "answered": "This survey has been answered already. Thank you!",
        "expired": "This survey has expired.",
        "noted": "Thank you, we have your comment.",
    },
}


def _page(language: str, status: int, *parts: str) -> web.Response:
    return public_page(language, WORDS.get(language, WORDS["en"])["title"], status, *parts)


def _settings_words(request: web.Request, survey: Survey) -> dict[str, str]:
    texts = request.app[CSAT].settings.texts
    return dict(texts.get(survey.language) or next(iter(texts.values())))


def _ask(request: web.Request, survey: Survey) -> web.Response:
    words, page = _settings_words(request, survey), WORDS.get(survey.language, WORDS["en"])
    label = [html.escape(page["star"].format(n=n)) for n in range(6)]
    stars = "".join(
        f'<button type="submit" name="score" value="{n}" aria-label="{label[n]}">{"★" * n}</button>'
        for n in range(1, 6)
    )
    return _page(
        survey.language,
        200,
        f'<form method="post"><p id="q">{html.escape(words["question"])}</p>',
        f'<div class="stars" role="group" aria-labelledby="q">{stars}</div></form>',
    )


def _thanks(request: web.Request, survey: Survey, status: int = 200) -> web.Response:
    words, page = _settings_words(request, survey), WORDS.get(survey.language, WORDS["en"])
    parts = [f'<p role="status">{html.escape(words["thanks"])}</p>']
    if survey.comment is None:
        parts.append(
            f'<form method="post"><label for="comment">{html.escape(words["comment"])}</label>'
            f'<textarea id="comment" name="comment" rows="4" maxlength="2000"></textarea>'
            f'<button type="submit">{html.escape(page["send"])}</button></form>'
        )
    else:
        parts.append(f"<p>{html.escape(page['noted'])}</p>")
    return _page(survey.language, status, *parts)


async def _survey(request: web.Request) -> Survey | None:
    try:
        return await request.app[SURVEYS].by_token(request.match_info["token"])
    except NotFound:
        return None


def _unknown(request: web.Request) -> web.Response:
    language = page_language(request)
    return _page(language, 404, f'<p role="alert">{html.escape(WORDS[language]["unknown"])}</p>')


async def survey_page(request: web.Request) -> web.Response:
    """The survey's page. A GET never answers it (mail scanners open links)."""
    survey = await _survey(request)
    if survey is None:
        return _unknown(request)
    if survey.answered_at is not None:
        return _thanks(request, survey)
    if survey.expires_at <= request.app[SURVEYS].clock():
        return _page(
            survey.language, 410, f'<p role="alert">{html.escape(WORDS[survey.language]["expired"])}</p>'
        )
    return _ask(request, survey)


async def answer_survey(request: web.Request) -> web.Response:
    """A score (the first time), then optionally a comment; a second score is refused."""
    survey = await _survey(request)
    if survey is None:
        return _unknown(request)
    form = (await read_form(request, 16_384)).fields
    raw_score, comment = form.get("score"), form.get("comment")
    score = strict_int(raw_score, "score", low=1, high=5) if raw_score is not None else None
    surveys: Surveys = request.app[SURVEYS]
    try:
        survey = await surveys.answer(survey, score, comment)
    except Conflict as exc:
        page = WORDS.get(survey.language, WORDS["en"])
        said = (
            page["answered"]
            if "answered" in exc.detail
            else page["expired"]
            if "expired" in exc.detail
            else exc.detail
        )
        return _page(survey.language, 409, f'<p role="alert">{html.escape(said)}</p>')
    return _thanks(request, survey)


# --- settings and report -------------------------------------------------------------


async def get_report(request: web.Request) -> web.Response:
    """Surveys sent in the range, by one dimension: how many were answered, the mean score,
    how many were low (at or below the settings' ``low_score``)."""
    only_params(request, frozenset({"from", "to", "tz", "by", "segment"}))
    zone = report_zone(request)
    start, end = report_range(request, zone)
    by = request.query.get("by", "agent")
    if by not in BY:
        raise InputError(f"by: one of {', '.join(BY)}", field="by")
    customers = await report_scope(request)
    async with request.app[STORE].read() as conn:
        found = await repo.in_range(conn, start, end, customers)
    low = request.app[CSAT].settings.low_score
    groups: dict[str, dict[str, Any]] = defaultdict(lambda: {"sent": 0, "answered": 0, "total": 0, "low": 0})
    names: dict[str, str | None] = {}
    for f in found:
        keys = {
            "agent": [f.agent_id or ""],
            "team": list(f.teams) or [""],
            "queue": [f.queue or ""],
            "tier": [f.tier],
            "channel": [f.channel],
        }[by]
        for key in keys:
            g = groups[key]
            g["sent"] += 1
            if f.score is not None:
                g["answered"] += 1
                g["total"] += f.score
                g["low"] += f.score <= low
        if by == "agent" and f.agent_id:
            names[f.agent_id] = f.agent_name
    rows = []
    for key, g in sorted(groups.items()):
        row = {
            "key": key or None,
            "sent": g["sent"],
            "answered": g["answered"],
            "response_rate": round(g["answered"] / g["sent"], 4) if g["sent"] else None,
            "mean_score": round(g["total"] / g["answered"], 2) if g["answered"] else None,
            "low": g["low"],
        }
        if by == "agent":
            row["name"] = names.get(key)
        rows.append(row)
    return json_response({"from": start.isoformat(), "to": end.isoformat(), "by": by, "rows": rows})


def csat_routes() -> list[RouteSpec]:
    common = {401: "Not signed in", 403: "Role too low"}
    page = {200: "The page (HTML)", 404: "Unknown link (HTML)", 410: "Expired (HTML)"}
    return [
        RouteSpec(
            "GET",
            "/csat/{token}",
            survey_page,
            "A satisfaction survey's page",
            "public",
            tag="csat",
            responses=page,
            response_text=("text/html",),
            pages=True,
        ),
        RouteSpec(
            "POST",
            "/csat/{token}",
            answer_survey,
            "Answer a satisfaction survey: a score from 1 to 5 (once), then optionally a comment",
            "public",
            tag="csat",
            request_media="application/x-www-form-urlencoded",
            request_schema=form_schema("score", "comment"),
            response_text=("text/html",),
            pages=True,
            responses={
                200: "Thanks (HTML)",
                400: "A score that is not 1 to 5",
                404: "Unknown link (HTML)",
                409: "Answered already, or expired (HTML)",
                422: "A comment over 2,000 characters",
                413: "Too large",
                415: "Not a form",
            },
        ),
        *config_routes(
            "/api/v1/csat/settings",
            CSAT,
            "satisfaction survey settings",
            "csat",
            "csat.settings_saved",
            "csat_settings",
        ),
        RouteSpec(
            "GET",
            "/api/v1/reports/csat",
            get_report,
            "Satisfaction by agent, team, queue, tier or channel: sent, answered, response rate, mean"
            " score, low scores (supervisors and admins; a key account manager: of their accounts)",
            "agent",
            tag="reports",
            query={"from": TEXT, "to": TEXT, "tz": TEXT, "by": {"enum": list(BY)}, "segment": TEXT},
            responses={
                200: "The rows",
                403: "Not a supervisor or key account manager",
                422: "Bad parameter",
                **common,
            },
        ),
    ]
