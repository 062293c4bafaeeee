"""Demo data: agents, customers across tiers, an API token, and a Twilio account for
``contacthub simulate``. Idempotent.

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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import SecretStr

from hub.auth.sessions import hash_password
from hub.channel_settings import load_saved, save
from hub.customers.records import CustomerRecords
from hub.settings import Settings, TwilioAccount, TwilioSettings
from hub.store.engine import Store
from hub.store.tables import agents, identities, widget_sites
from hub.tokens import TokenService

AGENTS = [
    ("anna.schmidt@demo.contacthub", "Anna Schmidt", "agent", ["de", "en"], ["service"]),
    ("ben.miller@demo.contacthub", "Ben Miller", "agent", ["en"], ["sales", "service"]),
    ("sofia.weber@demo.contacthub", "Sofia Weber", "supervisor", ["de", "en"], ["service", "sales"]),
    ("admin@demo.contacthub", "Demo Admin", "admin", ["de", "en"], []),
]
CUSTOMERS: list[dict[str, Any]] = [
    {
        "fields": {
            "name": "Jürgen Müller",
            "organisation": "Müller Maschinenbau GmbH",
            "key_account": True,
            "language": "de",
            "payment_terms": "30 Tage netto",
            "contracts": ["Wartung 2026"],
            "revenue": {"revenue_12m": {"amount": 250000, "currency": "EUR"}},
        },
        "identities": [("email", "einkauf@mueller-maschinenbau.example"), ("phone", "+4989123456")],
    },
    {
        "fields": {
            "name": "Grace Harbour",
            "organisation": "Harbour Logistics Ltd",
            "language": "en",
            "revenue": {"revenue_12m": {"amount": 42000, "currency": "GBP"}},
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
    },
]
DEMO_NUMBER = "+494012345678"  # Nordlicht Energie's number, in Hamburg
DEMO_ACTOR = "system:demo"
CAPACITY = {"voice": 1, "chat": 3, "sms": 5, "email": 8, "fax": 4, "api": 8}


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
        for email, name, role, languages, departments in AGENTS:
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
                await records.create(conn, customer["fields"], customer["identities"], "system:demo")
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
        _, creds["api_token"] = await TokenService(store).create("demo", "ingest")
    credentials_file.parent.mkdir(parents=True, exist_ok=True)
    credentials_file.write_text(json.dumps(creds, indent=2))
    os.chmod(credentials_file, 0o600)
    return creds


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
