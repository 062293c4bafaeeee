"""SQLAlchemy Core tables. The schema itself evolves only through Alembic migrations;
these objects are what queries are written against, and a test checks that they and
the migrated database agree."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from hub.model import PRIORITY_RANKS

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)
# Byte order on both databases, so a prefix is a plain index range (key >= q AND key < q+U+FFFF).
BINARY_TEXT = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.Text),
    sa.Column("tier", sa.String(40), nullable=False, server_default="standard"),
    sa.Column("attributes", JSON, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Column("organisation", sa.Text),
    sa.Column("key_account", sa.Boolean, nullable=False, server_default=sa.false()),
    # an agent id, checked by the service; no FK so SQLite can add the column in place
    sa.Column("key_account_manager_id", sa.String(36)),
    sa.Column("language", sa.String(16)),
    # why the tier is what it is: {"rule": ..., "values": {...}} or {"pinned_by": ...}
    sa.Column("tier_reason", JSON),
    sa.Column("tier_pinned", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("erased_at", TS),
)

# A customer's contracts (hub/customers/contracts.py), many per customer. ``external_ref``
# is the ERP's or CRM's key, by which an integration upserts them (unique when given).
contracts = sa.Table(
    "contracts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("customer_id", sa.String(36), sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("name", sa.Text, nullable=False),  # the product or the contract's name
    sa.Column("starts_on", sa.Date),
    sa.Column("ends_on", sa.Date),  # none: until cancelled
    sa.Column("notice_days", sa.Integer),  # notice must be given this many days before ends_on
    sa.Column("value", sa.Float),  # per billing interval, in ``currency``
    sa.Column("currency", sa.String(3)),
    sa.Column("billing_interval", sa.String(10)),  # month, quarter, year, once
    sa.Column("status", sa.String(10), nullable=False),  # active, cancelled, ended
    sa.Column("external_ref", sa.String(200), unique=True),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Index(None, "customer_id"),
    sa.Index(None, "ends_on"),
)

# A customer's revenue per month and currency (hub/customers/revenue.py), as an ERP books
# it: each row one source (``external_ref``, unique), several may fall in one month. The
# tier rules read figures derived from them (the last 12 complete months, the trend).
revenue_periods = sa.Table(
    "revenue_periods",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("customer_id", sa.String(36), sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("month", sa.Date, nullable=False),  # its first day
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount", sa.Float, nullable=False),  # a credit note is negative
    sa.Column("external_ref", sa.String(200), nullable=False, unique=True),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Index(None, "customer_id", "month"),
)

# Words of names and organisations, lower-cased: prefix search without a full scan.
search_terms = sa.Table(
    "search_terms",
    metadata,
    sa.Column("term", BINARY_TEXT, nullable=False),
    sa.Column("customer_id", sa.String(36), sa.ForeignKey("customers.id"), nullable=False),
    sa.PrimaryKeyConstraint("term", "customer_id"),
    # (customer, term): "does this customer also have a word starting with …" is one probe
    sa.Index(None, "customer_id", "term"),
)

consents = sa.Table(
    "consents",
    metadata,
    sa.Column("customer_id", sa.String(36), sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("purpose", sa.String(16), nullable=False),
    sa.Column("granted", sa.Boolean, nullable=False),
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.PrimaryKeyConstraint("customer_id", "channel", "purpose"),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("agent_id", sa.String(36), sa.ForeignKey("agents.id"), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
    # "full", or "totp_setup": two-factor is required but not set up, so the session may
    # only enrol (hub/web/totp.py) until the enrolment is confirmed
    sa.Column("scope", sa.String(16), nullable=False, server_default="full"),
    sa.Index(None, "agent_id"),
)

# Sign-in attempts per key ("email:<address>" or "ip:<address>") in the current throttle
# window (hub/auth/throttle.py). One row per key, counted up by a single upsert before
# any password is checked, so parallel attempts cannot all pass; in the database so
# every hub process counts the same. Rows of windows that have ended are pruned.
login_attempts = sa.Table(
    "login_attempts",
    metadata,
    sa.Column("key", sa.String(400), primary_key=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("window_start", TS, nullable=False),
    sa.Index(None, "window_start"),
)

identities = sa.Table(
    "identities",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("customer_id", sa.String(36), sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("value", sa.String(320), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    # mail to it bounced for good: the status and the day (e.g. "5.1.1 since 2026-12-02")
    sa.Column("undeliverable", sa.String(200)),
    sa.UniqueConstraint("kind", "value"),
    sa.Index(None, "customer_id"),
)

# conversations.priority: rank per name (as X-Priority counts); NULL is normal
PRIORITIES = {p.value: rank for p, rank in PRIORITY_RANKS.items()}  # hub.model.Priority
PRIORITY_NAMES = {rank: name for name, rank in PRIORITIES.items()}

conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("customer_id", sa.String(36), sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("thread_key", sa.String(512), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    # Set only while open: at most one open conversation per customer, channel and thread,
    # even with several ingest workers racing (NULLs never collide in a unique index).
    sa.Column("open_key", sa.String(600), unique=True),
    sa.Column("needs_routing", sa.Boolean, nullable=False),
    sa.Column("message_count", sa.Integer, nullable=False),
    sa.Column("opened_at", TS, nullable=False),
    sa.Column("last_message_at", TS, nullable=False),
    sa.Column("closed_at", TS),
    # Routing (hub/dispatch): the queue it waits on, an offer (reservation) or the agent it
    # is assigned to, and what the router remembers between decisions (``route``: facts
    # the rules read, the ring it waits on, who turned it down, a transfer).
    sa.Column("queue", sa.String(60)),
    sa.Column("offered_to", sa.String(36)),
    sa.Column("offer_expires_at", TS),
    sa.Column("assignee_id", sa.String(36)),
    sa.Column("assigned_at", TS),
    sa.Column("route", JSON),
    # SLA: due times counted in the queue's business hours; a breach is recorded once.
    sa.Column("first_response_due", TS),
    sa.Column("first_response_at", TS),
    sa.Column("next_response_due", TS),
    sa.Column("breached", sa.String(20)),
    sa.Column("breached_at", TS),
    # Snoozed by its agent: hidden from their inbox until then, or until the customer writes.
    sa.Column("snoozed_until", TS),
    sa.Column("snoozed_at", TS),
    # the due time an SLA warning was sent for; a new due time is warned about again
    sa.Column("sla_warned_due", TS),
    # What the customer marked (an email's Importance / X-Priority / Priority) or a rule set:
    # PRIORITIES' ranks, lower is more urgent; a later, more urgent message raises it.
    sa.Column("priority", sa.SmallInteger),
    sa.Index(None, "customer_id"),
    sa.Index(None, "needs_routing"),
    sa.Index(None, "status", "assignee_id"),
    sa.Index(None, "offered_to"),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("conversation_id", sa.String(36), sa.ForeignKey("conversations.id"), nullable=False),
    sa.Column("customer_id", sa.String(36), sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("external_id", sa.String(512), nullable=False),
    sa.Column("direction", sa.String(4), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("sender_kind", sa.String(20), nullable=False),
    sa.Column("sender_value", sa.String(320), nullable=False),
    sa.Column("sender_name", sa.Text),
    sa.Column("recipient", sa.String(320)),
    sa.Column("subject", sa.Text),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("html", sa.Text),
    sa.Column("meta", JSON, nullable=False),
    sa.Column("received_at", TS, nullable=False),
    sa.Column("stored_at", TS, nullable=False),
    sa.UniqueConstraint("channel", "external_id"),
    sa.Index(None, "conversation_id", "received_at"),
    sa.Index(None, "customer_id", "received_at"),
    sa.Index(None, "stored_at"),  # reports: the messages stored in an hour (hub/reports)
)

attachments = sa.Table(
    "attachments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(36), sa.ForeignKey("messages.id"), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("filename", sa.Text, nullable=False),
    sa.Column("content_type", sa.String(200), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Index(None, "message_id"),
    sa.Index(None, "sha256"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("at", TS, nullable=False),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("action", sa.String(60), nullable=False),
    sa.Column("subject_type", sa.String(30), nullable=False),
    sa.Column("subject_id", sa.String(64), nullable=False),
    sa.Column("customer_id", sa.String(36)),
    sa.Column("reason", sa.Text),
    sa.Column("data", JSON, nullable=False),
    sa.Index(None, "customer_id", "at"),
    sa.Index(None, "action", "at"),
    sa.Index(None, "actor", "at"),
)

agents = sa.Table(
    "agents",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.Text),
    sa.Column("presence", sa.String(16), nullable=False),
    sa.Column("languages", JSON, nullable=False),
    sa.Column("departments", JSON, nullable=False),
    sa.Column("capacity", JSON, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("tags", JSON),
    sa.Column("teams", JSON),
    sa.Column("idle_since", TS),
    # offers in a row the agent let lapse; at routing.max_missed_offers they are set away
    sa.Column("missed_offers", sa.Integer, nullable=False, server_default="0"),
    sa.Column("phone", sa.String(320)),  # E.164 or sip:…, where calls to this agent are put through
    # two-factor (TOTP): the base32 secret, set at enrolment and live once confirmed;
    # ``totp_required`` is set by an admin (security.totp_required applies to everyone)
    sa.Column("totp_secret", sa.Text),
    sa.Column("totp_enabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("totp_required", sa.Boolean, nullable=False, server_default=sa.false()),
)

# The fencing token of the active router: every router write raises it to its own token
# and fails if a newer router has written, so a router that lost its lease cannot write.
# On the embedded backend the row is also the lease itself (holder, expires_at).
router_fence = sa.Table(
    "router_fence",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("token", sa.BigInteger, nullable=False),
    sa.Column("holder", sa.String(200)),
    sa.Column("expires_at", TS),
)


def _config_versions(name: str) -> sa.Table:
    """The versions of a text an admin edits (``hub.versioned_config``): each one saved,
    with who saved it and why; the highest is in force."""
    return sa.Table(
        name,
        metadata,
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("created_at", TS, nullable=False),
    )


# Every version of the routing rules ever saved; the highest version is live.
routing_rules = _config_versions("routing_rules")

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("scope", sa.String(200), nullable=False),  # its scopes, space-separated (hub/tokens.py)
    sa.Column("created_at", TS, nullable=False),
    sa.Column("last_used_at", TS),
    sa.Column("revoked_at", TS),
)

# Replies waiting to leave, leaving, or gone (hub/outbox): one row per outbound message.
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),  # also the outbound message's id
    sa.Column("conversation_id", sa.String(36), sa.ForeignKey("conversations.id"), nullable=False),
    sa.Column("customer_id", sa.String(36), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("sender", sa.String(320)),  # our number or address it leaves from
    sa.Column("recipient", sa.String(320), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    # queued -> sending -> sent -> delivered | undelivered | failed (and queued again on retry)
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", TS, nullable=False),
    sa.Column("claimed_until", TS),
    sa.Column("provider_ids", JSON, nullable=False),  # one per part when a text is split
    sa.Column("error_code", sa.String(40)),
    sa.Column("error", sa.Text),
    sa.Column("details", JSON, nullable=False),  # e.g. segments and encoding of an SMS
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Index(None, "status", "next_attempt_at"),
    sa.Index(None, "conversation_id"),
)

# Canned responses for the console's reply box: shared (team NULL) or for one team.
canned_responses = sa.Table(
    "canned_responses",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("shortcut", sa.String(60), nullable=False),  # typed after "/" in the reply box
    sa.Column("body", sa.Text, nullable=False),  # may hold {{customer.name}}, {{agent.name}} ...
    sa.Column("team", sa.String(100)),
    sa.Column("created_by", sa.String(100), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.UniqueConstraint("shortcut", "team"),
)

# The embedded queue (hub/queue/sql.py): one table holds every stream.
queue_entries = sa.Table(
    "queue_entries",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("stream", sa.String(40), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("consumer", sa.String(100)),
    sa.Column("claimed_at", sa.Float),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index(None, "stream", "consumer", "id"),
)

dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("stream", sa.String(40), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.Float, nullable=False),
)

# Websites that embed the chat widget: a public key, the origins allowed to use it, and
# the secret that signs their signed-in users (identifier_hash).
widget_sites = sa.Table(
    "widget_sites",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("secret", sa.String(128), nullable=False),
    sa.Column("allowed_origins", JSON, nullable=False),
    sa.Column("settings", JSON, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

# One browser of a site; ``id`` is the value of its chat_visitor identity, the token is
# kept only as a digest.
widget_visitors = sa.Table(
    "widget_visitors",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("site_key", sa.String(64), sa.ForeignKey("widget_sites.key"), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("identified", sa.String(320)),  # the verified identifier, when the site signed one
    sa.Column("contact", JSON, nullable=False),  # what the pre-chat or offline form said
    sa.Column("created_at", TS, nullable=False),
    sa.Column("last_seen_at", TS, nullable=False),
)

# What a customer's widget shows, in order: their messages and the agents' replies. ``seq``
# is the resume point; ``origin`` makes every write idempotent.
widget_feed = sa.Table(
    "widget_feed",
    metadata,
    sa.Column(
        "seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    sa.Column("customer_id", sa.String(36), nullable=False),
    sa.Column("origin", sa.String(160), nullable=False, unique=True),
    sa.Column("data", JSON, nullable=False),
    sa.Column("at", TS, nullable=False),
    sa.Index(None, "customer_id", "seq"),
)

# Files a visitor uploaded, until a message names them.
widget_uploads = sa.Table(
    "widget_uploads",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("visitor_id", sa.String(36), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("filename", sa.Text, nullable=False),
    sa.Column("content_type", sa.String(200), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created_at", TS, nullable=False),
)

# Where each mailbox watcher is: the folder's UIDVALIDITY and the last UID it queued.
mail_cursors = sa.Table(
    "mail_cursors",
    metadata,
    sa.Column("mailbox", sa.String(100), primary_key=True),
    sa.Column("uidvalidity", sa.BigInteger, nullable=False),
    sa.Column("last_uid", sa.BigInteger, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

# Connector settings saved in the admin pages, per section of ``[connectors]``; they
# override the file when a hub process starts (hub/channel_settings.py).
channel_settings = sa.Table(
    "channel_settings",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("data", JSON, nullable=False),
    sa.Column("updated_by", sa.String(100), nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

# Every version of the tier rules saved in the admin pages; the highest is in force (else the file).
tier_rules = _config_versions("tier_rules")

# One-time links by which an agent sets their own password; only a SHA-256 is stored.
agent_invitations = sa.Table(
    "agent_invitations",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("agent_id", sa.String(36), sa.ForeignKey("agents.id"), nullable=False),
    sa.Column("created_by", sa.String(100), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
    sa.Column("used_at", TS),
    sa.Index(None, "agent_id"),
)

# A live call put through to an agent (hub/dispatch/call_target.py): it counts against the
# agent's capacity on its channel from the dial until the call's last status (or the
# expiry, should Twilio's callbacks never come), for live calls and the router alike.
call_holds = sa.Table(
    "call_holds",
    metadata,
    sa.Column("call_id", sa.String(100), primary_key=True),  # the provider's, e.g. a CallSid
    sa.Column("agent_id", sa.String(36), sa.ForeignKey("agents.id"), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("started_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
    sa.Index(None, "agent_id"),
)

# The search index (hub/store/search_index.py): one row per searchable document (a
# message, an internal note, a customer's names and identities), with its terms. On
# SQLite ``raw``/``de``/``en`` are the external content of the FTS5 table ``search_fts``,
# which also indexes a generated ``keys`` column in place of the B-trees on source,
# customer and conversation (``search_index.PG_ONLY``); on PostgreSQL they stay NULL and
# the terms are the ``terms`` tsvector column with its GIN index. Neither is declared
# here: they are each one backend's (``search_index.BACKEND_OBJECTS``).
search_docs = sa.Table(
    "search_docs",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    # "m:<message id>", "n:<event id>", "c:<customer id>" or "v:<conversation id>" (its
    # tags and department): a document is indexed once
    sa.Column("source", sa.String(60), nullable=False, unique=True),
    sa.Column("kind", sa.String(12), nullable=False),
    sa.Column("customer_id", sa.String(36), nullable=False),
    sa.Column("conversation_id", sa.String(36)),
    sa.Column("message_id", sa.String(36)),
    sa.Column("channel", sa.String(16)),
    sa.Column("at", TS, nullable=False),
    sa.Column("raw", sa.Text),
    sa.Column("de", sa.Text),
    sa.Column("en", sa.Text),
    sa.Index(None, "customer_id"),
    sa.Index(None, "conversation_id"),
    sa.Index(None, "at"),
)

# Saved searches (hub/web/saved_views.py): a query and its filters by name, the owner's
# alone (team NULL) or shared with one of their teams; shown in the inbox sidebar.
saved_views = sa.Table(
    "saved_views",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("owner_id", sa.String(36), sa.ForeignKey("agents.id"), nullable=False),
    sa.Column("team", sa.String(100)),
    sa.Column("q", sa.Text, nullable=False),
    sa.Column("filters", JSON, nullable=False),  # filter name -> list of values, as the query string has them
    sa.Column("created_at", TS, nullable=False),
    sa.Index(None, "owner_id"),
    sa.Index(None, "team"),
)

# Segments (hub/web/segments.py): a customer filter by name (the customer list's
# parameters, name -> text), the owner's alone (team NULL) or shared with one of their teams.
segments = sa.Table(
    "segments",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("owner_id", sa.String(36), sa.ForeignKey("agents.id"), nullable=False),
    sa.Column("team", sa.String(100)),
    sa.Column("filters", JSON, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Index(None, "owner_id"),
    sa.Index(None, "team"),
)

# Reports (hub/reports): per UTC hour, base measure and combination of dimensions, the
# count, sum and largest value of what was measured, split by ``bin`` (a duration's
# histogram bin, hub/reports/bins.py; 0 for counts). An unknown dimension is '' (not
# NULL, so the key stays unique). The refresh step adds to them what was recorded since
# its last run (hub/reports/refresh.py); nothing else writes them.
report_rollups = sa.Table(
    "report_rollups",
    metadata,
    sa.Column("hour", TS, nullable=False),
    sa.Column("measure", sa.String(40), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("tier", sa.String(40), nullable=False),
    sa.Column("queue", sa.String(60), nullable=False),
    sa.Column("department", sa.String(100), nullable=False),
    sa.Column("agent_id", sa.String(36), nullable=False),
    sa.Column("key_account", sa.Boolean, nullable=False),
    sa.Column("bin", sa.Integer, nullable=False),
    sa.Column("n", sa.BigInteger, nullable=False),
    sa.Column("total", sa.Float, nullable=False),
    sa.Column("peak", sa.Float, nullable=False),
    sa.PrimaryKeyConstraint(
        "measure", "hour", "channel", "tier", "queue", "department", "agent_id", "key_account", "bin"
    ),
    sa.Index(None, "hour"),
)

# How far the rollups are complete: what was recorded before ``done_until`` is counted;
# the refresh goes on from there.
report_state = sa.Table(
    "report_state",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("done_until", TS, nullable=False),
)


# Outgoing webhooks (hub/webhooks): a URL an admin registered, the events it wants, the
# key that signs each delivery, and how far it has been delivered: the id of the last
# event and the (stored_at, id) of the last inbound message it was sent. A delivery is
# tried again, later each time, until the receiver takes it; nothing is skipped.
webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("events", JSON, nullable=False),  # event names (hub/webhooks/events.py)
    sa.Column("secret", sa.String(100), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("event_cursor", sa.BigInteger, nullable=False),
    sa.Column("message_cursor_at", TS),
    sa.Column("message_cursor_id", sa.String(36)),
    sa.Column("failures", sa.Integer, nullable=False),  # in a row, since the last success
    sa.Column("next_attempt_at", TS, nullable=False),  # also a claim: a process delivering it
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

# Each delivery tried, for the admin pages: kept for WEBHOOK_ATTEMPTS_KEPT days.
webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("webhook_id", sa.String(36), sa.ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    sa.Column("at", TS, nullable=False),
    sa.Column("items", sa.Integer, nullable=False),  # events and messages in it
    sa.Column("status", sa.Integer),  # the receiver's HTTP status; none: not reached
    sa.Column("error", sa.Text),
    sa.Column("ms", sa.Integer, nullable=False),
    sa.Index(None, "webhook_id", "at"),
)


# Each customer's health (hub/customers/health.py): the score, its level and the lines
# that explain it, as last computed; ``base_score`` is the score a week or more ago
# (``base_at``), so the early-warning list can show who is falling fastest.
customer_health = sa.Table(
    "customer_health",
    metadata,
    sa.Column("customer_id", sa.String(36), sa.ForeignKey("customers.id"), primary_key=True),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("level", sa.String(10), nullable=False),
    sa.Column("lines", JSON, nullable=False),
    sa.Column("computed_at", TS, nullable=False),
    sa.Column("base_score", sa.Integer, nullable=False),
    sa.Column("base_at", TS, nullable=False),
    sa.Index(None, "level", "score"),
)

# Every version of the health rules ever saved (hub/customers/health_config.py); the
# highest version is in force.
health_rules = _config_versions("health_rules")

# How far a loop that follows the events has come, by name (``hub.store.repos.progress``):
# the last event id it read and when (``health.events``), or just when it last ran
# (``health.full``, ``health.digest``, ``automation.events``, ``automation.schedule:NAME``).
progress = sa.Table(
    "progress",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("event_id", sa.BigInteger, nullable=False),
    sa.Column("at", TS, nullable=False),
)

# Every version of the automations ever saved (hub/automation/config.py).
automations = _config_versions("automations")

# Each time an automation fired (hub/automation/runner.py): on what (``subject_id``, a
# conversation or a customer) and in which chain of events (``chain``: the event or the
# timer that started it). One row per automation, chain and subject: a replay after a
# crash does nothing twice, and an automation acts at most once per chain (loops stop).
automation_runs = sa.Table(
    "automation_runs",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("automation", sa.String(60), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("trigger", sa.String(40), nullable=False),
    sa.Column("chain", sa.String(40), nullable=False),
    sa.Column("subject_id", sa.String(64), nullable=False),
    sa.Column("conversation_id", sa.String(36)),
    sa.Column("customer_id", sa.String(36)),
    sa.Column("at", TS, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # running, done, stopped
    sa.Column("actions", sa.Integer, nullable=False),  # how many it took (the hourly limit)
    sa.Column("results", JSON, nullable=False),
    sa.UniqueConstraint("automation", "chain", "subject_id"),
    sa.Index(None, "conversation_id", "at"),
    sa.Index(None, "customer_id"),
)

# The satisfaction surveys' settings, every version saved (hub/csat/config.py).
csat_settings = _config_versions("csat_settings")

# One satisfaction survey after a conversation (hub/csat/surveys.py): to whom, on which
# channel, and the answer. ``token_hash`` is the SHA-256 of the one-use link's token
# (email); a chat survey is answered in the widget, an SMS one by a reply 1 to 5.
csat_surveys = sa.Table(
    "csat_surveys",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("conversation_id", sa.String(36), sa.ForeignKey("conversations.id"), nullable=False),
    sa.Column("customer_id", sa.String(36), nullable=False),
    sa.Column("agent_id", sa.String(36)),  # who held the conversation when it closed
    sa.Column("queue", sa.String(60)),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("sent_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
    sa.Column("answered_at", TS),
    sa.Column("score", sa.SmallInteger),
    sa.Column("comment", sa.Text),
    sa.Index(None, "customer_id", "sent_at"),
    sa.Index(None, "sent_at"),
    sa.Index(None, "conversation_id"),
)

# The contact policy, every version saved (hub/outreach/config.py).
contact_policy = _config_versions("contact_policy")

# Every contact the hub started with a customer (hub/outreach): a new conversation by an
# agent, a campaign's message to a recipient. The contact policy's frequency caps count
# them across departments. ``overridden``: the reason a supervisor gave for sending
# despite a block (also audited).
outbound_contacts = sa.Table(
    "outbound_contacts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),  # the message's id
    sa.Column("customer_id", sa.String(36), nullable=False),
    sa.Column("conversation_id", sa.String(36), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("purpose", sa.String(16), nullable=False),
    sa.Column("department", sa.String(100), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("at", TS, nullable=False),
    sa.Column("overridden", sa.Text),
    sa.Index(None, "customer_id", "at"),
    sa.Index(None, "conversation_id"),
)

# A key account manager's consent (hub/outreach/approvals.py): until ``until``, others may
# contact their account, for ``department`` and ``purpose`` (None: any), despite the contact
# policy's ``key_accounts: manager``. Revoked: ``revoked_at`` set.
contact_approvals = sa.Table(
    "contact_approvals",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("customer_id", sa.String(36), nullable=False),
    sa.Column("department", sa.String(100)),
    sa.Column("purpose", sa.String(16)),
    sa.Column("note", sa.Text),
    sa.Column("granted_by", sa.String(36), nullable=False),  # the agent
    sa.Column("granted_at", TS, nullable=False),
    sa.Column("until", TS, nullable=False),
    sa.Column("revoked_at", TS),
    sa.Index(None, "customer_id", "until"),
)

# A campaign (hub/outreach/campaigns.py): one templated message per language, to the
# members of a saved segment on one channel, at most ``rate_per_minute`` queued a minute.
# ``texts``: {language: {"subject": ..., "text": ...}}. Status: draft, running, cancelled, done.
campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("segment_id", sa.String(36), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("purpose", sa.String(16), nullable=False),
    sa.Column("department", sa.String(100), nullable=False),
    sa.Column("queue", sa.String(60)),  # where replies wait
    sa.Column("sender", sa.String(320)),  # our address (an email's mailbox); none: the default
    sa.Column("texts", JSON, nullable=False),
    sa.Column("rate_per_minute", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_by", sa.String(36), nullable=False),  # an agent id
    sa.Column("created_at", TS, nullable=False),
    sa.Column("started_at", TS),
    sa.Column("finished_at", TS),
    sa.Column("recipients", sa.Integer),  # the segment's members when it started
)

# One recipient of a campaign: ``pending`` until the runner takes it, then ``sent`` (its
# message, conversation and the unsubscribe link's token hash) or ``skipped`` (``reason``).
# A recipient in quiet hours stays pending until ``not_before``.
campaign_recipients = sa.Table(
    "campaign_recipients",
    metadata,
    sa.Column("campaign_id", sa.String(36), sa.ForeignKey("campaigns.id"), nullable=False),
    sa.Column("customer_id", sa.String(36), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(200)),
    sa.Column("not_before", TS),
    sa.Column("message_id", sa.String(36)),
    sa.Column("conversation_id", sa.String(36)),
    sa.Column("token_hash", sa.String(64), unique=True),
    sa.Column("updated_at", TS, nullable=False),
    sa.PrimaryKeyConstraint("campaign_id", "customer_id"),
    sa.Index(None, "campaign_id", "status", "customer_id"),  # the next pending, in order, without a sort
    sa.Index(None, "message_id"),
)

# Product feedback (hub/outreach/feedback.py): a customer's message an agent or a rule
# marked, with the product and theme it is about, for the R&D view. One mark per message;
# marking again changes product and theme. ``channel`` and ``message_at`` (when the
# customer wrote it) are the message's, for the view's filters; its conversation and
# customer are read from the message (a merge moves them).
feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("message_id", sa.String(36), sa.ForeignKey("messages.id"), primary_key=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("product", sa.String(100), nullable=False),
    sa.Column("theme", sa.String(100), nullable=False),
    sa.Column("marked_by", sa.String(200), nullable=False),
    sa.Column("message_at", TS, nullable=False),
    sa.Column("marked_at", TS, nullable=False),
    sa.Index(None, "message_at"),
    sa.Index(None, "product", "message_at"),
)
