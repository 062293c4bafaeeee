"""The API behind the admin pages, on both backends: draft validation with positions,
version diffs, API tokens, invitation links, connector settings with write-only secrets,
and the import's progress lines."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from hub.channel_settings import KEEP, env_locked, merge, overlay
from hub.errors import Conflict
from hub.keys import ROUTING, STORE
from hub.settings import Settings, load_settings
from hub.store.tables import channel_settings
from hub.web.middleware import SPEC
from tests.conftest import HubClient, sign_in, sign_in_all
from tests.waits import eventually

GOOD = """
queues:
  service: {hours: always}
  vip: {hours: always}
rules:
  - name: platinum sms
    when: customer.tier == "platinum" and channel == "sms"
    targets:
      - {queue: vip}
  - name: everyone
    targets:
      - {queue: service}
"""
AUTH_TOKEN = "f00dfeedcafe" * 2 + "0123abcd"
CTI_TOKEN = "pbx-secret-" + "7" * 24


@pytest.fixture
async def roles(hub: HubClient) -> dict[str, dict[str, str]]:
    return await sign_in_all(hub)


async def test_a_draft_is_checked_without_saving_and_errors_carry_path_and_position(
    hub: HubClient, roles
) -> None:
    admin = roles["admin"]
    live = hub.app[ROUTING].version
    broken = GOOD.replace('channel == "sms"', 'channel = "sms"')
    resp = await hub.client.post(
        "/api/v1/routing/rules/validate", data=broken, headers={**admin, "Content-Type": "application/yaml"}
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["valid"] is False
    (error,) = body["errors"]
    expression = 'customer.tier == "platinum" and channel = "sms"'
    assert error["field"] == "rules[0].when"
    assert expression[error["position"] :].startswith('= "sms"'), error
    assert hub.app[ROUTING].version == live, "a check saves nothing"
    # saving it is refused the same way, and the live rules stay
    resp = await hub.client.put(
        "/api/v1/routing/rules", data=broken, headers={**admin, "Content-Type": "application/yaml"}
    )
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["field"] == "rules[0].when"
    assert hub.app[ROUTING].version == live
    # a valid draft, sent as JSON like the editor does: valid, with a diff against the live rules
    doc = {
        "queues": {"service": {"hours": "always"}},
        "rules": [{"name": "all", "targets": [{"queue": "service"}]}],
    }
    resp = await hub.client.post("/api/v1/routing/rules/validate", json=doc, headers=admin)
    body = await resp.json()
    assert body["valid"] is True and body["errors"] == []
    assert "+- name: all" in body["diff"] and body["diff"].startswith("---")


async def test_an_unknown_queue_and_a_missing_condition_name_their_place(hub: HubClient, roles) -> None:
    doc: dict[str, Any] = {
        "queues": {"service": {}},
        "rules": [
            {"name": "a", "when": 'channel == "sms"', "targets": [{"queue": "service"}, {"queue": "nope"}]},
            {"name": "b", "targets": [{"queue": "service"}]},
        ],
    }
    resp = await hub.client.post("/api/v1/routing/rules/validate", json=doc, headers=roles["admin"])
    assert (await resp.json())["errors"][0]["field"] == "rules[0].targets[1].queue"
    doc["rules"][0]["targets"].pop()
    doc["rules"].insert(0, {"name": "c", "targets": [{"queue": "service"}]})
    resp = await hub.client.post("/api/v1/routing/rules/validate", json=doc, headers=roles["admin"])
    assert (await resp.json())["errors"][0]["field"] == "rules[0].when"


async def test_each_version_shows_what_it_changed(hub: HubClient, roles) -> None:
    admin = {**roles["admin"], "Content-Type": "application/yaml"}
    resp = await hub.client.put(
        "/api/v1/routing/rules?comment=VIP%20f%C3%BCr%20SMS", data=GOOD, headers=admin
    )
    version = (await resp.json())["version"]
    resp = await hub.client.get(f"/api/v1/routing/rules/versions/{version}", headers=roles["supervisor"])
    body = await resp.json()
    assert body["version"] == version and "platinum sms" in body["text"]
    assert any(line.startswith("+") and "vip" in line for line in body["diff"].splitlines())
    versions = (await (await hub.client.get("/api/v1/routing/rules/versions", headers=admin)).json())["items"]
    assert versions[0]["comment"] == "VIP für SMS" and versions[0]["author"].startswith("agent:")
    assert (await hub.client.get("/api/v1/routing/rules/versions/999", headers=admin)).status == 404
    assert (await hub.client.get("/api/v1/routing/rules/versions/x", headers=admin)).status == 400


async def test_api_tokens_are_shown_once_record_their_use_and_can_be_revoked(hub: HubClient, roles) -> None:
    admin = roles["admin"]
    resp = await hub.client.post("/api/v1/tokens", json={"name": "shop", "scopes": ["ingest"]}, headers=admin)
    assert resp.status == 201
    made = await resp.json()
    assert made["scopes"] == ["ingest"]
    assert made["token"].startswith("cht_")
    listed = await (await hub.client.get("/api/v1/tokens", headers=admin)).text()
    assert made["token"] not in listed and "token_hash" not in listed
    shop = next(t for t in orjson.loads(listed)["items"] if t["id"] == made["id"])
    assert shop["last_used_at"] is None and shop["revoked_at"] is None
    bearer = {"Authorization": f"Bearer {made['token']}"}
    message = {"external_id": "tok-1", "sender": {"kind": "email", "value": "a@b.example"}, "text": "hi"}
    assert (await hub.client.post("/api/v1/messages", json=message, headers=bearer)).status == 202
    items = (await (await hub.client.get("/api/v1/tokens", headers=admin)).json())["items"]
    assert next(t for t in items if t["id"] == made["id"])["last_used_at"] is not None
    assert (await hub.client.delete(f"/api/v1/tokens/{made['id']}", headers=admin)).status == 204
    assert (await hub.client.post("/api/v1/messages", json=message, headers=bearer)).status == 401
    assert (await hub.client.delete(f"/api/v1/tokens/{made['id']}", headers=admin)).status == 404
    for scopes in (["everything"], [], "ingest"):
        resp = await hub.client.post("/api/v1/tokens", json={"name": "x", "scopes": scopes}, headers=admin)
        assert resp.status == 422 and (await resp.json())["field"].startswith("scopes"), scopes


async def test_a_token_reaches_only_the_routes_of_its_scopes(hub: HubClient, roles) -> None:
    admin = roles["admin"]

    async def token(*scopes: str) -> dict[str, str]:
        resp = await hub.client.post(
            "/api/v1/tokens", json={"name": "t", "scopes": list(scopes)}, headers=admin
        )
        made = await resp.json()
        assert made["scopes"] == list(scopes)
        return {"Authorization": f"Bearer {made['token']}"}

    ingest, contracts, both = (
        await token("ingest"),
        await token("contracts:write"),
        await token("ingest", "contracts:write"),
    )
    message = {"external_id": "scoped-1", "sender": {"kind": "email", "value": "a@b.example"}, "text": "hi"}
    upsert = {"items": [{"external_ref": "x-1", "customer_id": "nobody", "name": "Plan"}]}
    resp = await hub.client.put("/api/v1/contracts", json=upsert, headers=ingest)
    assert resp.status == 403 and "contracts:write" in (await resp.json())["detail"]
    assert (await hub.client.post("/api/v1/messages", json=message, headers=contracts)).status == 403
    assert (await hub.client.put("/api/v1/contracts", json=upsert, headers=contracts)).status == 200
    assert (await hub.client.post("/api/v1/messages", json=message, headers=both)).status == 202
    assert (await hub.client.put("/api/v1/contracts", json=upsert, headers=both)).status == 200
    listed = (await (await hub.client.get("/api/v1/tokens", headers=admin)).json())["items"]
    mine = sorted(tuple(t["scopes"]) for t in listed if t["name"] == "t")
    assert mine == [("contracts:write",), ("ingest",), ("ingest", "contracts:write")]


async def test_an_invited_agent_sets_a_password_once_and_signs_in(hub: HubClient, roles) -> None:
    admin = roles["admin"]
    resp = await hub.client.post(
        "/api/v1/agents",
        json={"email": "neu@test.example", "name": "Neu", "languages": ["de"], "capacity": {"chat": 2}},
        headers=admin,
    )
    assert resp.status == 201, await resp.text()
    agent = await resp.json()
    nope = await hub.client.post(
        "/api/v1/auth/login", json={"email": "neu@test.example", "password": "x" * 12}
    )
    assert nope.status == 401, "no password until the invitation is used"
    first = await (await hub.client.post(f"/api/v1/agents/{agent['id']}/invitation", headers=admin)).json()
    second = await (await hub.client.post(f"/api/v1/agents/{agent['id']}/invitation", headers=admin)).json()
    old_token, token = first["url"].split("#")[1], second["url"].split("#")[1]
    assert second["url"].split("#")[0].endswith("/invite/")
    resp = await hub.client.post("/api/v1/auth/invitation", json={"token": old_token, "password": "x" * 12})
    assert resp.status == 404, "a new link voids the older one"
    resp = await hub.client.post("/api/v1/auth/invitation", json={"token": token, "password": "short"})
    assert resp.status == 422
    resp = await hub.client.post(
        "/api/v1/auth/invitation", json={"token": token, "password": "Sommer-2026-neu"}
    )
    assert resp.status == 200 and (await resp.json())["email"] == "neu@test.example"
    resp = await hub.client.post(
        "/api/v1/auth/invitation", json={"token": token, "password": "Sommer-2026-neu"}
    )
    assert resp.status == 404, "a link works once"
    session = await sign_in(hub, "neu@test.example", "Sommer-2026-neu")
    me = await (await hub.client.get("/api/v1/me", headers=session)).json()
    assert me["role"] == "agent"


async def test_connector_secrets_are_write_only(hub: HubClient, roles) -> None:
    admin = roles["admin"]
    base = "/api/v1/channels/twilio/settings"
    view = await (await hub.client.get(base, headers=admin)).json()
    assert view["values"]["enabled"] is False and view["saved"] is None
    assert view["schema"]["$defs"]["TwilioAccount"]["properties"]["auth_token"]["writeOnly"] is True
    sid = "AC" + "a1" * 16
    values = {**view["values"], "enabled": True, "accounts": [{"account_sid": sid, "auth_token": AUTH_TOKEN}]}
    resp = await hub.client.put(base, json=values, headers=admin)
    assert resp.status == 200, await resp.text()
    saved = await resp.json()
    assert AUTH_TOKEN not in orjson.dumps(saved).decode()
    assert saved["values"]["accounts"][0]["auth_token"] == {"$secret": "set"}
    assert saved["restart_needed"] is True, "this process still runs without the account"
    # sending the placeholder back keeps the secret; a changed field is saved
    saved["values"]["help_reply"] = "Antworten Sie STOP."
    resp = await hub.client.put(base, json=saved["values"], headers=admin)
    assert resp.status == 200
    async with hub.app[STORE].read() as conn:
        data = await conn.scalar(
            sa.select(channel_settings.c.data).where(channel_settings.c.name == "twilio")
        )
    assert data["accounts"][0]["auth_token"] == AUTH_TOKEN and data["help_reply"] == "Antworten Sie STOP."
    # invalid input names the field and saves nothing
    bad = {**saved["values"], "accounts": [{"account_sid": "nope", "auth_token": {"$secret": "set"}}]}
    resp = await hub.client.put(base, json=bad, headers=admin)
    assert resp.status == 422 and (await resp.json())["field"] == "accounts.0.account_sid"
    resp = await hub.client.put(
        "/api/v1/channels/cti/settings", json={"enabled": True, "token": CTI_TOKEN}, headers=admin
    )
    assert resp.status == 200
    assert (await hub.client.get("/api/v1/channels/nope/settings", headers=admin)).status == 404
    # no admin response shows either secret: every GET route an admin may call
    served = [
        (r.resource.canonical, spec)
        for r, spec in hub.app[SPEC].items()
        if r.method == "GET" and spec.access in ("admin", "supervisor", "agent", "public")
    ]
    for path, _spec in served:
        for concrete in _examples(path):
            resp = await hub.client.get(concrete, headers=admin)
            text = (await resp.read()).decode("utf-8", "replace")
            assert AUTH_TOKEN not in text and CTI_TOKEN not in text, f"GET {concrete} shows a secret"
    for page in ("/admin/", "/admin/js/channels.js", "/admin/js/app.js"):
        text = await (await hub.client.get(page)).text()
        assert AUTH_TOKEN not in text and CTI_TOKEN not in text


def _examples(path: str) -> list[str]:
    """Concrete paths for a route template: every settings section, else one example."""
    if "{name}" in path:
        return [path.replace("{name}", n) for n in ("twilio", "cti", "email", "api", "chat")]
    return [
        path.replace("{path}", "js/app.js")
        .replace("{id}", "00000000-0000-0000-0000-000000000000")
        .replace("{version}", "1")
        .replace("{key}", "some-site")
        .replace("{site}", "s")
        .replace("{sha256}", "0" * 64)
        .replace("{name}", "x")
        .replace("{identity_id}", "1")
        .replace("{message_id}", "1")
    ]


async def test_saved_sections_apply_at_start_but_the_environment_wins(tmp_path) -> None:
    settings = load_settings(None, environ={})
    twilio = merge(
        "twilio",
        {"enabled": True, "accounts": [{"account_sid": "AC" + "b2" * 16, "auth_token": AUTH_TOKEN}]},
        settings.connectors.twilio,
    )
    from hub.channel_settings import revealed

    saved = {"twilio": revealed(twilio), "cti": {"enabled": True, "token": CTI_TOKEN}}
    applied = overlay(settings, saved, {})
    assert applied.connectors.twilio.enabled is True
    assert applied.connectors.twilio.accounts[0].auth_token.get_secret_value() == AUTH_TOKEN
    locked = env_locked({"CONTACTHUB_CONNECTORS__CTI__ENABLED": "false", "CONTACTHUB_SERVER__PORT": "1"})
    assert locked == {"cti": "CONTACTHUB_CONNECTORS__CTI__ENABLED"}
    assert overlay(settings, saved, locked).connectors.cti.enabled is False
    # the placeholder for an account that had no secret is not a secret
    with pytest.raises(Exception, match="auth_token"):
        merge(
            "twilio",
            {"accounts": [{"account_sid": "AC" + "c3" * 16, "auth_token": dict(KEEP_MARK)}]},
            settings.connectors.twilio,
        )


KEEP_MARK = {"$secret": KEEP}


async def test_the_import_reports_progress_then_the_rows(hub: HubClient, roles) -> None:
    rows = (
        ["name,email"] + [f"Kunde {n},kunde{n}@import.example" for n in range(1200)] + ["Ohne,not-an-email"]
    )
    resp = await hub.client.post(
        "/api/v1/customers/import",
        data="\n".join(rows).encode(),
        headers={**roles["admin"], "Content-Type": "text/csv", "Accept": "application/x-ndjson"},
    )
    assert resp.status == 200 and resp.content_type == "application/x-ndjson"
    lines = [orjson.loads(line) for line in (await resp.read()).splitlines() if line]
    progress = [line for line in lines if "done" in line]
    assert progress and progress[-1]["done"] == progress[-1]["total"] == 1201
    assert [p["done"] for p in progress] == sorted(p["done"] for p in progress)
    report = lines[-1]["report"]
    assert report["created"] == 1200 and report["rejected_count"] == 1
    assert report["rejected"][0]["line"] == 1202 and "email" in str(report["rejected"][0]["reason"])


async def test_tiers_are_edited_checked_against_the_rules_and_customers_re_tiered(
    hub: HubClient, roles
) -> None:
    from hub.keys import RECORDS, TIERS
    from hub.store.tables import customers

    admin = roles["admin"]
    async with hub.app[STORE].write() as conn:
        big = await hub.app[RECORDS].create(
            conn,
            {"name": "Groß", "revenue": {"revenue_12m": {"amount": 50000, "currency": "EUR"}}},
            [],
            "test",
        )
    assert (await (await hub.client.get(f"/api/v1/customers/{big}", headers=admin)).json())["tier"] == "gold"
    tiers = {
        "tiers": [
            {"name": "platinum", "when": "key_account or revenue_12m >= 40000", "priority": 100},
            {"name": "gold", "when": "revenue_12m >= 10000", "priority": 50},
            {"name": "standard", "priority": 10},
        ]
    }
    broken = {"tiers": [{**tiers["tiers"][0], "when": "revenue_12m >>= 1"}, *tiers["tiers"][1:]]}
    verdict = await (await hub.client.post("/api/v1/tiers/validate", json=broken, headers=admin)).json()
    assert verdict["valid"] is False and verdict["errors"][0]["field"] == "tiers[0].when"
    assert verdict["errors"][0]["position"] is not None
    resp = await hub.client.put("/api/v1/tiers", json=broken, headers=admin)
    assert resp.status == 422 and hub.app[TIERS].version == 0
    resp = await hub.client.put("/api/v1/tiers", json=tiers, headers=admin)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["version"] == 1

    async def retiered() -> Any:  # in the background
        body = await (await hub.client.get("/api/v1/tiers", headers=roles["supervisor"])).json()
        return None if body["retier"]["running"] else body

    body = await eventually(retiered, what="the re-tiering to end")
    assert body["retier"]["changed"] == 1 and body["version"] == 1
    async with hub.app[STORE].read() as conn:
        assert await conn.scalar(sa.select(customers.c.tier).where(customers.c.id == big)) == "platinum"
    # the routing rules' SLA targets name tiers: one that is in use cannot disappear
    rules = "\n".join(
        [
            "queues: {service: {}}",
            "sla: {gold: {default: 60}}",
            "rules: [{name: all, targets: [{queue: service}]}]",
        ]
    )
    resp = await hub.client.put(
        "/api/v1/routing/rules", data=rules, headers={**admin, "Content-Type": "application/yaml"}
    )
    assert resp.status == 200
    no_gold = {"tiers": [tiers["tiers"][0], tiers["tiers"][2]]}
    resp = await hub.client.put("/api/v1/tiers", json=no_gold, headers=admin)
    assert resp.status == 422 and "routing rules in force" in (await resp.json())["detail"]
    assert hub.app[RECORDS].tiers.names == ["platinum", "gold", "standard"]


async def test_another_process_adopts_saved_tiers(hub: HubClient, roles, tmp_path) -> None:
    """What a second hub process on the same database does in its watch loop."""
    from hub.customers.records import CustomerRecords
    from hub.customers.tier_config import TierConfig
    from hub.customers.tiers import load_tier_rules
    from hub.dispatch.rules_config import RoutingConfig

    store = hub.app[STORE]
    other = CustomerRecords(load_tier_rules(tmp_path / "none.yaml"), "DE")
    other_tiers = TierConfig(store, tmp_path / "none.yaml", other)
    await other_tiers.load()
    routing = RoutingConfig(store, other.tiers, tmp_path / "none.yaml")
    await routing.load()
    other_tiers.attach(routing)
    tiers = {
        "tiers": [
            {"name": "vip", "when": "key_account", "priority": 90},
            {"name": "standard", "priority": 10},
        ]
    }
    assert (await hub.client.put("/api/v1/tiers", json=tiers, headers=roles["admin"])).status == 200
    assert other.tiers.names == ["platinum", "gold", "standard"]
    await other_tiers.refresh()
    assert other.tiers.names == ["vip", "standard"] and routing.rules.tier_priority["vip"] == 90


async def test_a_saved_tier_version_that_no_longer_fits_is_passed_over_and_said_once(
    hub: HubClient, roles, caplog: pytest.LogCaptureFixture
) -> None:
    """Tiers saved before the routing rules named a tier they lack (here: written straight
    into the table): the watch loop keeps the newest version that fits, and says once why
    the newer one is not in force, not on every reload."""
    from datetime import UTC, datetime

    from hub.keys import TIERS
    from hub.store.tables import tier_rules

    admin = roles["admin"]
    fits = {
        "tiers": [
            {"name": "platinum", "when": "key_account", "priority": 90},
            {"name": "gold", "when": "revenue_12m >= 10000", "priority": 50},
            {"name": "standard", "priority": 10},
        ]
    }
    resp = await hub.client.put("/api/v1/tiers", json=fits, headers=admin)
    assert resp.status == 200, await resp.text()
    rules = "\n".join(
        [
            "queues: {service: {}}",
            "sla: {gold: {default: 60}}",
            "rules: [{name: all, targets: [{queue: service}]}]",
        ]
    )
    resp = await hub.client.put(
        "/api/v1/routing/rules", data=rules, headers={**admin, "Content-Type": "application/yaml"}
    )
    assert resp.status == 200
    async with hub.app[STORE].write() as conn:
        await conn.execute(
            sa.insert(tier_rules).values(
                version=2,
                text="tiers: [{name: standard, priority: 10}]\n",
                author="test",
                created_at=datetime.now(UTC),
            )
        )
    config = hub.app[TIERS]
    for _ in range(3):
        await config.refresh()
    assert config.version == 1 and config.tiers.names == ["platinum", "gold", "standard"]
    said = [r for r in caplog.records if "tier rules version 2" in r.getMessage()]
    assert len(said) == 1 and "passed over" in said[0].getMessage()


async def test_a_process_starting_after_the_save_runs_on_the_saved_settings(hub: HubClient, roles) -> None:
    from hub.channel_settings import with_saved_sections
    from hub.keys import SETTINGS

    body = {"enabled": True, "token": CTI_TOKEN, "blocked_numbers": ["+4930111"]}
    assert (
        await hub.client.put("/api/v1/channels/cti/settings", json=body, headers=roles["admin"])
    ).status == 200
    settings = hub.app[SETTINGS]
    started = await asyncio.get_running_loop().run_in_executor(None, with_saved_sections, settings, {})
    assert started.connectors.cti.enabled is True and started.connectors.cti.blocked_numbers == ["+4930111"]
    assert (
        started.connectors.cti.token is not None
        and started.connectors.cti.token.get_secret_value() == CTI_TOKEN
    )
    env = {"CONTACTHUB_CONNECTORS__CTI__ENABLED": "false"}
    locked = await asyncio.get_running_loop().run_in_executor(None, with_saved_sections, settings, env)
    assert locked.connectors.cti == settings.connectors.cti, "the environment's section stays"


def test_a_saved_section_that_no_longer_validates_does_not_stop_the_start(caplog) -> None:
    settings = load_settings(None, environ={})
    applied = overlay(settings, {"cti": {"enabled": True, "gone_field": 1}, "nope": {}}, {})
    assert applied.connectors.cti == settings.connectors.cti
    assert "[connectors.cti] saved in /admin/ is invalid" in caplog.text


def test_a_kept_secret_follows_its_account_not_its_position() -> None:
    settings = load_settings(None, environ={})
    first, second = "AC" + "d4" * 16, "AC" + "e5" * 16
    two = merge(
        "twilio",
        {
            "accounts": [
                {"account_sid": first, "auth_token": "token-one"},
                {"account_sid": second, "auth_token": "token-two"},
            ]
        },
        settings.connectors.twilio,
    )
    keep = {"$secret": KEEP}
    moved = merge("twilio", {"accounts": [{"account_sid": second, "auth_token": keep}]}, two)
    assert moved.accounts[0].auth_token.get_secret_value() == "token-two"  # type: ignore[attr-defined]
    with pytest.raises(Exception, match="auth_token"):  # a changed SID does not inherit a token
        merge("twilio", {"accounts": [{"account_sid": "AC" + "f6" * 16, "auth_token": keep}]}, two)


async def test_processes_starting_together_on_a_fresh_database_share_the_first_rules(
    settings: Settings, tmp_path
) -> None:
    """Regression: hub processes started at once on a new database each saved the rules
    as version 1; all but one stopped with a unique violation (seen in the fault test)."""
    from hub.customers.tiers import load_tier_rules
    from hub.dispatch.rules_config import RoutingConfig
    from hub.store.config_versions import ConfigVersions
    from hub.store.engine import Store
    from hub.store.tables import routing_rules

    store = Store(settings.database)
    try:
        tiers = load_tier_rules(tmp_path / "none.yaml")
        configs = [RoutingConfig(store, tiers, tmp_path / "none.yaml") for _ in range(4)]
        await asyncio.gather(*(config.load() for config in configs))
        assert {config.version for config in configs} == {1}
        assert [v.version for v in await ConfigVersions(store, routing_rules).listing()] == [1]
        versions = ConfigVersions(store, routing_rules)
        taken = [versions.append("x", "a", None, datetime.now(UTC)) for _ in range(3)]
        outcomes = await asyncio.gather(*taken, return_exceptions=True)
        refused = [o for o in outcomes if isinstance(o, Conflict)]
        assert all(isinstance(o, int) or isinstance(o, Conflict) for o in outcomes), outcomes
        assert all("routing rules version was saved at the same moment" in o.detail for o in refused)
    finally:
        await store.close()
