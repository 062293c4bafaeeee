"""During a database outage every HTTP call that needs the store answers 503 with
Retry-After, never 500: an API token not in the cache, a console session, a console read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.keys import TOKENS
from tests.conftest import HubClient, drop_backend, make_settings, require_services, running_hub, sign_in_all
from tests.pgproxy import PgProxy


@pytest.fixture
async def proxied(tmp_path: Path) -> AsyncIterator[tuple[HubClient, PgProxy]]:
    require_services()
    proxy = PgProxy()
    await proxy.start()
    settings = make_settings(tmp_path, "scaleout", **{"database.url": proxy.url()})
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
    calls = [
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
