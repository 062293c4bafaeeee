"""Issue 22, defects 5, 9, 10 and 11 and the cookie and media points: what a caller sends
is answered with a 4xx that names the problem, never a 500, on every route of its shape."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestServer

from hub.keys import STORE
from hub.store.tables import identities, messages
from tests.conftest import HubClient, drop_backend, make_settings, running_hub, sign_in_all
from tests.connectors.conftest import ACCOUNT, NUMBER, PUBLIC, TOKEN, FakeTwilio, signed_post, sms_params
from tests.widget.conftest import ORIGIN, Visitor, make_site

CTI_TOKEN = "cti-secret-token-123"
FAX_PUBLIC = "https://hub.example.com:8443"
PHAXIO_TOKEN = "phaxio-webhook-token-1"
GENERIC_SECRET = "generic-shared-secret-9"


def edge_settings(media_url: str = "http://127.0.0.1:1/") -> dict[str, Any]:
    return {
        "connectors.twilio.enabled": True,
        "connectors.twilio.public_url": PUBLIC,
        "connectors.twilio.api_base": media_url,
        "connectors.twilio.media_max_bytes": 1024,
        "connectors.twilio.media_hosts": ["127.0.0.1"],
        "connectors.twilio.accounts": [{"account_sid": ACCOUNT, "auth_token": TOKEN, "numbers": [NUMBER]}],
        "connectors.cti.enabled": True,
        "connectors.cti.token": CTI_TOKEN,
        "connectors.fax.enabled": True,
        "connectors.fax.public_url": FAX_PUBLIC,
        "connectors.fax.phaxio": {"callback_token": PHAXIO_TOKEN},
        "connectors.fax.generic": {"secret": GENERIC_SECRET},
        "security.trusted_proxies": ["127.0.0.1/32"],
    }


@pytest.fixture
async def edge(tmp_path: Path) -> AsyncIterator[HubClient]:
    """A hub with every webhook on: the edge does not depend on the backend."""
    settings = make_settings(tmp_path, "embedded", **edge_settings())
    async with running_hub(settings) as hub:
        yield hub


async def problem(resp: aiohttp.ClientResponse, status: int, field: str | None = None) -> dict[str, Any]:
    text = await resp.text()
    assert resp.status == status, text
    doc = orjson.loads(text)
    assert doc["status"] == status and doc["detail"]
    if field is not None:
        assert doc.get("field") == field, doc
    return dict(doc)


async def stored(hub: HubClient) -> int:
    async with hub.app[STORE].read() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(messages)) or 0)


# --- defect 5: signatures compared as bytes ---------------------------------------------------


async def test_a_non_ascii_twilio_signature_is_403(edge: HubClient) -> None:
    resp = await edge.client.post(
        "/webhooks/twilio/sms", data=sms_params("SM1"), headers={"X-Twilio-Signature": "ä" * 28}
    )
    await problem(resp, 403)


async def test_a_non_ascii_fax_signature_is_403(edge: HubClient) -> None:
    form = aiohttp.FormData({"direction": "received", "fax": "{}"})
    resp = await edge.client.post("/webhooks/fax/phaxio", data=form, headers={"X-Phaxio-Signature": "ß" * 40})
    await problem(resp, 403)
    body = b'{"event": "fax.received", "id": "x"}'
    for timestamp, signature in ((str(int(time.time())), "sha256=" + "é" * 64), ("²", "sha256=00")):
        resp = await edge.client.post(
            "/webhooks/fax/generic",
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-ContactHub-Timestamp": timestamp,
                "X-ContactHub-Signature": signature,
            },
        )
        await problem(resp, 403)


async def test_a_non_ascii_widget_file_signature_is_404(edge: HubClient) -> None:
    roles = await sign_in_all(edge)
    site = await make_site(edge, roles["admin"])
    resp = await edge.client.get(f"/widget/files/{site['key']}/{'0' * 64}/a.png", params={"sig": "ü" * 20})
    await problem(resp, 404)


async def test_a_non_ascii_identifier_hash_chats_anonymously(edge: HubClient) -> None:
    roles = await sign_in_all(edge)
    site = await make_site(edge, roles["admin"])
    visitor = Visitor(edge, site["key"])
    welcome = await visitor.connect(identifier="greta@kunde.example", identifier_hash="ö" * 64)
    assert not welcome["identified"]
    assert (await visitor.next("error"))["code"] == "bad_identity"
    await visitor.close()


async def raw_request(hub: HubClient, head: bytes) -> bytes:
    """Send ``head`` (request line and headers, as bytes no client library would send)."""
    reader, writer = await asyncio.open_connection(hub.client.server.host, hub.client.server.port)
    writer.write(head + b"Connection: close\r\n\r\n")
    await writer.drain()
    answer = await reader.read()
    writer.close()
    return answer


async def test_headers_that_are_not_utf8_are_refused_not_crashed_on(edge: HubClient) -> None:
    roles = await sign_in_all(edge)
    cookie = roles["agent"]["Cookie"].encode()
    answer = await raw_request(
        edge,
        b"POST /api/v1/auth/logout HTTP/1.1\r\nHost: x\r\nCookie: "
        + cookie
        + b"\r\nX-CSRF-Token: \xff\xfe\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 403 "), answer[:200]
    answer = await raw_request(
        edge, b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nCookie: contacthub_session=\xff\xfe\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
    answer = await raw_request(
        edge,
        b"POST /api/v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\n"
        b"Content-Length: 0\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
    site = await make_site(edge, roles["admin"])
    answer = await raw_request(
        edge,
        f"POST /widget/uploads?site={site['key']} HTTP/1.1\r\nHost: x\r\n".encode()
        + b"Authorization: Visitor \xff\xfe\r\nContent-Type: multipart/form-data; boundary=B\r\n"
        + b"Content-Length: 0\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]


async def test_non_ascii_csrf_tokens_and_bearer_tokens_are_refused(edge: HubClient) -> None:
    roles = await sign_in_all(edge)
    resp = await edge.client.post("/api/v1/auth/logout", headers={**roles["agent"], "X-CSRF-Token": "ü" * 64})
    await problem(resp, 403)
    body = {"external_id": "x", "from": {"kind": "email", "value": "a@example.com"}, "text": "x"}
    resp = await edge.client.post(
        "/api/v1/messages", json=body, headers={"Authorization": "Bearer " + "ü" * 40}
    )
    await problem(resp, 401)


# --- defect 5 and 9: forms that cannot be decoded ------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded; charset=bogus", b"From=%2B4917612345678"),
        ("application/x-www-form-urlencoded", b"From=\xff\xfe&Body=x"),
        ("application/x-www-form-urlencoded", b"From=%ff%fe&Body=x"),
        ("multipart/form-data", b"--x\r\n\r\n"),  # no boundary
    ],
)
async def test_undecodable_webhook_forms_are_400(edge: HubClient, content_type: str, body: bytes) -> None:
    """Twilio (SMS and voice), CTI and the fax gateways read forms with one reader."""
    headers = {"Content-Type": content_type, "X-Twilio-Signature": "x", "X-Phaxio-Signature": "x"}
    paths = ["/webhooks/cti/" + CTI_TOKEN, "/webhooks/fax/phaxio"]
    if content_type.startswith("application/x-www-form-urlencoded"):
        paths += ["/webhooks/twilio/sms", "/webhooks/twilio/voice"]
    for path in paths:
        resp = await edge.client.post(path, data=body, headers=headers)
        doc = await problem(resp, 400)
        assert doc["field"] == "(body)", (path, doc)


async def test_a_bogus_charset_in_a_multipart_field_is_400(edge: HubClient) -> None:
    body = (
        b'--B\r\nContent-Disposition: form-data; name="event"\r\n'
        b"Content-Type: text/plain; charset=no-such-charset\r\n\r\nnewCall\r\n--B--\r\n"
    )
    headers = {"Content-Type": "multipart/form-data; boundary=B", "X-Phaxio-Signature": "x"}
    for path in ("/webhooks/cti/" + CTI_TOKEN, "/webhooks/fax/phaxio"):
        await problem(await edge.client.post(path, data=body, headers=headers), 400, "event")


async def test_a_widget_upload_without_a_boundary_is_400(edge: HubClient) -> None:
    roles = await sign_in_all(edge)
    site = await make_site(edge, roles["admin"])
    visitor = Visitor(edge, site["key"])
    await visitor.connect()
    await visitor.say("hallo")  # the visitor gets a token
    resp = await edge.client.post(
        f"/widget/uploads?site={site['key']}",
        data=b"--x\r\n",
        headers={
            "Authorization": f"Visitor {visitor.token}",
            "Content-Type": "multipart/form-data",
            "Origin": ORIGIN,
        },
    )
    await problem(resp, 400)
    await visitor.close()


# --- defect 9 and 11: CTI bodies after the token check ---------------------------------------------


async def test_malformed_cti_bodies_are_400_and_nothing_is_stored(edge: HubClient) -> None:
    url = "/webhooks/cti/" + CTI_TOKEN
    base = {"event": "newCall", "direction": "in", "callId": "c1", "to": "+4930555000"}
    form = aiohttp.FormData(base)
    form.add_field("from", b"\x00\x01", filename="number.bin", content_type="application/octet-stream")
    await problem(await edge.client.post(url, data=form), 400, "from")
    for bad in ({"from": {"number": "+4989123456"}}, {"from": ["+4989123456"]}, {"user": [{"a": 1}]}):
        await problem(await edge.client.post(url, json={**base, "from": "+4989123456", **bad}), 400)
    resp = await edge.client.post(url, data={**base, "from": "+49891\x00"})
    await problem(resp, 400, "from")  # a NUL: no database stores one
    resp = await edge.client.post(url, data={**base, "from": "+49891\x01"})
    await problem(resp, 422, "from")  # a control character: no address holds one
    assert (await edge.client.post(url, json={**base, "from": "+4989123456", "cause": None})).status == 200
    assert await edge.wait_stored(1, timeout=10) == 1
    async with edge.app[STORE].read() as conn:
        values = (await conn.execute(sa.select(identities.c.value))).scalars().all()
    assert values == ["+4989123456"], "no junk identity was made"


async def test_a_nul_in_a_webhook_form_is_400_naming_the_field(edge: HubClient) -> None:
    resp = await signed_post(edge, "/webhooks/twilio/sms", sms_params("SM9", body="Hal\x00lo"))
    await problem(resp, 400, "Body")
    body = b'{"event": "fax.received", "id": "f\\u00001"}'
    now = str(int(time.time()))
    signature = (
        "sha256=" + hmac.new(GENERIC_SECRET.encode(), f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    )
    resp = await edge.client.post(
        "/webhooks/fax/generic",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-ContactHub-Timestamp": now,
            "X-ContactHub-Signature": signature,
        },
    )
    await problem(resp, 400, "id")
    assert await stored(edge) == 0


async def test_a_wrong_cti_token_with_umlauts_is_403(edge: HubClient) -> None:
    await problem(await edge.client.post("/webhooks/cti/tökén", data={"event": "newCall"}), 403)


# --- defect 5: static paths ------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/console/", "/admin/", "/invite/", "/demo/"])
async def test_static_paths_the_file_system_cannot_look_up_are_404(edge: HubClient, prefix: str) -> None:
    for name in ("a%00b", "n" * 300, "d/" * 10 + "x" * 260, "%C3%A4" * 120):
        await problem(await edge.client.get(prefix + name), 404)


# --- defect 9: integers from the query and the path -------------------------------------------------


async def test_integers_in_queries_and_paths_are_ascii_digits_in_range(edge: HubClient) -> None:
    roles = await sign_in_all(edge)
    admin, agent = roles["admin"], roles["agent"]
    for bad in ("²", "٣", "99999999999999999999999", "-1", "0", " 5"):
        for path in ("/api/v1/conversations", "/api/v1/customers", "/api/v1/audit", "/api/v1/sla/breaches"):
            await problem(await edge.client.get(path, params={"limit": bad}, headers=admin), 400, "limit")
    created = await edge.client.post(
        "/api/v1/customers", json={"identities": [{"kind": "email", "value": "a@example.com"}]}, headers=admin
    )
    customer = (await created.json())["id"]
    for bad in ("²", "99999999999999999999999", "abc"):
        resp = await edge.client.delete(f"/api/v1/customers/{customer}/identities/{bad}", headers=admin)
        await problem(resp, 400, "identity_id")
        await problem(await edge.client.get(f"/api/v1/attachments/{bad}", headers=agent), 400, "id")
        await problem(
            await edge.client.get(f"/api/v1/routing/rules/versions/{bad}", headers=admin), 400, "version"
        )
    resp = await edge.client.post("/api/v1/routing/rules/rollback", json={"version": 2**70}, headers=admin)
    await problem(resp, 422, "version")


async def test_a_timeline_cursor_with_a_bad_event_id_is_400(edge: HubClient) -> None:
    roles = await sign_in_all(edge)
    created = await edge.client.post(
        "/api/v1/customers",
        json={"identities": [{"kind": "email", "value": "a@example.com"}]},
        headers=roles["agent"],  # the agent who created the customer may read its timeline
    )
    customer = (await created.json())["id"]
    for item in ("x", "²", "9" * 30):
        cursor = base64.urlsafe_b64encode(f"2026-01-01T00:00:00+00:00|e|{item}".encode()).decode()
        resp = await edge.client.get(
            f"/api/v1/customers/{customer}/timeline", params={"before": cursor}, headers=roles["agent"]
        )
        await problem(resp, 400, "before")


async def test_a_bad_last_seq_on_the_agent_socket_is_a_plain_400(edge: HubClient) -> None:
    roles = await sign_in_all(edge)
    for bad in ("²", "9" * 30):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await edge.client.ws_connect("/ws/agent", params={"last_seq": bad}, headers=roles["agent"])
        assert refused.value.status == 400


async def test_a_last_seq_beyond_64_bits_on_the_widget_socket_closes_it_clearly(edge: HubClient) -> None:
    roles = await sign_in_all(edge)
    site = await make_site(edge, roles["admin"])
    visitor = Visitor(edge, site["key"])
    await visitor.connect()
    await visitor.say("hallo")  # a returning visitor: the hub looks up what they missed
    await visitor.close()
    again = Visitor(edge, site["key"], visitor.token)
    again.ws = await edge.client.ws_connect(f"/ws/widget?site={site['key']}", headers={"Origin": ORIGIN})
    # 2**64 - 1 still parses as JSON (orjson refuses more) but no 64-bit column holds it
    await again.send(type="hello", site=site["key"], visitor=visitor.token, last_seq=2**64 - 1)
    assert (await again.next("error"))["code"] == "bad_frame"
    closed = await again.ws.receive()
    assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == 4400


# --- defect 10: redirects are not errors -------------------------------------------------------------


async def test_redirects_pass_with_their_own_status_and_are_counted_so(
    edge: HubClient, caplog: pytest.LogCaptureFixture
) -> None:
    for path, target in (("/console", "/console/"), ("/admin", "/admin/")):
        resp = await edge.client.get(path, allow_redirects=False)
        assert resp.status == 302 and resp.headers["Location"] == target
        assert resp.headers["X-Request-ID"]
    text = await (await edge.client.get("/metrics")).text()
    assert 'contacthub_http_requests_total{route="/console",status="302"} 1.0' in text
    assert 'route="/console",status="500"' not in text and 'route="/admin",status="500"' not in text
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    statuses = [getattr(r, "status", None) for r in caplog.records if r.getMessage() == "request"]
    assert 500 not in statuses


# --- the session cookie behind a TLS proxy -----------------------------------------------------------


async def test_the_session_cookie_is_secure_behind_a_trusted_tls_proxy(tmp_path: Path) -> None:
    for trusted, secure in ((["127.0.0.1/32"], True), ([], False)):
        (tmp_path / str(secure)).mkdir()
        settings = make_settings(tmp_path / str(secure), "embedded", **{"security.trusted_proxies": trusted})
        async with running_hub(settings) as hub:
            roles = await sign_in_all(hub)
            assert roles
            resp = await hub.client.post(
                "/api/v1/auth/login",
                json={"email": "agent@test.example", "password": "pw-agent"},
                headers={"X-Forwarded-Proto": "https"},
            )
            assert resp.status == 200
            assert ("Secure" in resp.headers["Set-Cookie"]) is secure, resp.headers["Set-Cookie"]


# --- MMS media only from the provider's hosts -----------------------------------------------------


async def test_mms_media_are_fetched_only_from_the_configured_hosts(tmp_path: Path) -> None:
    fake = FakeTwilio()
    async with TestServer(fake.app) as server:
        media = str(server.make_url("/media/100"))
        elsewhere = media.replace("127.0.0.1", "localhost")  # the same server, another host
        settings = make_settings(tmp_path, "embedded", **edge_settings(str(server.make_url("/"))))
        async with running_hub(settings) as hub:
            params = sms_params(
                "MM1",
                NumMedia="2",
                MediaUrl0=media,
                MediaContentType0="image/png",
                MediaUrl1=elsewhere,
                MediaContentType1="image/png",
            )
            assert (await signed_post(hub, "/webhooks/twilio/sms", params)).status == 200
            assert await hub.wait_stored(1, timeout=10) == 1
            async with hub.app[STORE].read() as conn:
                row = (await conn.execute(sa.select(messages))).one()
    assert row.meta["media_not_stored"] == elsewhere


# --- defect 9 and 11 on both backends: values the store cannot hold ---------------------------------


@pytest.fixture
async def hub_any(backend: str, tmp_path: Path) -> AsyncIterator[HubClient]:
    settings = make_settings(tmp_path, backend)
    async with running_hub(settings) as hub:
        yield hub
    await drop_backend(settings)


async def test_control_characters_in_an_identity_are_refused_naming_the_field(hub_any: HubClient) -> None:
    for kind, value in (
        ("email", "erika\x01@example.com"),
        ("external", "CRM\n-1"),
        ("phone", "+49171\u200b1"),
    ):
        body = {"external_id": f"ctl-{kind}", "from": {"kind": kind, "value": value}, "text": "x"}
        await problem(await hub_any.post_message(body), 422, "from.value")
    await problem(await hub_any.post_message({**body, "external_id": "k\x01"}), 422, "external_id")
    roles = await sign_in_all(hub_any)
    resp = await hub_any.client.post(
        "/api/v1/customers",
        json={"identities": [{"kind": "email", "value": "a\x01b@example.com"}]},
        headers=roles["admin"],
    )
    await problem(resp, 422)
    assert await stored(hub_any) == 0


async def test_a_nul_in_a_json_body_is_400_naming_the_field(hub_any: HubClient) -> None:
    """PostgreSQL cannot store a NUL: ingest retried such a message until it gave up."""
    sender = {"kind": "email", "value": "erika\x00@example.com", "name": "Erika"}
    for field, body in (
        ("from.value", {"external_id": "n1", "from": sender, "text": "x"}),
        ("text", {"external_id": "n2", "from": {**sender, "value": "e@example.com"}, "text": "Hal\x00lo"}),
        ("external_id", {"external_id": "n\x003", "from": {**sender, "value": "e@example.com"}, "text": "x"}),
    ):
        await problem(await hub_any.post_message(body), 400, field)
    roles = await sign_in_all(hub_any)
    resp = await hub_any.client.post(
        "/api/v1/customers",
        json={"name": "A", "identities": [{"kind": "email", "value": "a\x00b@example.com"}]},
        headers=roles["admin"],
    )
    await problem(resp, 400, "identities.0.value")
    jsonl = '{"email": "n@example.com", "name": "N\\u0000"}\n{"email": "o@example.com", "name": "O"}\n'
    resp = await hub_any.client.post(
        "/api/v1/customers/import",
        data=jsonl.encode(),
        headers={**roles["supervisor"], "Content-Type": "application/x-ndjson"},
    )
    report = await resp.json()
    assert resp.status == 200 and (report["created"], report["rejected_count"]) == (1, 1), report
    await asyncio.sleep(0)
    assert await stored(hub_any) == 0


async def test_a_nul_in_a_path_or_query_never_reaches_the_database(hub_any: HubClient) -> None:
    roles = await sign_in_all(hub_any)
    for path in (
        "/api/v1/customers/a%00b",
        "/api/v1/conversations/a%00b",
        "/api/v1/customers/a%00b/timeline",
    ):
        await problem(await hub_any.client.get(path, headers=roles["admin"]), 404)
    for path, param in (
        ("/api/v1/customers", "q"),
        ("/api/v1/conversations", "status"),
        ("/api/v1/conversations", "customer_id"),
        ("/api/v1/audit", "actor"),
    ):
        resp = await hub_any.client.get(path + f"?{param}=a%00b", headers=roles["admin"])
        await problem(resp, 400, param)


async def test_nan_and_infinite_revenue_are_refused_naming_the_field(hub_any: HubClient) -> None:
    roles = await sign_in_all(hub_any)
    sup, admin = roles["supervisor"], roles["admin"]
    csv = (
        "name,email,revenue_12m,currency\n"
        "A,a@example.com,nan,EUR\nB,b@example.com,1e400,EUR\nC,c@example.com,5,EUR\n"
    )
    resp = await hub_any.client.post(
        "/api/v1/customers/import", data=csv.encode(), headers={**sup, "Content-Type": "text/csv"}
    )
    assert resp.status == 200, await resp.text()
    report = await resp.json()
    assert (report["created"], report["rejected_count"]) == (1, 2)
    assert all("revenue_12m" in r["reason"] for r in report["rejected"])
    jsonl = (
        '{"email": "d@example.com", "revenue_12m": NaN}\n'
        '{"email": "e@example.com", "revenue": {"revenue_12m": {"amount": 1e400, "currency": "EUR"}}}\n'
        '{"email": "f@example.com", "custom": {"score": Infinity}}\n'
    )
    resp = await hub_any.client.post(
        "/api/v1/customers/import",
        data=jsonl.encode(),
        headers={**sup, "Content-Type": "application/x-ndjson"},
    )
    report = await resp.json()
    assert resp.status == 200 and report["rejected_count"] == 3, report
    assert "revenue.revenue_12m.amount" in report["rejected"][1]["reason"]
    for amount in ("nan", "1e400", "-Infinity"):
        body = {
            "identities": [{"kind": "email", "value": f"x{amount}@example.com"}],
            "revenue": {"revenue_12m": {"amount": amount, "currency": "EUR"}},
        }
        doc = await problem(await hub_any.client.post("/api/v1/customers", json=body, headers=admin), 422)
        assert doc["field"] == "revenue.revenue_12m.amount"
