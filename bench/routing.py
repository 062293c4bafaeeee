"""Routing benchmark: the pure core, then the Router's in-process view.

Mixed tiers, channels and languages with the example rules (business hours open: a
Monday morning in Berlin). The pure part runs at 1,000 agents / 10,000 waiting,
10,000 / 10,000 and 10,000 / 100,000, so one sees how the cost grows with agents and
with the waiting count separately; the router parts at 1,000 / 10,000 and 10,000 /
100,000 (more waiting than the agents' capacity):

1. **pure decision**: pick the best waiting conversation (``WaitingLine.best``, passing
   over lanes nobody can serve) and ``decide`` who gets it. Applying the offer to the
   floor's indexes is timed apart.
2. **router, capacity frees**: the Router's ``DispatchView`` with everyone busy; one
   conversation ends and ``dispatch(now)`` finds the best conversation the freed agent
   can take and offers it (what the Router does on a close).
3. **router, nobody free**: a new conversation arrives on a full floor and
   ``dispatch(now)`` concludes that nobody can take anything (O(lanes), not O(waiting)).

It prints decisions/s, p50/p99 per decision, and the memory the structures hold. The
store writes the Router makes per decision are not included (see bench/ingest.py for
store costs); this isolates the in-memory work that has to stay fast at 100,000.

    .venv/bin/python bench/routing.py [--steps 5000]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.dispatch.view import DispatchView  # noqa: E402
from hub.routing.decide import decide, routed  # noqa: E402
from hub.routing.floor import Floor  # noqa: E402
from hub.routing.rules import RuleSet, Target, parse_rules  # noqa: E402
from hub.routing.types import AgentState, Offer, WaitingConversation  # noqa: E402
from hub.routing.waiting import Group, WaitingLine  # noqa: E402

TIERS = {"platinum": 100, "gold": 50, "standard": 10}
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Berlin
CHANNELS = ["chat", "email", "sms", "voice", "api"]
SIZES = [(1_000, 10_000), (10_000, 10_000), (10_000, 100_000)]
ROUTER_SIZES = [(1_000, 10_000), (10_000, 100_000)]  # more waiting than capacity


def population(
    n_agents: int, n_waiting: int, seed: int = 42
) -> tuple[RuleSet, list[AgentState], list[WaitingConversation]]:
    rnd = random.Random(seed)
    rules = parse_rules((ROOT / "config" / "routing.example.yaml").read_text(), TIERS)
    agents = [
        AgentState(
            id=f"a{i}",
            presence=rnd.choices(["available", "away", "offline"], [8, 1, 1])[0],
            languages=tuple(rnd.sample(["de", "en", "fr"], rnd.randint(1, 2))),
            departments=tuple(rnd.sample(["service", "sales"], rnd.randint(1, 2))),
            teams=("key_accounts",) if i % 50 == 0 else (),
            capacity={"voice": 1, "chat": 3, "sms": 5, "email": 8, "api": 8},
            idle_since=NOW - timedelta(seconds=rnd.randint(0, 3600)),
        )
        for i in range(n_agents)
    ]
    convs = []
    for i in range(n_waiting):
        tier = rnd.choices(["platinum", "gold", "standard"], [1, 4, 15])[0]
        convs.append(
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
    return rules, agents, convs


def measured(build: Callable[[], object]) -> tuple[object, float]:
    gc.collect()
    tracemalloc.start()
    built = build()
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return built, held / 1e6


def report(label: str, n_agents: int, n_waiting: int, times: list[float], mb: float, note: str) -> None:
    us = sorted(t * 1e6 for t in times)
    p99 = statistics.quantiles(us, n=100)[98]
    print(
        f"{label:<24} {n_agents:>6} agents {n_waiting:>7} waiting: {len(us) / sum(times):8.0f} decisions/s  "
        f"p50 {statistics.median(us):6.1f} us  p99 {p99:6.1f} us  {mb:5.0f} MB  ({note})",
        flush=True,
    )


def pure(n_agents: int, n_waiting: int, steps: int, warmup: int = 500) -> None:
    """Pick the best conversation among lanes someone can serve, and decide; the offer is
    then applied to the floor (timed apart: that is the router's bookkeeping)."""
    rules, agents, convs = population(n_agents, n_waiting)
    targets: dict[str | None, Target] = {}

    def lane(c: WaitingConversation) -> Group:
        _rule, _index, target = routed(c, rules)
        targets[target.agents] = target
        frs = rules.first_response_s(c.tier, c.channel)
        return Group(TIERS[c.tier], target.priority, frs, target.queue, c.channel, target.agents)

    def build() -> tuple[Floor, WaitingLine]:
        line = WaitingLine(lane)
        for c in convs:
            line.add(c)
        return Floor(agents), line

    (floor, line), mb = measured(build)  # type: ignore[misc]

    def lane_open(g: Group) -> bool:
        return floor.any_ready(targets[g.agents], g.channel)

    times: list[float] = []
    applying: list[float] = []
    offers = 0
    skipped: set[str] = set()
    for step in range(warmup + steps):
        if step == warmup:  # the first decision per expression and channel builds its index
            times.clear()
            applying.clear()
            offers = 0
        t0 = time.perf_counter()
        conv = line.best(NOW, skipped.__contains__, lane_open)
        if conv is None:
            break
        decision = decide(conv, floor, rules, NOW)
        t1 = time.perf_counter()
        if isinstance(decision, Offer):
            line.remove(conv.id)
            agent = floor.agents[decision.agent_id]
            floor.update(
                replace(agent, load={**agent.load, conv.channel: agent.load.get(conv.channel, 0) + 1})
            )
            offers += 1
        else:
            skipped.add(conv.id)
        applying.append(time.perf_counter() - t1)
        times.append(t1 - t0)
    apply_us = sorted(t * 1e6 for t in applying)
    note = (
        f"{offers} offers in {len(times)}; applying one to the floor p50 {statistics.median(apply_us):.0f} us"
    )
    report("pure decision", n_agents, n_waiting, times, mb, note)


def full_view(n_agents: int, n_waiting: int) -> tuple[DispatchView, list[WaitingConversation], float, float]:
    """A DispatchView with every agent busy to capacity (the first dispatch fills it)."""
    rules, agents, convs = population(n_agents, n_waiting)
    view = DispatchView(rules)

    def build() -> DispatchView:
        for a in agents:
            view.set_agent(replace(a, presence="available"))
        for c in convs:
            view.admit(c)
        return view

    _, mb = measured(build)
    t0 = time.perf_counter()
    view.dispatch(NOW)
    fill = time.perf_counter() - t0
    return view, convs, mb, fill


def frees(n_agents: int, n_waiting: int, steps: int) -> None:
    view, _convs, mb, fill = full_view(n_agents, n_waiting)
    filled = len(view.holds)
    held = list(view.holds)
    rnd = random.Random(7)
    times: list[float] = []
    offers = 0
    for _ in range(steps):
        i = rnd.randrange(len(held))
        held[i], held[-1] = held[-1], held[i]
        view.release(held.pop(), NOW)  # a conversation ends somewhere on the floor
        t0 = time.perf_counter()
        outcomes = view.dispatch(NOW)
        times.append(time.perf_counter() - t0)
        for o in outcomes:
            if isinstance(o.decision, Offer):
                offers += 1
                held.append(o.conversation.id)
    report(
        "router, capacity frees",
        n_agents,
        n_waiting,
        times,
        mb,
        f"{offers} offers in {steps} dispatches; first fill {filled} offers in {fill:.1f}s",
    )


def full_floor(n_agents: int, n_waiting: int, steps: int) -> None:
    view, convs, mb, _fill = full_view(n_agents, n_waiting)
    for agent_id in list(view.floor.agents):  # whoever still had room steps away
        view.set_agent(replace(view.floor.agents[agent_id], presence="away"))
    times: list[float] = []
    for step in range(steps):
        view.admit(replace(convs[step % len(convs)], id=f"new{step}", arrived_at=NOW))
        t0 = time.perf_counter()
        outcomes = view.dispatch(NOW)
        times.append(time.perf_counter() - t0)
        assert not any(isinstance(o.decision, Offer) for o in outcomes)
    lanes = sum(1 for _ in view.line.lanes())
    report("router, nobody free", n_agents, n_waiting, times, mb, f"{lanes} lanes")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=5000)
    args = parser.parse_args()
    for n_agents, n_waiting in SIZES:
        pure(n_agents, n_waiting, args.steps)
    for part in (frees, full_floor):
        for n_agents, n_waiting in ROUTER_SIZES:
            part(n_agents, n_waiting, args.steps)
