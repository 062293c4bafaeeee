"""The CLI as a user runs it: migrate, token create, demo (idempotent), bad settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import create_engine

from tests.conftest import make_settings


def run(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", "--config", str(tmp_path / "contacthub.toml"), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    )


def test_migrate_token_and_demo(tmp_path: Path) -> None:
    make_settings(tmp_path, "embedded")
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
        assert conn.scalar(sa.text("SELECT count(*) FROM agents")) == 4
        tiers = dict(conn.execute(sa.text("SELECT name, tier FROM customers")).all())
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
