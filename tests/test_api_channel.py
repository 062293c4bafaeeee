"""POST /api/v1/messages end to end through the real app, on both backends."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator

import sqlalchemy as sa

from hub.keys import QUEUE, STORE
from hub.model import message_id
from hub.store.tables import customers, identities, messages
from tests.conftest import HubClient
from tests.waits import eventually


def body(ext: str, value: str = "0171 1234567", kind: str = "phone", **extra: object) -> dict:
    return {
        "external_id": ext,
        "from": {"kind": kind, "value": value, "name": "Erika"},
        "text": "Meine Bestellung fehlt",
        **extra,
    }


async def test_accepts_and_stores_with_normalised_sender(hub: HubClient) -> None:
    resp = await hub.post_message(body("ext-1", subject="Bestellung 4711"))
    assert resp.status == 202
    assert (await resp.json()) == {"id": message_id("api", "ext-1")}
    assert resp.headers["X-Request-ID"]
    assert await hub.wait_stored(1) == 1
    async with hub.app[STORE].read() as conn:
        row = (await conn.execute(sa.select(messages))).one()
        ident = (await conn.execute(sa.select(identities))).one()
    assert (row.subject, row.text, row.sender_value) == (
        "Bestellung 4711",
        "Meine Bestellung fehlt",
        "+491711234567",
    )
    assert (ident.kind, ident.value, ident.customer_id) == ("phone", "+491711234567", row.customer_id)


async def _drained(hub: HubClient) -> bool:
    return await hub.app[QUEUE].depth() == 0


async def test_same_external_id_gets_same_id_and_is_stored_once(hub: HubClient) -> None:
    first = await (await hub.post_message(body("dup"))).json()
    second = await (await hub.post_message(body("dup", value="+49 (0)171-1234567"))).json()
    assert first == second
    assert await hub.wait_stored(1) == 1
    await asyncio.sleep(0.3)  # a window, not a wait: the repeat must not be stored meanwhile
    assert await hub.wait_stored(2, timeout=0.2) == 1


async def test_ten_thousand_with_a_thousand_repeats_stores_nine_thousand(hub: HubClient) -> None:
    """Must-show: 10,000 messages, 1,000 reusing an earlier external_id -> exactly 9,000."""
    ids = [f"bulk-{i}" for i in range(9000)] + [f"bulk-{i}" for i in range(0, 9000, 9)]
    assert len(ids) == 10_000
    sem = asyncio.Semaphore(64)

    async def send(i: int, ext: str) -> int:
        async with sem:
            resp = await hub.post_message(body(ext, value=f"+4917{i % 500:07d}"))
            return resp.status

    statuses = await asyncio.gather(*(send(i, e) for i, e in enumerate(ids)))
    assert set(statuses) == {202}
    assert await hub.wait_stored(9000, timeout=120) == 9000
    await eventually(  # the repeats reach the worker too
        lambda: _drained(hub), what="the queue drained"
    )
    async with hub.app[STORE].read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(messages)) == 9000
        assert await conn.scalar(sa.select(sa.func.count()).select_from(customers)) == 500


async def _problem(resp, status: int) -> dict:
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/problem+json"
    doc = await resp.json()
    assert doc["status"] == status and doc["detail"] and doc["request_id"]
    return doc


async def test_malformed_json_is_400(hub: HubClient) -> None:
    resp = await hub.client.post(
        "/api/v1/messages", data=b'{"external_id": ', headers={**hub.auth, "Content-Type": "application/json"}
    )
    doc = await _problem(resp, 400)
    assert "not valid JSON" in doc["detail"]


async def test_missing_field_is_422_naming_it(hub: HubClient) -> None:
    b = body("x")
    del b["from"]["value"]
    doc = await _problem(await hub.post_message(b), 422)
    assert doc["field"] == "from.value"
    assert "from.value" in doc["detail"]


async def test_wrong_types_are_422_naming_each_field(hub: HubClient) -> None:
    doc = await _problem(
        await hub.post_message({"external_id": 5, "from": {"kind": "pigeon", "value": "x"}, "text": []}), 422
    )
    fields = {e["field"] for e in doc["errors"]}
    assert fields == {"external_id", "from.kind", "text"}


async def test_unknown_field_is_422(hub: HubClient) -> None:
    doc = await _problem(await hub.post_message(body("x", txet="typo")), 422)
    assert doc["field"] == "txet"


async def test_bad_phone_number_is_422(hub: HubClient) -> None:
    doc = await _problem(await hub.post_message(body("x", value="not a number")), 422)
    assert doc["field"] == "from.value"


async def test_non_object_body_is_422(hub: HubClient) -> None:
    await _problem(await hub.post_message([1, 2]), 422)


async def test_wrong_content_type_is_415(hub: HubClient) -> None:
    resp = await hub.client.post("/api/v1/messages", data="a=b", headers=hub.auth)
    await _problem(resp, 415)


async def test_huge_body_is_413(hub: HubClient) -> None:
    big = io.BytesIO(json.dumps(body("x", text="a" * (2 * 1024 * 1024))).encode())
    resp = await hub.client.post(
        "/api/v1/messages", data=big, headers={**hub.auth, "Content-Type": "application/json"}
    )
    doc = await _problem(resp, 413)
    assert "limit" in doc["detail"]


async def test_huge_chunked_body_is_413(hub: HubClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"text": "'
        for _ in range(300):
            yield b"a" * 8192
        yield b'"}'

    resp = await hub.client.post(
        "/api/v1/messages", data=chunks(), headers={**hub.auth, "Content-Type": "application/json"}
    )
    await _problem(resp, 413)


async def test_missing_token_is_401(hub: HubClient) -> None:
    resp = await hub.client.post("/api/v1/messages", json=body("x"))
    doc = await _problem(resp, 401)
    assert resp.headers["WWW-Authenticate"] == "Bearer"
    assert "Bearer" in doc["detail"]


async def test_bad_token_is_401(hub: HubClient) -> None:
    resp = await hub.client.post(
        "/api/v1/messages", json=body("x"), headers={"Authorization": "Bearer cht_wrong"}
    )
    doc = await _problem(resp, 401)
    assert "unknown or revoked" in doc["detail"]


async def test_nothing_is_stored_for_rejected_requests(hub: HubClient) -> None:
    await hub.client.post("/api/v1/messages", json=body("nope"))
    await hub.post_message(body("nope", value="garbage"))
    assert await hub.app[QUEUE].depth() == 0
    assert await hub.wait_stored(1, timeout=0.3) == 0


async def test_logs_carry_ids_but_no_body_or_full_address(hub: HubClient, caplog) -> None:
    import logging

    caplog.set_level(logging.INFO)
    secret_text = "Kontonummer DE89 3704 0044 0532 0130 00"
    resp = await hub.post_message(body("log-1", value="jane.doe@example.com", kind="email", text=secret_text))
    assert resp.status == 202
    await hub.wait_stored(1)
    await hub.post_message(body("log-1", value="jane.doe@example.com", kind="email"))
    await eventually(
        lambda: any(getattr(r, "decision", None) == "duplicate" for r in caplog.records),
        what="the duplicate's log line",
    )
    lines = [r for r in caplog.records if r.name.startswith("contacthub")]
    request_lines = [r for r in lines if r.getMessage() == "request"]
    ingest_lines = [r for r in lines if r.getMessage() == "ingested"]
    assert {r.route for r in request_lines} == {"/api/v1/messages"}
    assert [r.decision for r in ingest_lines] == ["stored", "duplicate"]
    assert ingest_lines[0].external_id == "log-1" and ingest_lines[0].conversation_id
    everything = " ".join(str(vars(r)) for r in lines)
    assert secret_text not in everything and "Meine Bestellung" not in everything
    assert "jane.doe@example.com" not in everything
