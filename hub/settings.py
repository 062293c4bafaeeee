"""Typed settings: ``config/contacthub.toml`` first, then ``CONTACTHUB_<SECTION>__<KEY>``.

Unknown keys and example placeholder secrets refuse the start with a ``ConfigError``
that names the key. Reading the file and the environment happens in ``load_settings``,
never inside ``create_app``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from hub.errors import ConfigError

ENV_PREFIX = "CONTACTHUB_"
DEFAULT_CONFIG = Path("config/contacthub.toml")
PLACEHOLDER = re.compile(r"^(change[-_ ]?me.*|<.*>|x{3,}|your[-_ ].*|example[-_ ]?secret|todo)$", re.I)


class Section(BaseModel):
    # attribute docstrings become descriptions: the admin pages show them as field hints
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class ServerSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    public_url: str | None = None
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    upload_max_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    """The largest file an agent may attach to a reply (POST /api/v1/uploads)."""
    shutdown_timeout: float = Field(10.0, gt=0)


class DatabaseSettings(Section):
    url: str = "sqlite+aiosqlite:///var/contacthub.db"
    pool_size: int = Field(10, ge=1)
    schema_: str | None = Field(None, alias="schema")
    """PostgreSQL only: put every table in this schema (tests use one per run)."""


class QueueSettings(Section):
    backend: Literal["embedded", "redis"] = "embedded"
    url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "contacthub:"
    dead_letter_after: int = Field(5, ge=1)
    stale_after_ms: int = Field(30_000, ge=100)
    append_batch: int = Field(256, ge=1)


class IngestSettings(Section):
    workers: int = Field(2, ge=0)
    batch_size: int = Field(500, ge=1)
    block_ms: int = Field(200, ge=1)
    reopen_days: float = Field(7, ge=0)
    """A reply (threading headers, a [#ref] tag) to a conversation closed less than this
    many days ago reopens it; to an older one it opens a new conversation. 0: never reopen."""


class BlobSettings(Section):
    path: Path = Path("var/blobs")


class LogSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "text"] = "json"


class SecuritySettings(Section):
    secret_key: SecretStr | None = None
    login_failures_per_email: int = Field(5, ge=1)
    """Failed sign-ins for one email within the window, after which it is refused (429)."""
    login_failures_per_ip: int = Field(20, ge=1)
    """Failed sign-ins from one client address within the window, after which it is refused."""
    login_failure_window_minutes: int = Field(15, ge=1)
    trusted_proxies: list[IPvAnyNetwork] = []
    """Reverse proxies (addresses or networks) whose X-Forwarded-For names the client;
    without them every sign-in behind a proxy would count against the proxy's address."""
    totp_required: bool = False
    """Every agent needs a two-factor code; one without it may only enrol after signing in."""


class PhoneSettings(Section):
    default_region: str = "DE"

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z]{2}", value):
            raise ValueError("must be a two-letter region code such as DE")
        return value


class CustomerSettings(Section):
    tiers_file: Path = Path("config/tiers.yaml")
    """Tier rules; without the file, the built-in platinum/gold/standard rules apply."""
    import_max_bytes: int = Field(64 * 1024 * 1024, ge=1024)


class RoutingSettings(Section):
    rules_file: Path = Path("config/routing.yaml")
    """Read at first start and whenever it changes; versions saved by the API win until then."""
    reload_seconds: float = Field(2.0, gt=0)
    router: bool = True
    """Run a router in this process; one is active per deployment, the others stand by."""
    lease_seconds: float = Field(5.0, ge=1)
    """A standby takes over this long after the active router stopped renewing its lease."""
    sla_warning_seconds: float = Field(300.0, ge=0)
    """Warn the agent and supervisors (event ``sla.warning``) this long before a due time; 0: never."""


class RetentionSettings(Section):
    message_body_days: int = Field(0, ge=0)
    """Blank message bodies (and drop their attachments) older than this; 0 keeps them."""
    interval_minutes: int = Field(60, ge=1)


class ApiConnectorSettings(Section):
    enabled: bool = True
    reply_url: str | None = Field(None, pattern=r"^https?://")
    """Where agents' replies on the API channel are POSTed (JSON, signed); none: no replies."""
    reply_secret: SecretStr | None = None
    """Signs those POSTs: X-ContactHub-Signature = hex HMAC-SHA256 of "<timestamp>.<body>"."""


class TwilioSharedKey(Section):
    key_id: str = Field(pattern=r"^\S+$")
    """The SharedKey's id, as the X-Twilio-Webhooks-Signature-Settings header names it."""
    secret: SecretStr


class TwilioAccount(Section):
    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: SecretStr
    numbers: list[str] = []
    """The E.164 numbers this account (or subaccount) owns: replies from them use it."""
    shared_keys: list[TwilioSharedKey] = []
    """Keys of the account's Webhook Settings: a webhook that carries the header
    X-Twilio-Webhooks-Signature-Settings is checked with the key it names and the
    algorithm it names (HMAC_SHA256 or HMAC_SHA1), not with the auth token."""


class TwilioSettings(Section):
    enabled: bool = False
    """The Twilio account(s) below are in use: their webhooks are accepted. Which channels
    run on them is ``sms`` and ``voice``; both are on by default, so a configuration
    written when ``enabled`` switched both keeps working unchanged."""
    sms: bool = True
    """SMS and MMS (the ``sms_twilio`` connector), when ``enabled``."""
    voice: bool = True
    """Phone calls (the ``voice_twilio`` connector), when ``enabled``."""
    public_url: str | None = None
    """The base URL Twilio calls (https://hub.example.com), as Twilio sees it behind any
    proxy; webhook signatures are checked against it. Default: server.public_url."""
    accounts: list[TwilioAccount] = []
    """Every account or subaccount whose numbers send webhooks here; a webhook is checked
    with the auth token of the account named by its AccountSid."""
    help_reply: str = "ContactHub: reply STOP to unsubscribe, START to subscribe again."
    media_max_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    """Largest MMS media file fetched into the attachment store."""
    media_hosts: list[str] = ["api.twilio.com"]
    """Hosts MMS media are fetched from (a signed webhook names the URL); ``*.example.com``
    allows every subdomain. A MediaUrl on any other host is not fetched: the message
    arrives with the link kept in ``media_not_stored``."""
    api_base: str | None = None
    """Send REST API requests here instead of Twilio (a simulator or a test double)."""


class CtiSettings(Section):
    enabled: bool = False
    token: SecretStr | None = None
    """The secret in the webhook URL the PBX calls: /webhooks/cti/<token>."""
    blocked_numbers: list[str] = []
    """Callers the PBX is told to reject as busy."""


class ChatConnectorSettings(Section):
    enabled: bool = True
    """The website chat widget: /widget/chat.js, /ws/widget and /demo/ (sites are made by admins)."""
    demo_site: str | None = "demo"
    """The site key /demo/ embeds (``?site=KEY`` overrides it); none: /demo/ is off."""
    frames_per_10s: int = Field(30, ge=1)
    """Frames one visitor socket may send in 10 s; more are refused with ``rate_limited``."""


class FaxGatewayMailbox(Section):
    """A mailbox of an email-to-fax gateway: its mail with a PDF or TIFF becomes a fax."""

    sender: str
    """The gateway's From address; other mail to the mailbox stays mail."""
    number_pattern: str = r"(\+?[0-9][0-9 /.-]{4,}[0-9])"
    """A regular expression finding the sender's fax number in the subject (its first group)."""

    @field_validator("number_pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from exc
        if compiled.groups < 1:
            raise ValueError("needs a group around the number, e.g. (\\+?[0-9 ]+)")
        return value


class MailboxSettings(Section):
    host: str
    port: int = Field(993, ge=1, le=65535)
    security: Literal["tls", "starttls", "none"] = "tls"
    user: str
    password: SecretStr
    """The password or app password."""
    folder: str = "INBOX"
    address: str | None = None
    """Our address that mail here is sent to (replies leave from it); default: the user, if an address."""
    queue: str | None = None
    """A routing hint for mail arriving here: rules see it as ``recipient``'s queue."""
    department: str | None = None
    language: str | None = None
    after: Literal["seen", "move", "leave"] = "seen"
    """What to do with a mail once it is durably on the ingest queue."""
    move_to: str | None = None
    """The folder for ``after = "move"``."""
    poll_seconds: float = Field(60.0, gt=0)
    """How often to look for new mail when the server has no IDLE."""
    idle_seconds: float = Field(25 * 60.0, gt=0, le=29 * 60.0)
    """IDLE is re-issued this often (servers end it after 30 minutes, RFC 2177)."""
    auto_reply: str | None = Field(None, max_length=5000)
    """Sent once when a mail opens a new conversation here ("we received your message"),
    never to automatic mail or our own addresses."""
    fax_gateway: FaxGatewayMailbox | None = None
    """Mail here from an email-to-fax gateway becomes a fax (needs ``connectors.fax``)."""


class SmtpSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(587, ge=1, le=65535)
    security: Literal["tls", "starttls", "none"] = "starttls"
    user: str | None = None
    password: SecretStr | None = None
    timeout: float = Field(30.0, gt=0)


class EmailSettings(Section):
    enabled: bool = False
    domain: str = "contacthub.invalid"
    """Replies' Message-IDs are ``<id@domain>``: use a domain of yours."""
    from_address: str | None = None
    """Replies leave from the address the customer wrote to, else from this one."""
    from_name: str | None = None
    mailboxes: dict[str, MailboxSettings] = {}
    smtp: SmtpSettings | None = None
    """Where replies are sent; none: agents cannot reply by email."""


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


class ConnectorSettings(Section):
    api: ApiConnectorSettings = ApiConnectorSettings()
    email: EmailSettings = EmailSettings()
    chat: ChatConnectorSettings = ChatConnectorSettings()
    twilio: TwilioSettings = TwilioSettings()
    cti: CtiSettings = CtiSettings()
    fax: FaxSettings = FaxSettings()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        populate_by_name=True,
    )

    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    queue: QueueSettings = QueueSettings()
    ingest: IngestSettings = IngestSettings()
    blobs: BlobSettings = BlobSettings()
    log: LogSettings = LogSettings()
    security: SecuritySettings = SecuritySettings()
    phone: PhoneSettings = PhoneSettings()
    customers: CustomerSettings = CustomerSettings()
    retention: RetentionSettings = RetentionSettings()
    routing: RoutingSettings = RoutingSettings()
    connectors: ConnectorSettings = ConnectorSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file arrives as init data; the environment overrides it.
        return env_settings, init_settings

    @property
    def is_embedded(self) -> bool:
        return self.queue.backend == "embedded"


def load_settings(
    config: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read the TOML file (if any) and the environment; raise ConfigError naming the key.

    ``config=None`` reads ``config/contacthub.toml`` when it exists. An explicit path
    that does not exist is an error.
    """
    data: dict[str, Any] = {}
    path = config if config is not None else DEFAULT_CONFIG
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    elif config is not None:
        raise ConfigError(f"{path}: config file not found")
    for dotted, value in (overrides or {}).items():
        _set_dotted(data, dotted, value)

    env = os.environ if environ is None else environ
    for name in env:
        if name.startswith(ENV_PREFIX):
            section = name[len(ENV_PREFIX) :].split("__")[0].lower()
            if section not in Settings.model_fields:
                raise ConfigError(f"{name}: unknown setting (no section {section!r})")

    saved = None
    if environ is not None:
        saved = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}
        for key in saved:
            del os.environ[key]
        os.environ.update({k: v for k, v in environ.items() if k.startswith(ENV_PREFIX)})
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from exc
    finally:
        if saved is not None:
            for key in [k for k in os.environ if k.startswith(ENV_PREFIX)]:
                del os.environ[key]
            os.environ.update(saved)
    for key, value in _secrets(settings):
        if PLACEHOLDER.match(value.strip()):
            raise ConfigError(
                f"{key}: still holds the example placeholder {value!r}; set a real secret "
                f"in {path} or {env_name(key)}"
            )
    return settings


def env_name(dotted: str) -> str:
    return ENV_PREFIX + dotted.upper().replace(".", "__")


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def _describe(exc: ValidationError, path: Path) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(root)"
        if err["type"] == "extra_forbidden":
            why = "unknown setting"
        else:
            why = err["msg"]
        lines.append(f"{key}: {why} (from {path} or {env_name(key)})")
    return "invalid settings: " + "; ".join(lines)


def _secrets(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, str]]:
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        key = f"{prefix}{info.alias or name}"
        if isinstance(value, SecretStr):
            yield key, value.get_secret_value()
        elif isinstance(value, BaseModel):
            yield from _secrets(value, key + ".")
        elif isinstance(value, list):
            for n, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from _secrets(item, f"{key}[{n}].")
