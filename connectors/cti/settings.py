"""The CTI connector's settings: the webhook token and the callers to refuse.

Pure (pydantic only): ``hub.settings`` composes it without importing the connector."""

from __future__ import annotations

from pydantic import SecretStr

from hub.settings_section import Section


class CtiSettings(Section):
    enabled: bool = False
    token: SecretStr | None = None
    """The secret in the webhook URL the PBX calls: /webhooks/cti/<token>."""
    blocked_numbers: list[str] = []
    """Callers the PBX is told to reject as busy."""
