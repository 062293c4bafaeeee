"""Customer import: CSV and JSON lines, upsert by identity, tiers follow, the report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import HubClient, make_settings, sign_in_all

CSV = """name,organisation,email,phone,external_id,revenue_12m,currency,key_account,custom.segment
Erika Mustermann,,erika@example.com,0171 1111111,CRM-1,300,EUR,no,retail
Harbour Logistics,Harbour Ltd,ops@harbour.example,,CRM-2,42000,GBP,,wholesale
Broken Phone,,,call me maybe,,,,,
No Identity,,,,,,,,
Bad Revenue,,bad@example.com,,,lots,,,
"""


@pytest.fixture
async def roles(hub: HubClient) -> dict[str, dict[str, str]]:
    return await sign_in_all(hub)


async def post_import(hub: HubClient, headers: dict[str, str], body: str, ctype: str = "text/csv") -> dict:
    resp = await hub.client.post(
        "/api/v1/customers/import", data=body.encode(), headers={**headers, "Content-Type": ctype}
    )
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_csv_import_reports_each_row(hub: HubClient, roles) -> None:
    report = await post_import(hub, roles["supervisor"], CSV)
    assert (report["created"], report["updated"], report["rejected_count"]) == (2, 0, 3)
    reasons = {r["line"]: r["reason"] for r in report["rejected"]}
    assert "phone" in reasons[4] and "not a phone number" in reasons[4]
    assert "no identity" in reasons[5]
    assert "revenue_12m" in reasons[6]
    harbour = (
        await (
            await hub.client.get("/api/v1/customers", params={"q": "CRM-2"}, headers=roles["supervisor"])
        ).json()
    )["items"][0]
    assert harbour["tier"] == "gold" and harbour["organisation"] == "Harbour Ltd"


async def test_importing_revenue_moves_standard_to_gold_and_says_why(hub: HubClient, roles) -> None:
    await post_import(hub, roles["supervisor"], CSV)
    erika = (
        await (
            await hub.client.get(
                "/api/v1/customers", params={"q": "0171 1111111"}, headers=roles["supervisor"]
            )
        ).json()
    )["items"][0]
    assert erika["tier"] == "standard"
    update = '{"email": "Erika@Example.com", "revenue_12m": 15000, "currency": "EUR"}\n'
    report = await post_import(hub, roles["supervisor"], update, "application/x-ndjson")
    assert (report["created"], report["updated"]) == (0, 1)
    record = await (
        await hub.client.get(f"/api/v1/customers/{erika['id']}", headers=roles["supervisor"])
    ).json()
    assert record["tier"] == "gold"
    assert record["tier_reason"] == {
        "rule": "gold",
        "when": "revenue_12m >= 10000",
        "values": {"key_account": False, "revenue_12m": 15000.0},
        "currency": "EUR",
    }
    assert record["name"] == "Erika Mustermann" and record["custom"] == {"segment": "retail"}
    timeline = await (
        await hub.client.get(f"/api/v1/customers/{erika['id']}/timeline", headers=roles["supervisor"])
    ).json()
    change = [i for i in timeline["items"] if i.get("action") == "tier.changed"]
    assert change[0]["data"]["from"] == "standard" and change[0]["data"]["to"] == "gold"


async def test_revenue_in_a_currency_the_tier_rules_cannot_convert_is_refused(hub: HubClient, roles) -> None:
    """42,000 GBP is tiered as GBP converted at the admin's rate, never as 42,000 EUR; a
    currency without a rate is refused with the figure named, in the import and the API."""
    rows = (
        '{"email": "pound@example.com", "revenue_12m": 9000, "currency": "GBP"}\n'
        '{"email": "yen@example.com", "revenue_12m": 5000000, "currency": "JPY"}\n'
    )
    report = await post_import(hub, roles["supervisor"], rows, "application/x-ndjson")
    assert report["created"] == 1
    assert [r["line"] for r in report["rejected"]] == [2]
    assert "no exchange rate for JPY" in report["rejected"][0]["reason"]
    params = {"q": "pound@example.com"}
    found = await hub.client.get("/api/v1/customers", params=params, headers=roles["supervisor"])
    pound = (await found.json())["items"][0]
    record = await (
        await hub.client.get(f"/api/v1/customers/{pound['id']}", headers=roles["supervisor"])
    ).json()
    assert record["tier"] == "gold"  # 9,000 GBP at the built-in 1.17 is 10,530 EUR
    assert record["tier_reason"]["values"]["revenue_12m"] == 9000 * 1.17
    resp = await hub.client.patch(
        f"/api/v1/customers/{pound['id']}",
        headers=roles["supervisor"],
        json={"revenue": {"revenue_12m": {"amount": 1, "currency": "JPY"}}},
    )
    assert resp.status == 422
    problem = await resp.json()
    assert problem["field"] == "revenue.revenue_12m" and "no exchange rate for JPY" in problem["detail"]


async def test_rows_whose_identities_span_two_customers_are_rejected(hub: HubClient, roles) -> None:
    await post_import(hub, roles["supervisor"], CSV)
    clash = '{"email": "erika@example.com", "external_id": "CRM-2"}\n{"email": "new@example.com"}\n'
    report = await post_import(hub, roles["supervisor"], clash, "application/x-ndjson")
    assert report["created"] == 1 and report["rejected"][0]["line"] == 1
    assert "different customers" in report["rejected"][0]["reason"]


async def test_bad_files_get_clear_errors(hub: HubClient, roles) -> None:
    sup = roles["supervisor"]
    resp = await hub.client.post(
        "/api/v1/customers/import", data=b"emial\nx@y.de\n", headers={**sup, "Content-Type": "text/csv"}
    )
    assert resp.status == 422 and "unknown column 'emial'" in (await resp.json())["detail"]
    resp = await hub.client.post(
        "/api/v1/customers/import", data=b"x", headers={**sup, "Content-Type": "image/png"}
    )
    assert resp.status == 415
    resp = await hub.client.post(
        "/api/v1/customers/import", data=b"email\n\xff\xfe\n", headers={**sup, "Content-Type": "text/csv"}
    )
    assert resp.status == 422 and "UTF-8" in (await resp.json())["detail"]
    report = await post_import(hub, sup, '{"email": "a@example.com"}\n{broken\n[1]\n', "application/x-ndjson")
    assert [r["line"] for r in report["rejected"]] == [2, 3]
    assert (
        await hub.client.post(
            "/api/v1/customers/import",
            data=CSV.encode(),
            headers={**roles["agent"], "Content-Type": "text/csv"},
        )
    ).status == 403


def test_cli_import_shows_progress_and_report(tmp_path: Path) -> None:
    make_settings(tmp_path, "embedded")
    data = tmp_path / "customers.csv"
    data.write_text(CSV)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "hub.cli",
            "--config",
            str(tmp_path / "contacthub.toml"),
            "import-customers",
            str(data),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "created 2, updated 0, rejected 3" in out.stdout
    assert "line 5: no identity" in out.stdout
    assert "[##############################] 5/5 rows" in out.stderr


def test_retier_applies_changed_rules(tmp_path: Path) -> None:
    make_settings(tmp_path, "embedded", **{"customers.tiers_file": str(tmp_path / "tiers.yaml")})
    data = tmp_path / "customers.csv"
    data.write_text(CSV)
    run = [sys.executable, "-m", "hub.cli", "--config", str(tmp_path / "contacthub.toml")]
    assert (
        subprocess.run(
            [*run, "import-customers", str(data)], cwd=tmp_path, capture_output=True, timeout=120
        ).returncode
        == 0
    )
    # new rules: gold from 100 on; the 300-EUR customer moves up, the 42k one stays gold
    (tmp_path / "tiers.yaml").write_text(
        "tiers:\n  - name: gold\n    when: revenue_12m >= 100\n  - name: standard\n"
    )
    out = subprocess.run([*run, "retier"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "1 customers changed tier" in out.stdout
    bad = tmp_path / "tiers.yaml"
    bad.write_text("tiers:\n  - name: gold\n    when: revenue_12m >>= 100\n  - name: standard\n")
    out = subprocess.run([*run, "retier"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "tier 'gold'" in out.stderr and "position" in out.stderr
