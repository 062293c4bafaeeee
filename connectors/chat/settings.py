"""The website chat channel's settings.

Pure (pydantic only): ``hub.settings`` composes it without importing the connector."""

from __future__ import annotations

from pydantic import Field

from hub.settings_section import Section


class ChatConnectorSettings(Section):
    enabled: bool = True
    """The website chat widget: /widget/chat.js, /ws/widget and /demo/ (sites are made by admins)."""
    demo_site: str | None = "demo"
    """The site key /demo/ embeds (``?site=KEY`` overrides it); none: /demo/ is off."""
    frames_per_10s: int = Field(30, ge=1)
    """Frames one visitor socket may send in 10 s; more are refused with ``rate_limited``."""
