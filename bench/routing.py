"""Routing core benchmark: pick the best waiting conversation and decide who gets it.

Drives the pure core (WaitingLine + Floor + decide) at 1,000 agents / 10,000 waiting and
10,000 agents / 100,000 waiting, mixed tiers, channels and languages, with the example
rules. Each step picks the best conversation, decides, and applies an offer by updating
the agent's load (as the Router will). Prints decisions/s, p50/p99 per decision, and
the memory the floor and the line hold. (The Router service around it is not built yet.)

    .venv/bin/python bench/routing.py
"""

from __future__ import annotations

import random
import statistics
import sys
import time
import tracemalloc
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.routing.decide import decide  # noqa: E402
from hub.routing.floor import Floor  # noqa: E402
from hub.routing.rules import parse_rules  # noqa: E402
from hub.routing.types import AgentState, Offer, WaitingConversation  # noqa: E402
from hub.routing.waiting import Group, WaitingLine  # noqa: E402

TIERS = {"platinum": 100, "gold": 50, "standard": 10}
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Berlin
CHANNELS = ["chat", "email", "sms", "voice", "api"]


def build(n_agents: int, n_waiting: int, rnd: random.Random) -> tuple[Floor, WaitingLine, object]:
    rules = parse_rules((ROOT / "config" / "routing.example.yaml").read_text(), TIERS)
    agents = [
        AgentState(
            id=f"a{i}",
            presence=rnd.choices(["available", "away", "offline"], [8, 1, 1])[0],
            languages=tuple(rnd.sample(["de", "en", "fr"], rnd.randint(1, 2))),
            departments=tuple(rnd.sample(["service", "sales"], rnd.randint(1, 2))),
            teams=("key_accounts",) if i % 50 == 0 else (),
            capacity={"voice": 1, "chat": 3, "sms": 5, "email": 8, "api": 8},
            load={"chat": rnd.randint(0, 2)},
            idle_since=NOW - timedelta(seconds=rnd.randint(0, 3600)),
        )
        for i in range(n_agents)
    ]
    floor = Floor(agents)

    def group_of(c: WaitingConversation) -> Group:
        return Group(TIERS[c.tier], 0, rules.first_response_s(c.tier, c.channel))

    line = WaitingLine(group_of)
    for i in range(n_waiting):
        tier = rnd.choices(["platinum", "gold", "standard"], [1, 4, 15])[0]
        line.add(
            WaitingConversation(
                id=f"c{i}",
                channel=rnd.choice(CHANNELS),
                tier=tier,
                arrived_at=NOW - timedelta(seconds=rnd.randint(0, 7200)),
                customer={"key_account": tier == "platinum"},
                language=rnd.choice(["de", "en", "fr"]),
                subject=rnd.choice(["Bestellung 4711", "Frage zur Rechnung", "Order status", ""]),
                key_account_manager_id=f"a{rnd.randrange(n_agents)}" if tier == "platinum" else None,
            )
        )
    return floor, line, rules


def run(n_agents: int, n_waiting: int, steps: int = 5000, warmup: int = 500) -> None:
    rnd = random.Random(42)
    tracemalloc.start()
    floor, line, rules = build(n_agents, n_waiting, rnd)
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    times: list[float] = []
    offers = 0
    skipped: set[str] = set()
    for step in range(warmup + steps):
        if step == warmup:
            times.clear()
        t0 = time.perf_counter()
        conv = line.best(NOW, skip=skipped.__contains__)
        if conv is None:
            break
        decision = decide(conv, floor, rules, NOW)  # type: ignore[arg-type]
        if isinstance(decision, Offer):
            line.remove(conv.id)
            agent = floor.agents[decision.agent_id]
            floor.update(
                replace(agent, load={**agent.load, conv.channel: agent.load.get(conv.channel, 0) + 1})
            )
            offers += 1
        else:
            skipped.add(conv.id)  # waits for capacity; the Router re-tries it when capacity frees
        times.append(time.perf_counter() - t0)
    us = sorted(t * 1e6 for t in times)
    p99 = statistics.quantiles(us, n=100)[98]
    print(
        f"{n_agents:>6} agents {n_waiting:>7} waiting: {len(us) / sum(times):8.0f} decisions/s  "
        f"(after {warmup} warm-up decisions)  "
        f"p50 {statistics.median(us):6.1f} us  p99 {p99:6.1f} us  "
        f"({offers} offers in {len(us)} decisions, {held / 1e6:.0f} MB held)"
    )


if __name__ == "__main__":
    # the first decision per agent expression and channel builds its index, once per floor,
    # as in the long-running Router; the warm-up keeps those builds out of the figures
    run(1_000, 10_000)
    run(10_000, 100_000)
