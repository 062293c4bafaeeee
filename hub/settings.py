"""Typed settings: ``config/contacthub.toml`` first, then ``CONTACTHUB_<SECTION>__<KEY>``.

Each connector owns its section's classes (``connectors/<name>/settings.py``, pure
pydantic); this module composes them under ``[connectors.<name>]``.

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
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, IPvAnyNetwork, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from connectors.api.settings import ApiConnectorSettings
from connectors.chat.settings import ChatConnectorSettings
from connectors.cti.settings import CtiSettings
from connectors.email.settings import EmailSettings
from connectors.fax.settings import FaxSettings
from connectors.lib.twilio.settings import TwilioSettings
from hub.errors import ConfigError
from hub.settings_section import Section

ENV_PREFIX = "CONTACTHUB_"
DEFAULT_CONFIG = Path("config/contacthub.toml")
PLACEHOLDER = re.compile(r"^(change[-_ ]?me.*|<.*>|x{3,}|your[-_ ].*|example[-_ ]?secret|todo)$", re.I)


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
    feedback_departments: list[str] = ["rnd"]
    """Agents of these departments read the product feedback view (besides supervisors and admins)."""


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


class ReportSettings(Section):
    timezone: str = "UTC"
    """The hub's time zone (an IANA name such as Europe/Berlin): reports bucket days,
    weeks and months in it unless the caller names another."""
    refresh_seconds: float = Field(20.0, ge=0)
    """How often this process brings the report rollups up to date; 0: never (another
    process does)."""
    settle_seconds: float = Field(30.0, ge=0)
    """The rollups count what was recorded this long ago (and earlier), for transactions
    that commit a little later than the time they recorded."""
    fairness_floor: float = Field(0.9, ge=0, le=1)
    """Tier fairness warns when a tier's SLA attainment is below this share."""
    fairness_floors: dict[str, float] = Field(default_factory=dict)
    """The floor per tier where it differs, e.g. ``{standard = 0.85}``."""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("must be an IANA time zone such as Europe/Berlin") from exc
        return value

    @field_validator("fairness_floors")
    @classmethod
    def _floors(cls, value: dict[str, float]) -> dict[str, float]:
        for tier, floor in value.items():
            if not 0 <= floor <= 1:
                raise ValueError(f"{tier}: a share from 0 to 1")
        return value


class ConnectorSettings(Section):
    api: ApiConnectorSettings = ApiConnectorSettings()
    email: EmailSettings = EmailSettings()
    chat: ChatConnectorSettings = ChatConnectorSettings()
    twilio: TwilioSettings = TwilioSettings()
    cti: CtiSettings = CtiSettings()
    fax: FaxSettings = FaxSettings()


class WebhookSettings(Section):
    interval_seconds: float = Field(2.0, ge=0)
    """How often this process delivers what the webhooks want; 0: never (another process
    does)."""


class HealthSettings(Section):
    step_seconds: float = Field(30.0, ge=0)
    """How often this process recomputes the customers whose signals changed (and, once a
    day, everyone); 0: never (another process does)."""
    digest_hour: int | None = Field(7, ge=0, le=23)
    """From this hour (the hub's time zone, ``reports.timezone``) the day's digest goes to
    key account managers who were away when an account went at risk (by the email
    connector's SMTP); none: no digest."""


class AutomationSettings(Section):
    step_seconds: float = Field(1.0, ge=0)
    """How often the automations look at what happened (one process at a time runs them,
    by a lease); 0: never in this process."""
    timer_seconds: float = Field(30.0, gt=0)
    """How often the timer triggers (waiting on the customer or on us, the daily
    schedule) are looked at."""
    max_actions_per_hour: int = Field(20, ge=1, le=10_000)
    """At most this many automation actions per conversation in an hour; the first time
    the limit stops one is on the conversation's timeline."""


class CampaignSettings(Section):
    step_seconds: float = Field(1.0, ge=0)
    """How often the campaigns take their next recipients (one process at a time, by a
    lease); 0: never in this process."""


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
    reports: ReportSettings = ReportSettings()
    webhooks: WebhookSettings = WebhookSettings()
    health: HealthSettings = HealthSettings()
    automation: AutomationSettings = AutomationSettings()
    campaigns: CampaignSettings = CampaignSettings()
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
