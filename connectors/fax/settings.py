"""The fax connector's settings: gateways, rendering, OCR, letterhead.

Pure (pydantic only): ``hub.settings`` composes it without importing the connector."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from hub.settings_section import Section


class PhaxioSettings(Section):
    callback_token: SecretStr
    """The webhook (callback) token: X-Phaxio-Signature is an HMAC with it."""
    api_key: str | None = None
    api_secret: SecretStr | None = None
    """Credentials for sending; without them no replies leave through Phaxio."""
    api_base: str = Field("https://api.phaxio.com", pattern=r"^https?://")


class SinchFaxSettings(Section):
    username: str
    password: SecretStr
    """The basic-auth credentials in the callback URL configured at Sinch."""
    project_id: str | None = None
    key_id: str | None = None
    key_secret: SecretStr | None = None
    """An access key for sending; without it no replies leave through Sinch."""
    api_base: str = Field("https://fax.api.sinch.com", pattern=r"^https?://")


class GenericFaxSettings(Section):
    secret: SecretStr
    """Signs both ways: X-ContactHub-Signature = sha256=hex HMAC-SHA256 of "<timestamp>.<body>"."""
    replay_window_seconds: int = Field(300, ge=10)
    """A callback whose X-ContactHub-Timestamp is further from now is refused."""
    send_url: str | None = Field(None, pattern=r"^https?://")
    """Where outgoing faxes are POSTed (signed JSON) for a self-hosted fax server."""


class FaxLetterhead(Section):
    name: str = "ContactHub"
    lines: list[str] = []
    """Address lines under the name (street, town, phone)."""
    footer: str | None = None


class FaxSettings(Section):
    enabled: bool = False
    public_url: str | None = None
    """The base URL gateways call (Phaxio signs it); default: server.public_url."""
    phaxio: PhaxioSettings | None = None
    sinch: SinchFaxSettings | None = None
    generic: GenericFaxSettings | None = None
    send_via: Literal["phaxio", "sinch", "generic"] | None = None
    """The gateway replies leave through; none: agents cannot reply by fax."""
    max_bytes: int = Field(25 * 1024 * 1024, ge=1024)
    """The largest fax document a gateway may post."""
    max_pages: int = Field(50, ge=1)
    """Pages rendered (and read) of one fax; the document is kept whole."""
    render_dpi: int = Field(150, ge=50, le=400)
    ocr: bool = True
    """Read the pages' text with Tesseract, so search and routing rules see it."""
    ocr_languages: str = Field("deu+eng", pattern=r"^[a-z_]+(\+[a-z_]+)*$")
    tesseract: str = "tesseract"
    ocr_timeout_seconds: float = Field(120.0, gt=0)
    letterhead: FaxLetterhead = FaxLetterhead()
