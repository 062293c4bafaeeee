"""The CLI as a user runs it: migrate, token create, demo (idempotent, with a Twilio account
for the simulator), bad settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import create_engine

from hub.demo import TOUR
from tests.conftest import make_empty_settings, make_settings, running_hub, sign_in
from tests.hubproc import HubProcess
from tests.waits import eventually


def _pythonpath() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": path} if path else {}


def run(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", "--config", str(tmp_path / "contacthub.toml"), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        # the caller's PYTHONPATH, so a checkout other than the installed one runs its own code
        env={"PATH": "/usr/bin:/bin", **_pythonpath(), **(env or {})},
    )


def test_migrate_token_and_demo(tmp_path: Path) -> None:
    make_empty_settings(tmp_path, "embedded")
    out = run(tmp_path, "migrate")
    assert out.returncode == 0, out.stderr
    token = run(tmp_path, "token", "create", "--name", "crm")
    assert token.returncode == 0, token.stderr
    assert token.stdout.strip().splitlines()[-1].startswith("cht_")

    first = run(tmp_path, "demo")
    assert first.returncode == 0, first.stderr
    second = run(tmp_path, "demo")
    assert second.stdout == first.stdout  # same credentials, nothing added
    creds = json.loads((tmp_path / "var" / "demo-credentials.json").read_text())
    assert "admin@demo.contacthub" in creds["agents"]
    assert creds["api_token"] in first.stdout
    engine = create_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM agents")) == 7
        kam = conn.execute(
            sa.text(
                "SELECT a.email FROM customers c JOIN agents a ON a.id = c.key_account_manager_id"
                " WHERE c.key_account"
            )
        ).scalar_one()
        assert kam == "katrin.vogel@demo.contacthub"
        assert conn.scalar(sa.text("SELECT author FROM routing_rules")) == "system:demo"
        tiers: dict[str, str] = dict(conn.execute(sa.text("SELECT name, tier FROM customers")).all())
        assert tiers == {"Jürgen Müller": "platinum", "Grace Harbour": "gold", "Erika Mustermann": "standard"}
        assert conn.scalar(sa.text("SELECT count(*) FROM search_terms WHERE term = 'mustermann'")) == 1
        assert conn.scalar(sa.text("SELECT count(*) FROM api_tokens")) == 2
        hashes = [r[0] for r in conn.execute(sa.text("SELECT password_hash FROM agents"))]
    engine.dispose()
    assert all(h.startswith("$argon2") for h in hashes)
    assert not any(a["password"] in h for a, h in zip(creds["agents"].values(), hashes, strict=True))


def test_a_bad_setting_stops_with_its_name(tmp_path: Path) -> None:
    make_settings(tmp_path, "embedded")
    out = run(tmp_path, "serve", env={"CONTACTHUB_SERVER__PROT": "1"})
    assert out.returncode == 2
    assert "server.prot" in out.stderr and "unknown setting" in out.stderr
    assert "Traceback" not in out.stderr


def test_simulate_without_twilio_says_what_to_configure(tmp_path: Path) -> None:
    make_settings(tmp_path, "embedded")
    out = run(tmp_path, "simulate", "sms", "--from", "+4917612345678", "--text", "Hallo")
    assert out.returncode == 2
    assert "connectors.twilio is not enabled" in out.stderr


async def test_after_demo_the_simulator_reaches_the_hub_with_the_demos_twilio_account(tmp_path: Path) -> None:
    """`make run` then `contacthub simulate`: no Twilio settings to write first."""
    make_settings(tmp_path, "embedded")
    first = run(tmp_path, "demo")
    assert first.returncode == 0, first.stderr
    assert "contacthub simulate phone" in first.stdout
    assert "A tour of tier routing" in first.stdout
    assert run(tmp_path, "demo").stdout == first.stdout  # the same account, not a new one
    hub = HubProcess(tmp_path / "contacthub.toml", tmp_path)
    await hub.start()  # Twilio's webhooks are on: the saved section applies at the start
    try:
        sms = run(
            tmp_path, "simulate", "sms", "--from", "+4917612345678", "--text", "Hallo", "--hub", hub.url
        )
        assert sms.returncode == 0, sms.stderr
        call = run(
            tmp_path, "simulate", "call", "--from", "+4917612345678", "--text", "Rückruf", "--hub", hub.url
        )
        assert call.returncode == 0, call.stderr
        # the printed tour: each SMS lands where the tour says
        for sender, text, _who, _queue in TOUR:
            tour = run(tmp_path, "simulate", "sms", "--from", sender, "--text", text, "--hub", hub.url)
            assert tour.returncode == 0, tour.stderr
            assert f"--from {sender} --text '{text}'" in first.stdout

        async def tour_queues() -> dict[str, str] | None:
            engine = create_engine(f"sqlite:///{tmp_path / 'hub.db'}")
            with engine.connect() as conn:
                rows = conn.execute(
                    sa.text(
                        "SELECT i.value, c.queue FROM conversations c JOIN identities i"
                        " ON i.customer_id = c.customer_id AND i.kind = 'phone'"
                        " WHERE c.channel = 'sms' AND c.queue IS NOT NULL"
                    )
                ).all()
            engine.dispose()
            queues = {value: queue for value, queue in rows}
            return queues if all(sender in queues for sender, *_ in TOUR) else None

        queues = await eventually(tour_queues, what="the tour's SMS routed")
        assert {sender: queues[sender] for sender, *_ in TOUR} == {s: q for s, _t, _w, q in TOUR}

        async def stored() -> set[str] | None:
            engine = create_engine(f"sqlite:///{tmp_path / 'hub.db'}")
            with engine.connect() as conn:
                kinds = {r[0] for r in conn.execute(sa.text("SELECT channel || ':' || kind FROM messages"))}
            engine.dispose()
            return kinds if {"sms:message", "voice:voicemail"} <= kinds else None

        await eventually(stored, what="the simulated SMS and voicemail")
    finally:
        hub.stop()


def test_the_demo_leaves_a_configured_twilio_alone(tmp_path: Path) -> None:
    make_settings(tmp_path, "embedded", **{"connectors.twilio.enabled": False})
    out = run(tmp_path, "demo")
    assert out.returncode == 0, out.stderr
    assert "simulate" not in out.stdout
    engine = create_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM channel_settings")) == 0
    engine.dispose()
    sms = run(tmp_path, "simulate", "sms", "--from", "+4917612345678")
    assert sms.returncode == 2 and "contacthub demo" in sms.stderr


def test_on_another_port_the_demo_tells_the_simulator_where_the_hub_is(tmp_path: Path) -> None:
    make_settings(tmp_path, "embedded")
    out = run(tmp_path, "demo", env={"CONTACTHUB_SERVER__PORT": "9000"})  # as make run PORT=9000
    assert out.returncode == 0, out.stderr
    assert "simulate phone --from +491711234567 --hub http://127.0.0.1:9000" in out.stdout


def test_commands_on_a_database_nobody_migrated_say_to_migrate(tmp_path: Path) -> None:
    make_empty_settings(tmp_path, "embedded")
    for command in (["token", "create", "--name", "crm"], ["retier"]):
        out = run(tmp_path, *command)
        assert out.returncode == 2, out.stderr
        assert "has no schema: run `contacthub migrate`" in out.stderr
        assert str(tmp_path / "hub.db") in out.stderr
        assert "Traceback" not in out.stderr
    assert run(tmp_path, "migrate").returncode == 0
    assert run(tmp_path, "token", "create", "--name", "crm").returncode == 0


async def test_a_database_behind_the_newest_schema_is_named_with_its_revision(tmp_path: Path) -> None:
    make_empty_settings(tmp_path, "embedded")
    assert run(tmp_path, "migrate").returncode == 0
    engine = create_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0013'"))
    engine.dispose()
    out = run(tmp_path, "token", "create", "--name", "crm")
    assert out.returncode == 2
    assert "is at schema 0013, this hub needs" in out.stderr and "contacthub migrate" in out.stderr


async def test_the_first_admin_is_invited_from_the_command_line(tmp_path: Path) -> None:
    settings = make_empty_settings(tmp_path, "embedded", **{"server.public_url": "https://hub.example.com"})
    assert run(tmp_path, "migrate").returncode == 0
    bad = run(tmp_path, "admin-invite", "--email", "nobody")
    assert bad.returncode == 2 and "not an email address" in bad.stderr
    first = run(tmp_path, "admin-invite", "--email", "Ops@Example.com", "--name", "Ops")
    assert first.returncode == 0, first.stderr
    assert "ops@example.com: a new admin" in first.stdout
    link = first.stdout.strip().splitlines()[-1]
    assert link.startswith("https://hub.example.com/invite/#")
    again = run(tmp_path, "admin-invite", "--email", "ops@example.com")
    assert again.returncode == 0 and "the existing admin" in again.stdout
    token = again.stdout.strip().splitlines()[-1].split("#", 1)[1]
    async with running_hub(settings) as hub:
        # the first link stopped working when the second was made; the second sets the password
        old = await hub.client.post(
            "/api/v1/auth/invitation", json={"token": link.split("#", 1)[1], "password": "a-long-password-1"}
        )
        assert old.status == 404
        resp = await hub.client.post(
            "/api/v1/auth/invitation", json={"token": token, "password": "a-long-password-1"}
        )
        assert resp.status == 200, await resp.text()
        headers = await sign_in(hub, "ops@example.com", "a-long-password-1")
        me = await (await hub.client.get("/api/v1/me", headers=headers)).json()
        assert (me["role"], me["name"]) == ("admin", "Ops")
