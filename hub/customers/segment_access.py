"""Who may use a segment and whose customers a report may show.

A segment is seen by its owner and by the members of the team it is shared with (as a
saved view is); its members are the customers the caller may see that match its filter
now. A key account manager (an agent who manages at least one customer) may read the
reports about their own accounts only; other agents may not read reports.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.auth.sessions import Principal
from hub.auth.visibility import Scope
from hub.customers import listing
from hub.customers.records import CustomerRecords
from hub.errors import Forbidden, NotFound
from hub.model import Role
from hub.store import saved_views
from hub.store.repos import customer_list, segments
from hub.store.repos.customer_list import CustomerFilter


async def visible_segment(conn: AsyncConnection, who: Principal, segment_id: str) -> segments.Segment:
    """The segment, if ``who`` may see it (their own or their team's); else NotFound."""
    segment = await segments.get(conn, segment_id) if len(segment_id) <= 36 else None
    if segment is None or (
        segment.owner_id != who.agent_id
        and segment.team not in await saved_views.teams_of(conn, who.agent_id)
    ):
        raise NotFound(f"no segment with id {segment_id[:40]}")
    return segment


async def accounts_of(conn: AsyncConnection, agent_id: str) -> list[str]:
    """The ids of the customers this agent is the key account manager of."""
    return await customer_list.ids(
        conn, CustomerFilter(key_account_managers=(agent_id,)), lambda _column: sa.true()
    )


async def report_customers(
    conn: AsyncConnection,
    records: CustomerRecords,
    who: Principal,
    scope: Scope,
    segment_id: str | None,
) -> tuple[str, ...] | None:
    """The customers a report may count for ``who``: everyone (None) for supervisors
    and admins; a key account manager's own accounts for an agent who is one (else
    Forbidden); and of those, the members of the segment ``segment_id`` when given."""
    only: tuple[str, ...] | None = None
    if who.role == Role.AGENT:
        only = tuple(await accounts_of(conn, who.agent_id))
        if not only:
            raise Forbidden(
                "reports are for supervisors and admins, and for key account managers about their accounts"
            )
    if segment_id is None:
        return only
    segment = await visible_segment(conn, who, segment_id)
    return tuple(await listing.segment_members(conn, records, scope, segment.filters, only))
