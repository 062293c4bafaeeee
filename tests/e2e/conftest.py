"""Browser tests: the real hub (the production app factory, on a real port) and Debian's
Chromium driven by Playwright. Without Chromium or Playwright they skip, unless
``CI=true``: then they fail, because CI installs both.

One Chromium serves the whole run (starting it and Playwright's driver costs seconds);
each test gets contexts of its own (cookies, storage, permissions), closed after it. So
the browser outlives a test's event loop, the tests here and their async fixtures run
in the session's loop: each test module says ``pytestmark = E2E``, each async fixture
is declared with ``loop_scope="session"``."""

from __future__ import annotations

import inspect
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.conftest import drop_backend, make_settings

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
RULES = """
queues:
  service: {reservation_timeout: 60}
  vip: {reservation_timeout: 60}
sla:
  gold: {default: 300}
  standard: {default: 3600}
rules:
  - name: everyone
    targets:
      - {queue: service, agents: '"service" in departments'}
"""
PASSWORD = "correct horse battery"
E2E = pytest.mark.asyncio(loop_scope="session")
HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuses to run an async browser test outside the session's loop: it would wait
    forever on the shared browser, which belongs to another loop."""
    stray = [
        item.nodeid
        for item in items
        if item.path.is_relative_to(HERE)
        and inspect.iscoroutinefunction(getattr(item, "obj", None))
        and (mark := item.get_closest_marker("asyncio")) is not None
        and mark.kwargs.get("loop_scope") != "session"
    ]
    if stray:
        raise pytest.UsageError(f"browser tests without `pytestmark = E2E`: {', '.join(stray)}")


def _need_browser() -> None:
    missing = []
    if shutil.which(CHROMIUM) is None:
        missing.append("Debian's chromium")
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing.append("playwright")
    if missing:
        reason = f"{' and '.join(missing)} not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; make test installs them (scripts/system-packages.sh)")
        pytest.skip(reason)


@dataclass
class Replies:
    """A stand-in integration that receives the API channel's replies."""

    received: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class LiveHub:
    url: str
    app: web.Application
    token: str
    agents: dict[str, str]  # email -> id
    replies: Replies

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest_asyncio.fixture(loop_scope="session")
async def reply_sink() -> AsyncIterator[tuple[str, Replies]]:
    replies = Replies()

    async def receive(request: web.Request) -> web.Response:
        replies.received.append(await request.json())
        return web.json_response({"ok": True})

    sink = web.Application()
    sink.router.add_post("/replies", receive)
    server = TestServer(sink)
    await server.start_server()
    yield str(server.make_url("/replies")), replies
    await server.close()


@pytest_asyncio.fixture(loop_scope="session")
async def live_hub(tmp_path: Path, reply_sink: tuple[str, Replies]) -> AsyncIterator[LiveHub]:
    _need_browser()
    from hub.app import create_app
    from hub.auth.sessions import hash_password
    from hub.keys import STORE, TOKENS
    from hub.store.tables import agents

    (tmp_path / "routing.yaml").write_text(RULES)
    url, replies = reply_sink
    settings = make_settings(
        tmp_path,
        "embedded",
        **{
            "connectors.api.reply_url": url,
            "connectors.api.reply_secret": "e2e-secret",
            # the tests publish the warnings they look for; a real one (gold's promise is
            # 5 minutes, the default warning too) would come at a moment of its own
            "routing.sla_warning_seconds": 60,
        },
    )
    app = create_app(settings, migrate=True)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    _, token = await app[TOKENS].create("e2e")
    people = {
        "anna@e2e.example": ("Anna Schmidt", "agent", ["service"]),
        "ben@e2e.example": ("Ben Miller", "agent", ["service"]),
        "sofia@e2e.example": ("Sofia Weber", "supervisor", ["service"]),
    }
    ids = {}
    async with app[STORE].write() as conn:
        for email, (name, role, teams) in people.items():
            ids[email] = str(uuid.uuid4())
            await conn.execute(
                sa.insert(agents).values(
                    id=ids[email],
                    email=email,
                    name=name,
                    role=role,
                    password_hash=hash_password(PASSWORD),
                    presence="offline",
                    languages=["de", "en"],
                    departments=["service"] if role == "agent" else [],
                    capacity={"api": 8, "email": 8, "chat": 3},
                    teams=teams,
                    active=True,
                    created_at=datetime.now(UTC),
                )
            )
    yield LiveHub(str(server.make_url("")).rstrip("/"), app, token, ids, replies)
    await server.close()
    await drop_backend(settings)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def shared_chromium() -> AsyncIterator[Any]:
    _need_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        await chromium.close()


@pytest_asyncio.fixture(loop_scope="session")
async def browser(shared_chromium: Any) -> AsyncIterator[Any]:
    """The run's Chromium; every context the test opens is closed after it."""
    yield shared_chromium
    for context in shared_chromium.contexts:
        await context.close()


async def sign_in(
    browser: Any,
    hub: LiveHub,
    email: str,
    *,
    locale: str = "en-GB",
    viewport: tuple[int, int] = (1400, 900),
    permissions: list[str] | None = None,
    init_script: str | None = None,
) -> Any:
    """A new browser context (its own cookies) signed in to the console; returns the page.

    The context ignores the console's Content-Security-Policy, so that the tests can
    evaluate scripts, and so that the XSS test proves the page safe without that help.
    ``init_script`` runs in the page before the console's own scripts (to watch an API)."""
    width, height = viewport
    context = await browser.new_context(
        locale=locale,
        viewport={"width": width, "height": height},
        bypass_csp=True,
        permissions=permissions or [],
    )
    if init_script:
        await context.add_init_script(init_script)
    page = await context.new_page()
    await page.goto(f"{hub.url}/console/")
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector("#live-status.connected")
    return page


async def add_agent(hub: LiveHub, email: str, name: str, role: str, **fields: Any) -> str:
    """Another agent of the live hub (password ``PASSWORD``); their id."""
    from hub.auth.sessions import hash_password
    from hub.keys import STORE
    from hub.store.tables import agents

    agent_id = str(uuid.uuid4())
    values = {
        "id": agent_id,
        "email": email,
        "name": name,
        "role": role,
        "password_hash": hash_password(PASSWORD),
        "presence": "offline",
        "languages": ["de", "en"],
        "departments": [],
        "capacity": {"api": 8, "email": 8, "chat": 3},
        "teams": [],
        "active": True,
        "created_at": datetime.now(UTC),
    }
    async with hub.app[STORE].write() as conn:
        await conn.execute(sa.insert(agents).values(**{**values, **fields}))
    hub.agents[email] = agent_id
    return agent_id
