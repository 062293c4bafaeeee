"""Campaigns on the web: made, started and cancelled by supervisors, with their results;
and the unsubscribe link every campaign email carries (a page for a person, one click
for a mail client: RFC 8058 POSTs ``List-Unsubscribe=One-Click``)."""

from __future__ import annotations

import html
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import ConfigDict, Field, field_validator

from hub.errors import InputError
from hub.keys import CAMPAIGNS, SETTINGS
from hub.outreach.campaigns import Draft
from hub.request_body import int_query, json_response, read_form, read_json_object
from hub.routespec import TEXT, RouteSpec, form_schema, limit
from hub.validation import NULLABLE, RequestModel, validated
from hub.web.middleware import AGENT
from hub.web.public_page import page_language, public_page
from hub.web.reports import only_params, report_range, report_zone
from hub.web.whatsapp import TemplateIn, filled

WORDS = {
    "de": {
        "title": "Abmelden",
        "ask": "Möchten Sie keine Nachrichten dieser Art mehr per E-Mail erhalten?",
        "button": "Abmelden",
        "done": "Sie sind abgemeldet. Wir schreiben Ihnen dazu nicht mehr.",
        "unknown": "Diesen Link kennen wir nicht.",
    },
    "en": {
        "title": "Unsubscribe",
        "ask": "Would you like to stop receiving messages like this by email?",
        "button": "Unsubscribe",
        "done": "You are unsubscribed. We will not write to you about this again.",
        "unknown": "We do not know this link.",
    },
}


class Words(RequestModel):
    model_config = ConfigDict(extra="forbid")
    subject: Annotated[str | None, NULLABLE] = Field(None, max_length=300, description="email: required")
    text: str = Field("", max_length=5000, description="required, except on WhatsApp")
    template: Annotated[TemplateIn | None, NULLABLE] = Field(
        None,
        description="WhatsApp: the registered template that goes instead of text (it says how to opt out)",
    )


class CampaignIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    segment_id: str = Field(min_length=1, max_length=36)
    channel: Literal["email", "sms", "whatsapp", "api"]
    purpose: Literal["service", "marketing"] = "marketing"
    department: str = Field("marketing", min_length=1, max_length=100)
    queue: Annotated[str | None, NULLABLE] = Field(None, max_length=60, description="where replies wait")
    mailbox: Annotated[str | None, NULLABLE] = Field(None, max_length=100, description="email: send from it")
    texts: dict[str, Words] = Field(
        min_length=1, max_length=20, description="per language (de, en ...): the customer's, else the first"
    )
    rate_per_minute: int = Field(600, ge=1, le=60_000, description="at most this many queued a minute")

    @field_validator("texts")
    @classmethod
    def _languages(cls, value: dict[str, Words]) -> dict[str, Words]:
        for language in value:
            if not (2 <= len(language) <= 8 and language.replace("-", "").isalpha()):
                raise ValueError(f"{language!r} is not a language code such as de or en")
        return value


async def create_campaign(request: web.Request) -> web.Response:
    body = validated(CampaignIn, await read_json_object(request, 128 * 1024))
    sender = None
    if body.mailbox is not None:
        box = request.app[SETTINGS].connectors.email.mailboxes.get(body.mailbox)
        if body.channel != "email" or box is None:
            raise InputError(f"mailbox: no email mailbox {body.mailbox!r}", field="mailbox")
        sender = box.reply_address()
    draft = Draft(
        name=body.name,
        segment_id=body.segment_id,
        channel=body.channel,
        texts={lang: _words(request, body, lang, w) for lang, w in body.texts.items()},
        purpose=body.purpose,
        department=body.department,
        queue=body.queue,
        sender=sender,
        rate_per_minute=body.rate_per_minute,
    )
    return json_response(await request.app[CAMPAIGNS].create(request[AGENT], draft), status=201)


def _words(request: web.Request, body: CampaignIn, language: str, words: Words) -> dict[str, Any]:
    """One language's message; on WhatsApp its registered template, filled (it must say how
    to opt out: nothing can be added to an approved template)."""
    field = f"texts.{language}"
    if body.channel != "whatsapp":
        if words.template is not None:
            raise InputError(f"{field}.template: templates are WhatsApp's, not {body.channel}'s", field=field)
        return words.model_dump(exclude_none=True, exclude={"template"})
    if words.template is None:
        raise InputError(f"{field}.template: a WhatsApp campaign sends a registered template", field=field)
    template = filled(
        request, words.template.model_copy(update={"language": words.template.language or language})
    )
    assert template is not None
    if "stop" not in template.text.lower():
        raise InputError(
            f"{field}.template: {template.name} does not tell how to opt out (reply STOP); every campaign"
            " message must",
            field=field,
        )
    if template.purpose == "marketing" and body.purpose != "marketing":
        raise InputError(f"{field}.template: {template.name} is a marketing template", field=field)
    return {"text": template.text, "template": template.details()}


async def campaign_report(request: web.Request) -> web.Response:
    only_params(request, frozenset({"from", "to", "tz"}))
    start, end = report_range(request, report_zone(request))
    return json_response(await request.app[CAMPAIGNS].report(start, end))


def campaign_report_routes() -> list[RouteSpec]:
    """Registered before the reports' ``/reports/{measure}``: ``campaigns`` is not a measure."""
    return [
        RouteSpec(
            "GET",
            "/api/v1/reports/campaigns",
            campaign_report,
            "Campaigns started in a range with their results (sent, delivered, failed, replied, opted"
            " out, skipped), and the results per segment",
            "supervisor",
            tag="reports",
            query={"from": TEXT, "to": TEXT, "tz": TEXT},
            responses={
                200: "campaigns and segments",
                401: "Not signed in",
                403: "Role too low",
                422: "Bad parameter",
            },
        )
    ]


async def list_campaigns(request: web.Request) -> web.Response:
    count = int_query(request, "limit", 50, 200)
    return json_response({"items": await request.app[CAMPAIGNS].listing(count)})


async def get_campaign(request: web.Request) -> web.Response:
    return json_response(await request.app[CAMPAIGNS].show(request.match_info["id"]))


async def start_campaign(request: web.Request) -> web.Response:
    return json_response(await request.app[CAMPAIGNS].start(request[AGENT], request.match_info["id"]))


async def cancel_campaign(request: web.Request) -> web.Response:
    return json_response(await request.app[CAMPAIGNS].cancel(request[AGENT], request.match_info["id"]))


def _page(language: str, status: int, *parts: str) -> web.Response:
    return public_page(language, WORDS[language]["title"], status, *parts)


async def unsubscribe_page(request: web.Request) -> web.Response:
    """The question and a button: opening the link changes nothing (mail scanners open links)."""
    language = page_language(request)
    words = WORDS[language]
    return _page(
        language,
        200,
        f'<form method="post"><p>{html.escape(words["ask"])}</p>',
        '<button type="submit" name="List-Unsubscribe" value="One-Click">',
        f"{html.escape(words['button'])}</button></form>",
    )


async def unsubscribe(request: web.Request) -> web.Response:
    """The button, or a mail client's one click: the consent is withdrawn."""
    language = page_language(request)
    await read_form(request, 4096)  # whatever the form says, a POST here is the answer
    if await request.app[CAMPAIGNS].unsubscribe(request.match_info["token"][:100]) is None:
        return _page(language, 404, f'<p role="alert">{html.escape(WORDS[language]["unknown"])}</p>')
    return _page(language, 200, f'<p role="status">{html.escape(WORDS[language]["done"])}</p>')


def campaign_routes() -> list[RouteSpec]:
    common = {401: "Not signed in", 403: "Role too low"}
    base = "/api/v1/campaigns"
    one = {404: "No such campaign", **common}
    return [
        RouteSpec(
            "POST",
            base,
            create_campaign,
            "A campaign (a draft): one message per language to a saved segment on one channel",
            "supervisor",
            tag="campaigns",
            request_schema=CampaignIn.model_json_schema(),
            responses={
                201: "The draft",
                404: "No such segment",
                422: "Bad input: the detail names the field",
                **common,
            },
        ),
        RouteSpec(
            "GET",
            base,
            list_campaigns,
            "The campaigns, newest first",
            "supervisor",
            tag="campaigns",
            query={"limit": limit(200)},
            responses={200: "The campaigns", 400: "Bad limit", **common},
        ),
        RouteSpec(
            "GET",
            f"{base}/{{id}}",
            get_campaign,
            "A campaign and its results: recipients pending, sent and skipped (by reason), delivered,"
            " failed, replied, opted out",
            "supervisor",
            tag="campaigns",
            responses={200: "The campaign", **one},
        ),
        RouteSpec(
            "POST",
            f"{base}/{{id}}/start",
            start_campaign,
            "Start: the segment's members now are the recipients; they are taken at the campaign's rate",
            "supervisor",
            tag="campaigns",
            responses={200: "Running", 409: "Not a draft", **one},
        ),
        RouteSpec(
            "POST",
            f"{base}/{{id}}/cancel",
            cancel_campaign,
            "Cancel: no more recipients are taken (what is queued already goes out)",
            "supervisor",
            tag="campaigns",
            responses={200: "Cancelled", 409: "Cancelled or done already", **one},
        ),
        RouteSpec(
            "GET",
            "/u/{token}",
            unsubscribe_page,
            "A campaign email's unsubscribe link: the question (opening it changes nothing)",
            "public",
            tag="campaigns",
            pages=True,
            response_text=("text/html",),
            responses={200: "The page (HTML)"},
        ),
        RouteSpec(
            "POST",
            "/u/{token}",
            unsubscribe,
            "Unsubscribe (the page's button, or a mail client's one click): the consent is withdrawn",
            "public",
            tag="campaigns",
            pages=True,
            request_media="application/x-www-form-urlencoded",
            request_schema=form_schema("List-Unsubscribe"),
            response_text=("text/html",),
            responses={
                200: "Unsubscribed (HTML)",
                404: "Unknown link (HTML)",
                413: "Too large",
                415: "Not a form",
            },
        ),
    ]
