"""Schemathesis over every operation of the OpenAPI document the hub serves, as each kind
of caller: the API token, an agent, a supervisor and an admin. Any 5xx fails, and so does
any answer the document does not describe (status, content type, body schema).

The hub runs in a thread with its own event loop on a loopback port, with every connector
that has routes enabled, so the document lists them all; schemathesis calls it over HTTP.
Each (caller, operation) gets a fresh session or token on an account reset to its role, so
an operation that ends the caller's session, disables the caller or changes its password
(logout, PATCH of oneself, erasure) is fuzzed too and spoils nothing after it. The
generation is derandomized: the same examples every run.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
import schemathesis
import sqlalchemy as sa
from argon2 import PasswordHasher
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import HUB_ERRORS, make_settings

T = TypeVar("T")
CALLERS = ("token", "agent", "supervisor", "admin")
ROLES = ("agent", "supervisor", "admin")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# examples per operation: fewer where the caller's role is refused before the handler runs
# (every example then gets the same 401/403)
EXAMPLES = int(os.environ.get("CONTACTHUB_FUZZ_EXAMPLES", "12"))
REFUSED_EXAMPLES = 3
MAX_REPORT = 1500  # characters of one failure's curl line
RANK = {"public": 0, "signed": 0, "token": 1, "agent": 1, "supervisor": 2, "admin": 3}
_hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # verifying is cheap too


class ServedHub:
    """The app on 127.0.0.1 in a thread of its own; ``run`` executes a coroutine there."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.url = ""
        self.app: Any = None
        self.ids: dict[str, str] = {}  # path parameter -> an existing record's (see _seed)
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self.loop.run_until_complete, args=(self._main(),))

    def __enter__(self) -> ServedHub:
        self._thread.start()
        if not self._ready.wait(60) or self._failed is not None:
            raise RuntimeError(f"the hub did not start: {self._failed!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)
        self.loop.close()

    async def _main(self) -> None:
        from aiohttp.test_utils import TestServer

        from hub.app import create_app

        self._stop = asyncio.Event()
        try:
            self.app = create_app(self.settings, migrate=True)
            server = TestServer(self.app, host="127.0.0.1")
            await server.start_server()
        except BaseException as exc:
            self._failed = exc
            self._ready.set()
            raise
        self.url = str(server.make_url("")).rstrip("/")
        self._ready.set()
        await self._stop.wait()
        await server.close()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)


def _hub_settings(tmp: Path) -> Any:
    """Every connector with HTTP routes, so the document has all operations."""
    public = "https://hub.example.com"
    return make_settings(
        tmp,
        "embedded",
        **{
            "connectors.twilio.enabled": True,
            "connectors.twilio.public_url": public,
            "connectors.twilio.accounts": [
                {"account_sid": "AC" + "1" * 32, "auth_token": "twilio-token", "numbers": ["+493012345678"]}
            ],
            "connectors.cti.enabled": True,
            "connectors.cti.token": "cti-token",
            "connectors.fax.enabled": True,
            "connectors.fax.public_url": public,
            "connectors.fax.phaxio": {"callback_token": "phaxio", "api_key": "k", "api_secret": "s"},
            "connectors.fax.sinch": {"username": "sinch", "password": "sinch-pw"},
            "connectors.fax.generic": {"secret": "generic-secret"},
        },
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedHub]:
    settings = _hub_settings(tmp_path_factory.mktemp("fuzz"))
    with ServedHub(settings) as hub:
        hub.run(_create_accounts(hub.app))
        hub.ids = _seed(hub)
        yield hub


async def _create_accounts(app: Any) -> None:
    from hub.keys import STORE
    from hub.store.tables import agents

    async with app[STORE].write() as conn:
        for role in ROLES:
            await conn.execute(
                sa.insert(agents).values(
                    id=str(uuid.uuid4()),
                    email=f"{role}@fuzz.example",
                    name=role.title(),
                    role=role,
                    password_hash="",
                    presence="offline",
                    languages=["de"],
                    departments=["service"],
                    capacity={},
                    active=True,
                    created_at=datetime.now(UTC),
                )
            )


async def _credentials(app: Any, caller: str) -> tuple[dict[str, str], dict[str, str]]:
    """Headers and cookies of a fresh session (or token) for ``caller``, after setting its
    account back to what it was: an earlier operation may have demoted, disabled or
    re-passworded it, or enabled two-factor authentication."""
    from hub.auth.csrf import HEADER, csrf_token
    from hub.auth.sessions import COOKIE
    from hub.keys import SESSIONS, STORE, TOKENS
    from hub.store.tables import agents
    from hub.tokens import SCOPES

    if caller == "token":  # every scope: each token route is reached, not refused
        _, token = await app[TOKENS].create(f"fuzz-{uuid.uuid4().hex[:8]}", list(SCOPES))
        return {"Authorization": f"Bearer {token}"}, {}
    email = f"{caller}@fuzz.example"
    async with app[STORE].write() as conn:
        await conn.execute(
            sa.update(agents)
            .where(agents.c.email == email)
            .values(
                role=caller,
                active=True,
                password_hash=_hasher.hash("pw-" + caller),
                totp_enabled=False,
                totp_secret=None,
            )
        )
    session, _ = await app[SESSIONS].login(email, "pw-" + caller, ip="fuzz-harness")
    return {HEADER: csrf_token(session)}, {COOKIE: session}


def _document(served: ServedHub) -> dict[str, Any]:
    resp = requests.get(served.url + "/api/v1/openapi.json", timeout=30)
    assert resp.status_code == 200
    doc: dict[str, Any] = resp.json()
    return doc


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_every_ref_of_the_document_resolves(served: ServedHub) -> None:
    doc = _document(served)
    refs = set(_refs(doc))
    assert "#/components/schemas/SimCustomer" in refs and "#/components/schemas/Texts" in refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in doc["components"]["schemas"], ref
    assert "$defs" not in str(doc["paths"])


def test_every_operation_declares_the_answers_of_the_middlewares(served: ServedHub) -> None:
    for path, operations in _document(served)["paths"].items():
        for method, op in operations.items():
            declared = set(op["responses"])
            where = f"{method.upper()} {path}"
            if op["x-access"] in ("agent", "supervisor", "admin"):
                assert {"401", "403"} <= declared, where
            if op["x-access"] == "token":
                assert "401" in declared, where
            if "requestBody" in op:
                assert {"400", "413", "415", "422"} <= declared, where
                for media in op["requestBody"]["content"].values():
                    assert media["schema"], where


def test_the_webhooks_declare_their_bodies(served: ServedHub) -> None:
    paths = _document(served)["paths"]
    for path in ("/webhooks/twilio/sms", "/webhooks/twilio/sms/status", "/webhooks/twilio/voice"):
        body = paths[path]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
        assert body["schema"]["type"] == "object", path
    sms = paths["/webhooks/twilio/sms"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
    assert {"MessageSid", "From", "To", "Body"} <= set(sms["schema"]["properties"])
    assert "multipart/form-data" in paths["/webhooks/fax/phaxio"]["post"]["requestBody"]["content"]
    assert (
        "application/x-www-form-urlencoded"
        in paths["/webhooks/cti/{token}"]["post"]["requestBody"]["content"]
    )


def test_two_models_sub_schemas_of_one_name_stay_apart() -> None:
    from hub.routespec import RouteSpec
    from hub.web.openapi import build_openapi

    async def handler(request: Any) -> Any:
        raise AssertionError("never called")

    def model(item_type: str) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {"item": {"$ref": "#/$defs/Item"}},
            "$defs": {"Item": {"type": "object", "properties": {"x": {"type": item_type}}}},
        }

    doc = build_openapi(
        [
            RouteSpec("POST", "/a", handler, "a", "admin", request_schema=model("string")),
            RouteSpec("POST", "/b", handler, "b", "admin", request_schema=model("integer")),
            RouteSpec("POST", "/c", handler, "c", "admin", request_schema=model("string")),
        ]
    )
    schemas = doc["components"]["schemas"]
    body = {
        p: doc["paths"][p]["post"]["requestBody"]["content"]["application/json"]["schema"]
        for p in "/a /b /c".split()
    }
    assert body["/a"]["properties"]["item"] == {"$ref": "#/components/schemas/Item"}
    assert body["/b"]["properties"]["item"] == {"$ref": "#/components/schemas/Item2"}
    assert body["/c"]["properties"]["item"] == {"$ref": "#/components/schemas/Item"}
    assert schemas["Item"]["properties"]["x"]["type"] == "string"
    assert schemas["Item2"]["properties"]["x"]["type"] == "integer"


def _seed(hub: ServedHub) -> dict[str, str]:
    """Records for the path parameters to name, so the fuzzer reaches the handlers'
    inner code, not only their 404: a customer with an identity and a conversation with
    a message, a canned response, a widget site, an API token."""
    headers, cookies = hub.run(_credentials(hub.app, "admin"))
    token, _ = hub.run(_credentials(hub.app, "token"))
    admin = requests.Session()
    admin.headers.update(headers)
    admin.cookies.update(cookies)

    def created(resp: requests.Response) -> dict[str, Any]:
        assert resp.status_code in (201, 202), resp.text
        body: dict[str, Any] = resp.json()
        return body

    url = hub.url + "/api/v1"
    inbound: dict[str, Any] = {
        "external_id": "fuzz-1",
        "from": {"kind": "email", "value": "kunde@fuzz.example"},
        "text": "Hallo",
    }
    created(requests.post(url + "/messages", json=inbound, headers=token, timeout=30))
    deadline = time.monotonic() + 60
    while not (items := admin.get(url + "/conversations", timeout=30).json()["items"]):
        assert time.monotonic() < deadline, "the seeded message was not routed into a conversation"
        time.sleep(0.1)
    conversation = admin.get(f"{url}/conversations/{items[0]['id']}", timeout=30).json()
    customer = admin.get(f"{url}/customers/{conversation['customer_id']}", timeout=30).json()
    canned = created(
        admin.post(url + "/canned-responses", json={"title": "Gruß", "shortcut": "gr", "body": "Hallo"})
    )
    site = created(
        admin.post(url + "/widget/sites", json={"name": "Fuzz", "allowed_origins": ["https://a.example"]})
    )
    api_token = created(admin.post(url + "/tokens", json={"name": "seeded"}))
    segment = created(admin.post(url + "/segments", json={"name": "Fuzz", "filters": {"tier": "gold"}}))
    agent_id = next(
        a["id"] for a in admin.get(url + "/agents", timeout=30).json()["items"] if a["role"] == "agent"
    )
    return {
        "/customers/{id}": customer["id"],
        "identity_id": customer["identities"][0]["id"],
        "/conversations/{id}": conversation["id"],
        "message_id": conversation["messages"][0]["id"],
        "/canned-responses/{id}": canned["id"],
        "/widget/sites/{key}": site["key"],
        "/tokens/{id}": api_token["id"],
        "/segments/{id}": segment["id"],
        "/agents/{id}": agent_id,
        "name": "email",
        "version": "1",
        "token": "cti-token",  # the CTI webhook's path secret (_hub_settings)
    }


def _known_path(operation: Any, ids: dict[str, str]) -> dict[str, str] | None:
    """Existing records for every path parameter of ``operation``, or None."""
    path = operation.path
    known: dict[str, str] = {}
    for name in re.findall(r"{(\w+)}", path):
        value = ids.get(name) or next(
            (v for k, v in ids.items() if k.endswith("{" + name + "}") and k in path), None
        )
        if value is None:
            return None
        known[name] = value
    return known


def _examples(caller: str, access: str) -> int:
    if caller == "token":
        refused = access not in ("public", "signed", "token")
    else:
        refused = access == "token" or RANK[caller] < RANK.get(access, 0)
    return REFUSED_EXAMPLES if refused else EXAMPLES


def _fuzz(
    operation: Any,
    examples: int,
    call: Callable[[Any], Any],
    headers: dict[str, str],
    known: dict[str, str] | None,
) -> list[str]:
    """Run ``examples`` derandomized cases through ``call``: valid and invalid ones, and
    where the path names records, valid ones for the seeded records. One line per distinct
    failure: what failed, the status, the cause the hub logged for a 500, and a curl line
    to reproduce it."""
    failures: dict[tuple[str, ...], str] = {}
    strategies = [
        operation.as_strategy(GenerationMode.POSITIVE, headers=headers),
        operation.as_strategy(GenerationMode.NEGATIVE, headers=headers),
    ]
    if known:
        strategies.append(
            operation.as_strategy(GenerationMode.POSITIVE, headers=headers, path_parameters=known)
        )
    strategy = st.one_of(strategies)

    @given(case=strategy)
    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )
    def run(case: Any) -> None:
        response = call(case)
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            cause = _logged_cause(response)
            titles = sorted(f.title for f in group.exceptions)
            key = (str(response.status_code), cause.split(": ")[0], *titles)
            if key not in failures:
                curl = case.as_curl_command(headers=dict(response.request.headers))
                failures[key] = f"{response.status_code} {', '.join(key[2:])}{cause}\n    {_short(curl)}"

    run()
    return list(failures.values())


def _logged_cause(response: Any) -> str:
    """For a 500: the exception the hub logged under the response's request id, and the
    last line of the hub's own code it passed through."""
    sent = {name.lower(): value for name, value in response.headers.items()}.get("x-request-id")
    request_id = sent[0] if isinstance(sent, list) else sent  # schemathesis keeps lists
    for record in reversed(HUB_ERRORS.records):
        if getattr(record, "request_id", None) != request_id or not record.exc_info:
            continue
        exc, tb = record.exc_info[1], record.exc_info[2]
        ours = ""
        while tb is not None:
            name = tb.tb_frame.f_code.co_filename
            if "/site-packages/" not in name and not name.endswith("middleware.py"):
                ours = f"{Path(name).parent.name}/{Path(name).name}:{tb.tb_lineno}"
            tb = tb.tb_next
        first = str(exc).strip().splitlines()[0][:100] if str(exc).strip() else ""
        return f" [{type(exc).__name__} at {ours}: {first}]"
    return ""


def _short(curl: str) -> str:
    for noise in (
        "User-Agent: python-requests",
        "Accept-Encoding: gzip",
        "Accept: */*",
        "Connection: keep-alive",
    ):
        curl = re.sub(r" -H '" + re.escape(noise) + r"[^']*'", "", curl)
    return curl[:MAX_REPORT]


@pytest.mark.parametrize("caller", CALLERS)
def test_every_operation_answers_as_documented(served: ServedHub, caller: str) -> None:
    schema = schemathesis.openapi.from_url(served.url + "/api/v1/openapi.json")
    operations = []
    for result in schema.get_all_operations():
        operations.append(result.ok())  # type: ignore[union-attr]  # an unresolvable $ref or bad schema fails here
    assert len(operations) > 90
    # the operations that end things go last, so those before them find the seeded records
    operations.sort(key=lambda op: op.method.upper() == "DELETE" or op.path.endswith(("/logout", "/merge")))
    session = requests.Session()
    report: list[str] = []
    started = time.monotonic()
    total = 0
    for operation in operations:
        headers, cookies = served.run(_credentials(served.app, caller))
        session.cookies.clear()

        def call(case: Any, headers: dict[str, str] = headers, cookies: dict[str, str] = cookies) -> Any:
            session.cookies.clear()
            return case.call(
                base_url=served.url,
                session=session,
                headers=headers,
                cookies=cookies,
                allow_redirects=False,
                timeout=30,
            )

        examples = _examples(caller, operation.definition.raw.get("x-access", "public"))
        total += examples
        for failure in _fuzz(operation, examples, call, headers, _known_path(operation, served.ids)):
            report.append(f"{operation.label} as {caller}: {failure}")
            print(report[-1])
    elapsed = time.monotonic() - started
    print(f"{caller}: {len(operations)} operations, {total} examples, {elapsed:.1f} s")
    assert not report, f"{len(report)} failures:\n" + "\n".join(report)
