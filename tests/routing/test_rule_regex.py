"""No rule can hold the event loop with a regex (issue 22, defect 7).

Rule regexes run on RE2 (linear time): ``subject =~ "(a+)+$"`` against 28 characters
held Python's ``re``, and with it every request, for 10 s; with 200 characters it would
not finish. Patterns that need backtracking (backreferences, lookaround) and patterns
that are not literal strings are refused with a 422 naming the rule's field.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from hub.errors import ConfigError
from hub.expressions import compile_expression
from hub.keys import ROUTING
from hub.routing.rules import CONVERSATION_CONTEXT
from hub.settings import Settings
from hub.store.engine import Store
from hub.store.tables import routing_rules
from tests.conftest import HubClient, running_hub, sign_in_all
from tests.routing.test_router_service import Floor
from tests.waits import eventually

EVIL = "(a+)+$"  # exponential for a backtracking engine on "aaa…a!"
HOSTILE_SUBJECT = "a" * 199 + "!"
FACTS = {"customer": {}, "channel": "api", "language": "", "department": "", "recipient": ""}


def rules_with(when: str) -> str:
    return f"""
queues:
  special: {{}}
  service: {{}}
rules:
  - name: special
    when: '{when}'
    targets: [{{queue: special}}]
  - name: everyone
    targets: [{{queue: service}}]
"""


def test_a_nested_quantifier_runs_in_linear_time() -> None:
    rule = compile_expression(f'subject =~ "{EVIL}"', CONVERSATION_CONTEXT, "when")
    assert rule.matches({**FACTS, "subject": "a" * 100_000 + "!"}) is False
    assert rule.matches({**FACTS, "subject": "aaaa"}) is True
    # both sides literal: rule-engine folds it while compiling, on the same engine
    folded = compile_expression(f'"{HOSTILE_SUBJECT}" =~ "{EVIL}"', CONVERSATION_CONTEXT, "when")
    assert folded.matches(FACTS) is False


def test_groups_and_the_other_regex_operators_still_work() -> None:
    def holds(expression: str, subject: str) -> bool:
        rule = compile_expression(expression, CONVERSATION_CONTEXT, "when")
        return bool(rule.matches({**FACTS, "subject": subject}))

    assert holds(r'subject =~ "(\\w+)-(\\d+)" and $re_groups[1] == "42"', "order-42")
    assert holds('subject =~~ "urgent"', "very urgent please")
    assert not holds('subject =~ "urgent"', "very urgent please")  # =~ anchors at the start
    assert holds('subject !~~ "spam"', "hello")


@pytest.mark.parametrize(
    ("when", "says"),
    [
        (r'subject =~ "^(\\w+\\s?)*\\1$"', "invalid escape sequence"),  # a backreference
        ('subject =~ "(?=a)a"', "invalid perl operator"),  # lookahead
        ('subject =~ "(a{1000}){1000}"', "repetition"),
        ("subject =~ language", "must be a literal string"),  # a customer's data as the pattern
    ],
)
def test_patterns_that_need_backtracking_or_come_from_data_are_refused(when: str, says: str) -> None:
    with pytest.raises(ConfigError) as refused:
        compile_expression(when, CONVERSATION_CONTEXT, "rule 'x': when", "rules[0].when")
    assert refused.value.field == "rules[0].when"
    assert says in refused.value.detail


async def test_saving_or_simulating_a_backtracking_rule_is_refused(hub: HubClient) -> None:
    roles = await sign_in_all(hub)
    rules = rules_with(r'subject =~ "^(\\w+\\s?)*\\1$"')
    resp = await hub.client.put(
        "/api/v1/routing/rules", data=rules, headers={**roles["admin"], "Content-Type": "application/yaml"}
    )
    assert resp.status == 422
    problem = await resp.json()
    assert problem["errors"][0]["field"] == "rules[0].when"
    assert "RE2" in problem["detail"] and "backreferences" in problem["detail"]
    resp = await hub.client.post(
        "/api/v1/routing/simulate",
        headers=roles["supervisor"],
        json={"channel": "email", "subject": "x", "rules": rules},
    )
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["field"] == "rules[0].when"
    resp = await hub.client.post(
        "/api/v1/routing/rules/validate",
        data=rules,
        headers={**roles["admin"], "Content-Type": "application/yaml"},
    )
    verdict = await resp.json()
    assert resp.status == 200 and verdict["valid"] is False
    assert verdict["errors"][0]["field"] == "rules[0].when"


async def test_simulating_the_evil_pattern_answers_and_healthz_answers_meanwhile(hub: HubClient) -> None:
    sup = (await sign_in_all(hub))["supervisor"]
    simulated, health = await asyncio.gather(
        hub.client.post(
            "/api/v1/routing/simulate",
            headers=sup,
            json={
                "channel": "email",
                "text": HOSTILE_SUBJECT * 50,
                "rules": rules_with(f'subject =~ "{EVIL}"'),
            },
        ),
        hub.client.get("/healthz"),
    )
    assert health.status == 200
    assert simulated.status == 200, await simulated.text()
    assert (await simulated.json())["rule"] == "everyone"


async def test_live_routing_with_the_evil_pattern_is_bounded(hub: HubClient) -> None:
    floor = await Floor(hub).start(rules_with(f'subject =~ "{EVIL}"'))
    await floor.agent("anna", capacity={"api": 1})
    resp = await hub.post_message(
        {
            "external_id": "evil-1",
            "from": {"kind": "email", "value": "x@example.com"},
            "subject": HOSTILE_SUBJECT,
            "text": "hi",
        }
    )
    assert resp.status == 202, await resp.text()
    offered = await eventually(lambda: floor.mine("anna", "offered"), what="the offer")
    assert offered[0]["queue"] == "service"
    assert (await hub.client.get("/healthz")).status == 200


async def test_a_saved_version_that_no_longer_validates_is_passed_over_at_start(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Rules saved before patterns had to be RE2 (a backreference) do not keep the hub
    from starting: the newest version that validates is in force, and an admin saves a
    corrected one."""
    store = Store(settings.database)
    try:
        await store.migrate()
        async with store.write() as conn:
            for version, text in (
                (1, rules_with('subject =~ "ok"')),
                (2, rules_with(r'subject =~ "(a)\\1"')),
            ):
                await conn.execute(
                    sa.insert(routing_rules).values(
                        version=version, text=text, author="test", created_at=datetime.now(UTC)
                    )
                )
    finally:
        await store.close()
    async with running_hub(settings) as hub:
        config = hub.app[ROUTING]
        assert config.version == 1 and 'subject =~ "ok"' in config.text
        assert any("version 2" in r.getMessage() and "passed over" in r.getMessage() for r in caplog.records)
        admin = (await sign_in_all(hub))["admin"]
        resp = await hub.client.put(
            "/api/v1/routing/rules",
            data=rules_with('subject =~ "fixed"'),
            headers={**admin, "Content-Type": "application/yaml"},
        )
        assert resp.status == 200 and (await resp.json())["version"] == 3
