"""The store behind ``connectors.base.MailCursors``: one row per mailbox."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from hub.store.bulk import insert_rows
from hub.store.engine import Store
from hub.store.tables import mail_cursors

c = mail_cursors.c


class StoreMailCursors:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def get(self, mailbox: str) -> tuple[int | None, int]:
        async with self._store.read() as conn:
            row = (
                await conn.execute(sa.select(c.uidvalidity, c.last_uid).where(c.mailbox == mailbox))
            ).one_or_none()
        return (None, 0) if row is None else (int(row.uidvalidity), int(row.last_uid))

    async def set(self, mailbox: str, uidvalidity: int, last_uid: int) -> None:
        now = datetime.now(UTC)
        async with self._store.write() as conn:
            updated = await conn.execute(
                sa.update(mail_cursors)
                .where(c.mailbox == mailbox)
                .values(uidvalidity=uidvalidity, last_uid=last_uid, updated_at=now)
            )
            if not updated.rowcount:
                await insert_rows(
                    conn,
                    mail_cursors,
                    [
                        {
                            "mailbox": mailbox,
                            "uidvalidity": uidvalidity,
                            "last_uid": last_uid,
                            "updated_at": now,
                        }
                    ],
                    skip_conflicts_on=["mailbox"],
                )
