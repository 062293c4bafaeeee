"""Product feedback on the web: an agent marks (or unmarks) a customer's message with a
product and a theme; the R&D view lists and counts what was marked."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import ConfigDict, Field

from hub.errors import InputError
from hub.keys import FEEDBACK, SETTINGS
from hub.model import Channel
from hub.request_body import int_query, json_response, read_json_object
from hub.routespec import TEXT, RouteSpec, limit
from hub.store.repos.feedback import Filters
from hub.store.times import utc
from hub.validation import NULLABLE, RequestModel, validated
from hub.web.middleware import AGENT
from hub.web.reports import report_range

DEFAULT_DAYS = 90
CHANNELS = tuple(c.value for c in Channel)


class MarkIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    product: str = Field(min_length=1, max_length=100, description="the product it is about")
    theme: Annotated[str | None, NULLABLE] = Field(
        None, max_length=100, description="what about it (a bug, a wish, the price ...)"
    )


async def mark(request: web.Request) -> web.Response:
    body = validated(MarkIn, await read_json_object(request, 4096))
    product, theme = body.product.strip(), (body.theme or "").strip()
    if not product:
        raise InputError("product: name the product", field="product")
    found = await request.app[FEEDBACK].mark(request[AGENT], request.match_info["id"], product, theme)
    return json_response(found)


async def unmark(request: web.Request) -> web.Response:
    await request.app[FEEDBACK].unmark(request[AGENT], request.match_info["id"])
    return json_response({"message_id": request.match_info["id"], "marked": False})


async def access(request: web.Request) -> web.Response:
    return json_response({"reads": await request.app[FEEDBACK].may_read(request[AGENT])})


def _cursor(raw: str | None) -> tuple[datetime, str] | None:
    if raw is None:
        return None
    at, _, message_id = raw.partition("|")
    try:
        return utc(datetime.fromisoformat(at)), message_id[:36]
    except ValueError:
        raise InputError("cursor: as the last page's next gave it", field="cursor") from None


async def view(request: web.Request) -> web.Response:
    zone = ZoneInfo(request.app[SETTINGS].reports.timezone)
    if "from" in request.query or "to" in request.query:
        since, until = report_range(request, zone)
    else:
        until = request.app[FEEDBACK].clock() + timedelta(hours=1)
        since = until - timedelta(days=DEFAULT_DAYS)
    channel = request.query.get("channel")
    if channel is not None and channel not in CHANNELS:
        raise InputError(f"channel: one of {', '.join(CHANNELS)}", field="channel")
    filters = Filters(
        since=since,
        until=until,
        product=request.query.get("product") or None,
        theme=request.query.get("theme") or None,
        channel=channel,
    )
    count = int_query(request, "limit", 50, 200)
    found = await request.app[FEEDBACK].view(
        request[AGENT], filters, count, _cursor(request.query.get("cursor"))
    )
    return json_response({"from": since.isoformat(), "to": until.isoformat(), **found})


def feedback_routes() -> list[RouteSpec]:
    common = {401: "Not signed in", 403: "Role too low"}
    return [
        RouteSpec(
            "POST",
            "/api/v1/messages/{id}/feedback",
            mark,
            "Mark a customer's message as product feedback (a product and a theme); again: change it",
            "agent",
            tag="feedback",
            request_schema=MarkIn.model_json_schema(),
            responses={
                200: "Marked",
                404: "No such message for you",
                422: "Bad input, or not a customer's",
                **common,
            },
        ),
        RouteSpec(
            "DELETE",
            "/api/v1/messages/{id}/feedback",
            unmark,
            "It is not product feedback after all",
            "agent",
            tag="feedback",
            responses={200: "Unmarked", 404: "No such message for you, or not marked", **common},
        ),
        RouteSpec(
            "GET",
            "/api/v1/feedback/access",
            access,
            "Whether you read the product feedback view",
            "agent",
            tag="feedback",
            responses={200: "reads: true or false", **common},
        ),
        RouteSpec(
            "GET",
            "/api/v1/feedback",
            view,
            "Product feedback across channels, newest first, counted by product, theme, channel and"
            " week (supervisors and the feedback departments; audited)",
            "agent",
            tag="feedback",
            query={
                "from": TEXT,
                "to": TEXT,
                "product": TEXT,
                "theme": TEXT,
                "channel": {"enum": list(CHANNELS)},
                "cursor": TEXT,
                "limit": limit(200),
            },
            responses={
                200: "The marked messages and the counts",
                400: "Bad limit",
                403: "Not a reader of product feedback",
                422: "Bad filter",
                **common,
            },
        ),
    ]
