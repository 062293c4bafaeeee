"""The deployment kit (deploy/), checked where it can be here: the systemd units with
`systemd-analyze verify` (no warning either), the nginx site with `nginx -t` inside a
configuration of its own (a throwaway certificate), and the Prometheus alerts against the
metrics the hub exposes."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hub.metrics import Metrics
from tests.nginx import configure, nginx_binary

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
INSTALLED = "/opt/contacthub/.venv/bin/contacthub"


def _tool(name: str) -> str:
    found = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if found is None:  # scripts/system-packages.sh test installs them
        pytest.fail(f"{name} is not installed: run scripts/system-packages.sh test")
    return found


def test_the_systemd_units_verify(tmp_path: Path) -> None:
    command = Path(sys.executable).parent / "contacthub"  # the units start the installed command
    units = []
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        text = unit.read_text().replace(INSTALLED, str(command))
        assert str(command) in text, f"{unit.name} does not start {INSTALLED}"
        name = unit.name.replace("@.service", "@8081.service")  # an instance of the template
        (tmp_path / name).write_text(text)
        units.append(str(tmp_path / name))
    assert len(units) == 2
    done = subprocess.run(
        [_tool("systemd-analyze"), "verify", *units], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr


def test_the_nginx_site_is_valid(tmp_path: Path) -> None:
    conf, _ = configure(tmp_path)
    done = subprocess.run(
        [nginx_binary(), "-t", "-p", str(tmp_path), "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and "test is successful" in done.stderr, done.stderr
    assert "warn" not in done.stderr, done.stderr


def _exposed() -> set[str]:
    """Every sample name the hub's /metrics can show."""
    names: set[str] = set()
    for family in Metrics().registry.collect():
        if not family.name.startswith("contacthub_"):
            continue
        suffixes = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}
        names.update(family.name + s for s in suffixes[family.type])
    return names


def test_the_alerts_name_metrics_the_hub_has() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "contacthub-alerts.yml").read_text())
    exposed = _exposed()
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert len(alerts) >= 8
    for alert in alerts:
        assert set(alert) >= {"alert", "expr", "labels", "annotations"}, alert
        for name in re.findall(r"contacthub_\w+", alert["expr"]):
            assert name in exposed, f"{alert['alert']}: the hub exposes no {name}"
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "scrape.yml").read_text())
    assert scrape["rule_files"] == ["contacthub-alerts.yml"]
