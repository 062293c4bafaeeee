"""The router's view from the store: built whole when a router takes the lease, then kept
in line with the conversations and agents that hints (or a sweep) name.

What it takes in may need writing back (a newcomer's route, queue and due times; the
mark that says the router has seen a change): written inside a fenced transaction, so a
router that lost its lease writes nothing. A row that cannot be read is skipped and
logged once (``BadRows``), and tried again on every sweep until it reads well.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.clock import Clock
from hub.dispatch.admission import changed_since, is_newcomer, take_in, unrouted
from hub.dispatch.bad_rows import ROW_ERRORS, BadRows, checked_agent_state
from hub.dispatch.facts import RULE_TEXT_CHARS
from hub.dispatch.lease import fence
from hub.dispatch.rules_config import RoutingConfig
from hub.dispatch.view import DispatchView, Hold
from hub.routing.types import AgentState
from hub.store import search_index
from hub.store.engine import Store
from hub.store.repos import routing as repo
from hub.store.repos.routing import FirstMessage, RoutingAgent, RoutingConversation

log = logging.getLogger("contacthub.router")
CALL = "call:"  # the view's holds of live calls are keyed by this and the call's id


class ViewLoader:
    def __init__(self, store: Store, config: RoutingConfig, clock: Clock) -> None:
        self._store = store
        self._config = config
        self._clock = clock
        self._bad = BadRows(log)  # rows skipped until they read well again

    async def rebuild(self, token: int) -> DispatchView:
        """A new view: every active agent, live call and open conversation."""
        view = DispatchView(self._config.rules)
        async with self._store.read() as conn:
            for agent in await repo.active_agents(conn):
                view.set_agent(self._agent(agent))
            await self._count_calls(view, conn, None)
            rows = await repo.open_conversations(conn)
        await self._take_in(view, token, rows)
        return view

    async def refresh(self, view: DispatchView, token: int, conv_ids: set[str], agent_ids: set[str]) -> None:
        """Read these conversations and agents again (a hint named them)."""
        async with self._store.read() as conn:
            if agent_ids:
                for agent in await repo.agents_by_id(conn, agent_ids):
                    view.set_agent(self._agent(agent))
                await self._count_calls(view, conn, agent_ids)
            rows = await repo.conversations_by_id(conn, conv_ids) if conv_ids else []
        await self._take_in(view, token, rows)

    async def sweep(self, view: DispatchView, token: int) -> None:
        """What a lost hint missed: every live call, the conversations marked for routing,
        and the skipped ones (the rules may have left one out unmarked)."""
        async with self._store.read() as conn:
            await self._count_calls(view, conn, None)
            marked = await repo.marked_for_routing(conn)
        await self.refresh(view, token, marked | self._bad.ids("conversation"), set())

    def follow_rules(self, view: DispatchView) -> None:
        """If the rules changed (a new version, or new tiers), file the waiting
        conversations again under the rules now in force."""
        if view.rules is self._config.rules:
            return
        for conv_id, exc in view.set_rules(self._config.rules):
            self._bad.skipped("conversation", conv_id, exc)

    def _agent(self, row: RoutingAgent) -> AgentState:
        """The agent's routing state; an agent whose row cannot be read is offline (and
        logged once) until it is fixed, so that everyone else is still routed."""
        try:
            state = checked_agent_state(row)
        except ROW_ERRORS as exc:
            self._bad.skipped("agent", row.id, exc)
            return AgentState(id=row.id)
        self._bad.read("agent", row.id)
        return state

    async def _count_calls(
        self, view: DispatchView, conn: AsyncConnection, agent_ids: set[str] | None
    ) -> None:
        """Hold the lines of live calls (of these agents, or all) as the store has them:
        a call put through to an agent counts against their capacity like a conversation."""
        now = self._clock()
        live = {
            CALL + call.call_id: Hold(call.agent_id, call.channel)
            for call in await repo.live_calls(conn, now, agent_ids)
        }
        for hold_id, held in list(view.holds.items()):
            gone = hold_id not in live and (agent_ids is None or held.agent_id in agent_ids)
            if hold_id.startswith(CALL) and gone:
                view.release(hold_id, now)
        for hold_id, held in live.items():
            if view.holds.get(hold_id) != held:
                view.hold(hold_id, held.agent_id, held.channel)

    async def _take_in(self, view: DispatchView, token: int, rows: Sequence[RoutingConversation]) -> None:
        """Bring the view in line with these conversation rows; route newcomers."""
        now = self._clock()
        self.follow_rules(view)  # saved while this step waited for work
        fresh = [r for r in rows if is_newcomer(r, view)]
        to_route = [r.id for r in fresh if unrouted(r.route)]
        customers = {r.customer_id for r in fresh} if view.rules.prefer_last_agent else set()
        facts: dict[str, FirstMessage] = {}
        last_agents: dict[str, str] = {}
        if to_route or customers:
            async with self._store.read() as conn:
                facts = await repo.first_inbound_messages(conn, to_route, RULE_TEXT_CHARS)
                last_agents = await repo.last_agents(conn, customers)
        updates: list[dict[str, Any]] = []
        for row in rows:
            try:
                update = take_in(view, row, now, facts.get(row.id), last_agents.get(row.customer_id))
            except ROW_ERRORS as exc:  # skipped (left marked, so it is tried again)
                self._bad.skipped("conversation", row.id, exc)
                continue
            self._bad.read("conversation", row.id)
            if update or row.needs_routing:
                updates.append({"id": row.id, "needs_routing": False, **update})
        if updates:
            async with self._store.write() as conn:
                await fence(conn, token)
                await repo.lock_conversations(conn, [u["id"] for u in updates])
                read = {r.id: r for r in rows}
                before = {r.id: r.route for r in rows}
                # a row someone changed since it was read (an automation acting on the
                # message that opened it) is not written over: it is read again below
                current = await repo.placements(conn, [u["id"] for u in updates])
                stale = {u["id"] for u in updates if changed_since(read[u["id"]], current.get(u["id"]))}
                updates = [u for u in updates if u["id"] not in stale]
                await repo.update_conversations(conn, sorted(updates, key=lambda u: str(u["id"])))
                # a new route brings the department and tags the rules set: searchable (a
                # route that has and had neither leaves nothing to index: most of them)
                await search_index.refresh_conversations(
                    conn,
                    [
                        u["id"]
                        for u in updates
                        if "route" in u
                        and (
                            search_index.indexes_route(u["route"])
                            or search_index.indexes_route(before.get(u["id"]))
                        )
                    ],
                )
            if stale:  # in the view as it was read: filed again as it is now
                for conv_id in stale:
                    view.forget(conv_id, now)
                await self.refresh(view, token, stale, set())
