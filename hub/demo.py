"""Demo data: agents in every department, customers across tiers (one a key account
with its manager, contracts, payment terms and revenue; one who consented to offers, so
sales and marketing can start a conversation under the contact policy), routing rules that show tier
routing at work, an API token, and a Twilio account for ``contacthub simulate``.
Idempotent.

First run creates everything and writes the generated credentials to
``var/demo-credentials.json`` (mode 600); later runs add nothing and print the same file.
The Twilio account is a made-up one, saved as the ``twilio`` connector section (as the
admin pages save it) only where Twilio is not configured yet; its replies go to
``contacthub simulate phone``, never to Twilio.
"""

from __future__ import annotations

import json
import os
import secrets
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import SecretStr

from connectors.lib.twilio.settings import TwilioAccount, TwilioSettings
from hub.auth.sessions import hash_password
from hub.channel_settings import load_saved, save
from hub.customers import contracts
from hub.customers.records import CustomerRecords
from hub.customers.tiers import TierRules
from hub.dispatch.rules_config import RoutingConfig
from hub.settings import Settings
from hub.store.engine import Store
from hub.store.tables import agents, identities, routing_rules, widget_sites
from hub.tokens import TokenService

# email, name, role, languages, departments, teams
AGENTS = [
    ("katrin.vogel@demo.contacthub", "Katrin Vogel", "agent", ["de", "en"], ["service", "sales"], ["vip"]),
    ("anna.schmidt@demo.contacthub", "Anna Schmidt", "agent", ["de", "en"], ["service"], []),
    ("ben.miller@demo.contacthub", "Ben Miller", "agent", ["en", "de"], ["sales"], []),
    ("mia.becker@demo.contacthub", "Mia Becker", "agent", ["de"], ["marketing"], []),
    ("tom.fischer@demo.contacthub", "Tom Fischer", "agent", ["de", "en"], ["rnd"], []),
    ("sofia.weber@demo.contacthub", "Sofia Weber", "supervisor", ["de", "en"], ["service", "sales"], ["vip"]),
    ("admin@demo.contacthub", "Demo Admin", "admin", ["de", "en"], [], []),
]
KEY_ACCOUNT_MANAGER = "katrin.vogel@demo.contacthub"
CUSTOMERS: list[dict[str, Any]] = [
    {
        "fields": {
            "name": "Jürgen Müller",
            "organisation": "Müller Maschinenbau GmbH",
            "key_account": True,
            "language": "de",
            "payment_terms": "30 Tage netto, 2 % Skonto binnen 10 Tagen",
            "revenue": {"revenue_12m": {"amount": 250000, "currency": "EUR"}},
        },
        # (name, days from today to its start and end, notice days, value per interval, interval)
        "contracts": [
            ("Wartungsvertrag Wärmepumpen", -245, 120, 90, 1450.0, "month"),
            ("Rahmenvertrag Strom", -700, 760, 180, 198000.0, "year"),
        ],
        "identities": [("email", "einkauf@mueller-maschinenbau.example"), ("phone", "+4989123456")],
    },
    {
        "fields": {
            "name": "Grace Harbour",
            "organisation": "Harbour Logistics Ltd",
            "language": "en",
            "revenue": {"revenue_12m": {"amount": 42000, "currency": "GBP"}},
            "time_zone": "Europe/London",
        },
        "identities": [("email", "ops@harbour-logistics.example"), ("fax", "+442071234567")],
    },
    {
        "fields": {
            "name": "Erika Mustermann",
            "language": "de",
            "revenue": {"revenue_12m": {"amount": 300, "currency": "EUR"}},
        },
        "identities": [("email", "erika@example.com"), ("phone", "+491711234567")],
        # (channel, purpose): she signed up for offers; marketing may write to her
        "consents": [("email", "marketing"), ("sms", "marketing")],
    },
]
DEMO_NUMBER = "+494012345678"  # Nordlicht Energie's number, in Hamburg

# Tier routing at a glance: platinum and gold customers wait on the VIP queue with a
# shorter promise; keywords send a conversation to sales, R&D or marketing; everyone else
# is served by service within the standard promise, and ageing priority (the share of
# the promise used up) keeps them from waiting behind every newer VIP.
DEMO_RULES = """\
queues:
  vip: {hours: always, reservation_timeout: 30}
  sales: {hours: always}
  rnd: {hours: always}
  marketing: {hours: always}
  service: {hours: always}
sla:
  platinum: {default: 120, email: {first_response: 3600, next_response: 7200}}
  gold: {default: 600, email: {first_response: 14400, next_response: 28800}}
  standard: {default: 3600, email: 86400}
rules:
  - name: platinum and gold customers
    when: customer.tier in ["platinum", "gold"]
    actions: {tag: vip}
    targets:
      - {queue: vip, agents: '"vip" in teams', timeout: 120, priority: 20}
      - {queue: service}
  - name: offers and contracts to sales
    when: text =~~ "(?i)angebot|vertrag|tarif|offer|quote|contract" or subject =~~ "(?i)angebot|offer"
    actions: {set_department: sales, tag: sales_lead}
    targets:
      - {queue: sales, agents: '"sales" in departments', timeout: 300}
      - {queue: service}
  - name: product ideas to R&D
    when: text =~~ "(?i)idee|vorschlag|verbesser|idea|suggest|feature"
    actions: {set_department: rnd, tag: product_feedback}
    targets:
      - {queue: rnd, agents: '"rnd" in departments', timeout: 600}
      - {queue: service}
  - name: campaigns to marketing
    when: text =~~ "(?i)newsletter|gutschein|aktion|coupon|campaign"
    actions: {set_department: marketing, tag: marketing}
    targets:
      - {queue: marketing, agents: '"marketing" in departments', timeout: 600}
      - {queue: service}
  - name: everyone else
    actions: {set_department: service}
    targets:
      - {queue: service, agents: '"service" in departments'}
"""
# The tour `contacthub demo` prints: who texts what, and the queue it lands on.
TOUR = [
    ("+4989123456", "Die Wärmepumpe in Halle 2 ist ausgefallen.", "Jürgen Müller, platinum", "vip"),
    ("+491711234567", "Meine Abschlagszahlung ist zu hoch.", "Erika Mustermann, standard", "service"),
    ("+4915112345678", "Bitte ein Angebot für Ökostrom.", "a new number, standard, keyword", "sales"),
]
DEMO_ACTOR = "system:demo"
CAPACITY = {"voice": 1, "chat": 3, "sms": 5, "whatsapp": 5, "email": 8, "fax": 4, "api": 8}


DEMO_SITE = {
    "name": "Nordlicht Energie",
    "settings": {
        "colors": {"primary": "#0a5c4a", "on_primary": "#ffffff"},
        "greeting": {
            "de": "Moin! Fragen zu Tarif, Wärmepumpe oder Rechnung? Wir sind für Sie da.",
            "en": "Hello! Questions about tariffs, heat pumps or your bill? We're here to help.",
        },
        "languages": ["de", "en"],
        "departments": [
            {"id": "service", "label": {"de": "Kundenservice", "en": "Customer service"}},
            {"id": "sales", "label": {"de": "Neuer Vertrag", "en": "New contract"}},
        ],
        "prechat": {"name": "required", "email": "optional", "phone": "off"},
    },
}


async def seed_demo(
    store: Store,
    records: CustomerRecords,
    credentials_file: Path,
    site_key: str | None = None,
    origins: list[str] | None = None,
) -> dict[str, Any]:
    """Seed the demo data once; return the credentials to show the user. With
    ``site_key``, the demo website's widget site too, open to ``origins``."""
    existing: dict[str, Any] = {}
    if credentials_file.exists():
        existing = json.loads(credentials_file.read_text())
    now = datetime.now(UTC)
    creds: dict[str, Any] = {"agents": existing.get("agents", {}), "api_token": existing.get("api_token")}
    async with store.write() as conn:
        for email, name, role, languages, departments, teams in AGENTS:
            found = await conn.scalar(sa.select(agents.c.id).where(agents.c.email == email))
            if found is not None:
                continue
            password = secrets.token_urlsafe(9)
            await conn.execute(
                sa.insert(agents).values(
                    id=str(uuid.uuid4()),
                    email=email,
                    name=name,
                    role=role,
                    password_hash=hash_password(password),
                    presence="offline",
                    languages=languages,
                    departments=departments,
                    teams=teams,
                    capacity=CAPACITY,
                    active=True,
                    created_at=now,
                )
            )
            creds["agents"][email] = {"role": role, "password": password}
        for customer in CUSTOMERS:
            kind, value = customer["identities"][0]
            found = await conn.scalar(
                sa.select(identities.c.customer_id).where(
                    identities.c.kind == kind, identities.c.value == value
                )
            )
            if found is None:  # tiers follow from the rules, as for any customer
                fields = dict(customer["fields"])
                if fields.get("key_account"):
                    fields["key_account_manager_id"] = await conn.scalar(
                        sa.select(agents.c.id).where(agents.c.email == KEY_ACCOUNT_MANAGER)
                    )
                customer_id = await records.create(conn, fields, customer["identities"], "system:demo")
                for channel, purpose in customer.get("consents", ()):
                    await records.set_consent(
                        conn, customer_id, channel, purpose, True, "demo: newsletter form", "system:demo"
                    )
                for name, starts, ends, notice, value, interval in customer.get("contracts", ()):
                    await contracts.add(
                        conn,
                        customer_id,
                        {
                            "name": name,
                            "starts_on": now.date() + timedelta(days=starts),
                            "ends_on": now.date() + timedelta(days=ends),
                            "notice_days": notice,
                            "value": value,
                            "currency": "EUR",
                            "billing_interval": interval,
                            "status": "active",
                        },
                        "system:demo",
                        now,
                    )
        if (
            site_key
            and await conn.scalar(sa.select(widget_sites.c.key).where(widget_sites.c.key == site_key)) is None
        ):
            await conn.execute(
                sa.insert(widget_sites).values(
                    key=site_key,
                    secret=secrets.token_hex(32),
                    allowed_origins=sorted(set(origins or [])),
                    active=True,
                    created_at=now,
                    updated_at=now,
                    **DEMO_SITE,
                )
            )
    if creds["api_token"] is None:
        _, creds["api_token"] = await TokenService(store).create("demo", ["ingest"])
    credentials_file.parent.mkdir(parents=True, exist_ok=True)
    credentials_file.write_text(json.dumps(creds, indent=2))
    os.chmod(credentials_file, 0o600)
    return creds


async def seed_demo_rules(store: Store, tiers: TierRules, rules_file: Path) -> bool:
    """The demo's routing rules as version 1, where no rules were saved yet and no rules
    file says otherwise; True if they are in force."""
    async with store.read() as conn:
        saved = await conn.scalars(sa.select(routing_rules.c.author).order_by(routing_rules.c.version))
        authors: list[str] = list(saved)
    if authors:
        return authors[-1] == DEMO_ACTOR
    if rules_file.exists():
        return False
    await RoutingConfig(store, tiers, rules_file).save(DEMO_RULES, DEMO_ACTOR, "demo rules")
    return True


async def seed_demo_twilio(
    store: Store, settings: Settings, locked: Mapping[str, str], public_url: str, phone_url: str
) -> TwilioSettings | None:
    """The demo's Twilio account (saved on the first run), or None where Twilio is set
    up otherwise: in the settings file, by the environment, or in the admin pages."""
    saved = (await load_saved(store)).get("twilio")
    if saved is not None:
        return TwilioSettings.model_validate(saved["data"]) if saved["updated_by"] == DEMO_ACTOR else None
    if "twilio" in settings.connectors.model_fields_set or "twilio" in locked:
        return None
    account = TwilioAccount(
        account_sid="AC" + secrets.token_hex(16),
        auth_token=SecretStr(secrets.token_urlsafe(24)),
        numbers=[DEMO_NUMBER],
    )
    section = TwilioSettings(enabled=True, public_url=public_url, api_base=phone_url, accounts=[account])
    await save(store, "twilio", section, DEMO_ACTOR, locked)
    return section
