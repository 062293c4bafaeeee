"""The fax gateways the settings configure, by name (also their URL segment)."""

from __future__ import annotations

from connectors.fax.generic import Generic
from connectors.fax.phaxio import Phaxio
from connectors.fax.provider import FaxProvider
from connectors.fax.sinch import Sinch
from hub.settings import Settings


def gateways(settings: Settings) -> dict[str, FaxProvider]:
    fax = settings.connectors.fax
    found: dict[str, FaxProvider] = {}
    if fax.phaxio is not None:
        found["phaxio"] = Phaxio(fax.phaxio)
    if fax.sinch is not None:
        found["sinch"] = Sinch(fax.sinch)
    if fax.generic is not None:
        found["generic"] = Generic(fax.generic)
    return found


def callback_base(settings: Settings) -> str | None:
    """The public base URL gateways call back (Phaxio signs it)."""
    base = settings.connectors.fax.public_url or settings.server.public_url
    return base.rstrip("/") if base else None
