"""The API connector's settings: where agents' replies go, and how they are signed.

Pure (pydantic only): ``hub.settings`` composes it without importing the connector."""

from __future__ import annotations

from pydantic import Field, SecretStr

from hub.settings_section import Section


class ApiConnectorSettings(Section):
    enabled: bool = True
    reply_url: str | None = Field(None, pattern=r"^https?://")
    """Where agents' replies on the API channel are POSTed (JSON, signed); none: no replies."""
    reply_secret: SecretStr | None = None
    """Signs those POSTs: X-ContactHub-Signature = hex HMAC-SHA256 of "<timestamp>.<body>"."""
