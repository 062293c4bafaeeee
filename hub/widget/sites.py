"""A site that embeds the widget: its allowed origins and its public settings. Pure.

``SiteSettings`` is what admins set and what ``welcome.settings`` shows the widget;
``hours_of`` turns its business hours into the routing core's ``BusinessHours``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.routing.hours import ALWAYS_OPEN, BusinessHours, parse_windows
from hub.untrusted import secrets_equal

Ask = Literal["required", "optional", "off"]
COLOUR = r"^#[0-9a-fA-F]{6}$"
DEFAULT_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Colours(Strict):
    primary: str = Field("#0b5fff", pattern=COLOUR)
    on_primary: str = Field("#ffffff", pattern=COLOUR)


class Texts(Strict):
    de: str = Field("", max_length=500)
    en: str = Field("", max_length=500)


class Department(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$", description="the routing department")
    label: Texts


class PreChat(Strict):
    name: Ask = "optional"
    email: Ask = "optional"
    phone: Ask = "off"


class Hours(Strict):
    timezone: str = "UTC"
    country: str | None = None
    subdivision: str | None = None
    open: dict[str, list[str]] = Field(description='e.g. {"mon-fri": ["08:00-18:00"]}')


class Uploads(Strict):
    max_bytes: int = Field(10 * 1024 * 1024, ge=1024, le=50 * 1024 * 1024)
    types: list[str] = Field(default_factory=lambda: list(DEFAULT_TYPES), max_length=50)


class SiteSettings(Strict):
    colors: Colours = Colours()
    greeting: Texts = Texts(de="Hallo! Wie können wir helfen?", en="Hello! How can we help?")
    languages: list[Literal["de", "en"]] = Field(["en", "de"], min_length=1)
    departments: list[Department] = Field([], max_length=20)
    prechat: PreChat = PreChat()
    hours: Hours | None = Field(None, description="none: always open")
    uploads: Uploads = Uploads()

    @field_validator("hours")
    @classmethod
    def _hours_parse(cls, value: Hours | None) -> Hours | None:
        if value is not None:
            hours_of(value)  # raises ValueError naming the bad entry
        return value


def hours_of(hours: Hours | None) -> BusinessHours:
    if hours is None:
        return ALWAYS_OPEN
    try:
        parsed = BusinessHours(
            timezone=hours.timezone,
            windows=parse_windows(hours.open, "hours.open"),
            country=hours.country,
            subdivision=hours.subdivision,
        )
        _ = parsed._zone, parsed._holidays  # an unknown zone, country or region fails here
    except (ValueError, KeyError, NotImplementedError) as exc:  # what zoneinfo and holidays raise
        raise ValueError(f"hours: {exc}") from exc
    return parsed


def normal_origin(value: str) -> str:
    """``https://shop.example`` from anything a browser could send as ``Origin``.
    Raises ValueError for what is not a scheme and host."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError(f"{value!r} is not an origin like https://shop.example")
    return f"{parts.scheme}://{parts.netloc.lower()}"


def origin_allowed(allowed: list[str], origin: str | None) -> bool:
    """Whether a browser page at ``origin`` may open the widget. ``*`` allows any page;
    a request without an Origin is not a browser page and is refused."""
    if origin is None:
        return False
    if "*" in allowed:
        return True
    try:
        return normal_origin(origin) in allowed
    except ValueError:
        return False


def identifier_hash(secret: str, identifier: str) -> str:
    """What a website signs its signed-in user with: hex HMAC-SHA256 of the identifier."""
    return hmac.new(secret.encode(), identifier.encode(), hashlib.sha256).hexdigest()


def identifier_valid(secret: str, identifier: str, given: str) -> bool:
    return secrets_equal(given.strip().lower(), identifier_hash(secret, identifier))


def public_settings(name: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings the widget sees (everything but the hours' details)."""
    parsed = SiteSettings.model_validate(settings)
    shown = parsed.model_dump(exclude={"hours"})
    return {"name": name, **shown}
