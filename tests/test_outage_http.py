"""During a database outage every HTTP call that needs the store answers 503 with
Retry-After, never 500: an API token not in the cache, a console session, a console read."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from hub.customers.records import CustomerRecords
from hub.customers.tier_config import TierConfig
from hub.customers.tiers import DEFAULT_TIERS, parse_tier_rules
from hub.dispatch.rules_config import RoutingConfig
from hub.errors import ConfigError
from hub.keys import TOKENS
from hub.store.engine import Store
from hub.transient import is_transient
from tests.conftest import HubClient, drop_backend, make_settings, require_services, running_hub, sign_in_all
from tests.pgproxy import PgProxy
from tests.waits import eventually


@pytest.fixture
async def proxied(tmp_path: Path) -> AsyncIterator[tuple[HubClient, PgProxy]]:
    require_services()
    proxy = PgProxy()
    await proxy.start()
    settings = make_settings(
        tmp_path, "scaleout", **{"database.url": proxy.url(), "reports.refresh_seconds": 0.2}
    )
    try:
        async with running_hub(settings) as hub:
            yield hub, proxy
            proxy.pass_through()
    finally:
        proxy.pass_through()
        await drop_backend(settings)
        await proxy.close()


@pytest.mark.parametrize("sqlstate", ["57P03", "57P01", "08006"])
async def test_an_outage_is_a_503_with_retry_after_everywhere(
    proxied: tuple[HubClient, PgProxy], sqlstate: str
) -> None:
    hub, proxy = proxied
    consoles = await sign_in_all(hub)
    _, fresh_token = await hub.app[TOKENS].create("not yet used")  # not in the token cache
    proxy.refuse(sqlstate)
    calls: list[Callable[[], Awaitable[Any]]] = [
        lambda: hub.client.post(
            "/api/v1/messages",
            json={"external_id": "x1", "from": {"kind": "email", "value": "a@example.com"}, "text": "t"},
            headers={"Authorization": f"Bearer {fresh_token}"},
        ),
        lambda: hub.client.get("/api/v1/me", headers=consoles["agent"]),
        lambda: hub.client.get("/api/v1/conversations", headers=consoles["supervisor"]),
        lambda: hub.client.get("/api/v1/customers", headers=consoles["admin"]),
    ]
    for call in calls:
        resp = await call()
        assert resp.status == 503, (resp.url, await resp.text())
        assert resp.headers["Retry-After"] == "5"
        problem = await resp.json()
        assert problem["type"].endswith("/unavailable")
        assert "retry later" in problem["detail"]


async def test_a_token_verified_before_still_takes_messages_during_an_outage(
    proxied: tuple[HubClient, PgProxy],
) -> None:
    """Nobody can revoke a token while the store is away: one this process verified keeps
    working past its cache time, and the messages wait in the queue."""
    hub, proxy = proxied
    tokens = hub.app[TOKENS]
    _, token = await tokens.create("crm")
    sender = {"kind": "email", "value": "a@example.com"}
    auth = {"Authorization": f"Bearer {token}"}
    first = await hub.client.post(
        "/api/v1/messages", json={"external_id": "t1", "from": sender, "text": "t"}, headers=auth
    )
    assert first.status == 202, await first.text()
    tokens._cache = {k: (info, 0.0) for k, (info, _until) in tokens._cache.items()}  # the cache time is over
    proxy.refuse("57P03")
    second = await hub.client.post(
        "/api/v1/messages", json={"external_id": "t2", "from": sender, "text": "t"}, headers=auth
    )
    assert second.status == 202, await second.text()


async def test_the_rules_and_tiers_watchers_say_an_outage_once(
    proxied: tuple[HubClient, PgProxy], caplog: pytest.LogCaptureFixture
) -> None:
    """The watchers re-read (and the report rollups refresh) every 0.2 s here: through many
    rounds of an outage, one warning each when it starts and one when it ends, and no
    traceback."""
    _hub, proxy = proxied
    caplog.set_level(logging.INFO)
    proxy.refuse("57P03")
    await eventually(lambda: proxy.refused >= 20, 30, "many rounds of the outage")
    proxy.pass_through()

    def said(name: str) -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == name and r.levelno >= logging.WARNING]

    await eventually(lambda: all(len(said(n)) == 2 for n in WATCHERS), 30, "each watcher to see the end")
    for name in WATCHERS:
        start, end = said(name)
        # the refresh may be cut mid-statement (a lost connection) rather than refused
        what = "retrying until it is back" if name == "contacthub.reports" else "starting up or shutting down"
        assert what in start.getMessage() and "back after" in end.getMessage()
        assert start.exc_info is None and end.exc_info is None


WATCHERS = ("contacthub.routing", "contacthub.tiers", "contacthub.reports")


async def test_a_start_during_an_outage_is_not_blamed_on_migrations(tmp_path: Path) -> None:
    """Loading the rules and tiers while PostgreSQL starts up fails as the outage it is, not
    as "run contacthub migrate first"."""
    require_services()
    proxy = PgProxy()
    await proxy.start()
    proxy.refuse("57P03")
    settings = make_settings(tmp_path, "scaleout", **{"database.url": proxy.url()})
    store = Store(settings.database)
    default = parse_tier_rules(DEFAULT_TIERS, "built-in tiers")
    try:
        routing = RoutingConfig(store, default, tmp_path / "routing.yaml")
        tiers = TierConfig(store, tmp_path / "tiers.yaml", CustomerRecords(default, "DE"))
        for load in (routing.load, tiers.load):
            with pytest.raises(Exception) as raised:
                await load()
            assert not isinstance(raised.value, ConfigError), raised.value
            assert is_transient(raised.value)
    finally:
        await store.close()
        await proxy.close()
