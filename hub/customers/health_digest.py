"""The daily digest: to each key account manager who was away (not available in the
console) when one of their accounts went at risk, one mail a day, from ``digest_hour``
in the hub's time zone, listing those accounts since the last digest with their score
and top reasons. Sent once a day by one hub process: it claims the day first, and gives
it back when a mail could not go out, so the next round tries again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hub.store.engine import Store
from hub.store.repos import health as repo
from hub.store.repos.health import WentAtRisk

# sends one mail: (to, subject, text); raises when it cannot
Mailer = Callable[[str, str, str], Awaitable[None]]

_WORDS = {
    "en": {
        "subject": "{n} of your accounts went at risk",
        "hello": "Hello {name},",
        "intro": "while you were away, these of your accounts went at risk:",
        "line": "- {customer}: score {score} ({at})",
        "end": "The early-warning list in the console has the details.",
    },
    "de": {
        "subject": "{n} Ihrer Kunden sind gefährdet",
        "hello": "Hallo {name},",
        "intro": "während Sie nicht da waren, sind diese Ihrer Kunden gefährdet:",
        "line": "- {customer}: Wert {score} ({at})",
        "end": "Die Frühwarnung in der Konsole zeigt die Einzelheiten.",
    },
}
_SIGNALS = {
    "en": {
        "complaint": "complaint",
        "sla_breach": "answer promise broken",
        "reopened": "wrote again after closing",
        "waiting": "conversation open for days",
        "revenue_decline": "revenue falling",
        "contract_cancelled": "contract cancelled",
        "notice_due": "notice deadline near",
        "silence": "no contact for months",
    },
    "de": {
        "complaint": "Beschwerde",
        "sla_breach": "Antwortversprechen gebrochen",
        "reopened": "nach Abschluss erneut geschrieben",
        "waiting": "Gespräch seit Tagen offen",
        "revenue_decline": "Umsatz sinkt",
        "contract_cancelled": "Vertrag gekündigt",
        "notice_due": "Kündigungsfrist naht",
        "silence": "seit Monaten kein Kontakt",
    },
}


def render(items: Sequence[WentAtRisk], zone: ZoneInfo) -> tuple[str, str]:
    """The subject and text of one manager's digest, in their first language (de or en)."""
    first = items[0]
    language = next((lang for lang in first.manager_languages if lang in _WORDS), "en")
    words, signals = _WORDS[language], _SIGNALS[language]
    lines = [words["hello"].format(name=first.manager_name), "", words["intro"], ""]
    for item in items:
        when = item.at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        lines.append(
            words["line"].format(customer=item.customer_name or item.customer_id, score=item.score, at=when)
        )
        lines += [
            f"  {r.get('points')} {signals.get(str(r.get('signal')), r.get('signal'))}" for r in item.reasons
        ]
    lines += ["", words["end"]]
    return words["subject"].format(n=len({i.customer_id for i in items})), "\n".join(lines) + "\n"


async def send_digests(store: Store, mailer: Mailer, now: datetime, zone: ZoneInfo, hour: int) -> int:
    """The day's digests, when they are due; how many mails went out."""
    local = now.astimezone(zone)
    if local.hour < hour:
        return 0
    async with store.write() as conn:
        await repo.lock(conn)
        last = await repo.state(conn, "digest")
        if last is not None and last[1].astimezone(zone).date() >= local.date():
            return 0  # sent today (or claimed by another process)
        await repo.set_state(conn, "digest", 0, now)  # claimed
    since = last[1] if last is not None else now - timedelta(days=1)
    async with store.read() as conn:
        found = await repo.went_at_risk(conn, since, now)
    by_manager: dict[str, list[WentAtRisk]] = {}
    for item in found:
        by_manager.setdefault(item.manager_id, []).append(item)
    sent = 0
    try:
        for items in by_manager.values():
            subject, text = render(items, zone)
            await mailer(items[0].manager_email, subject, text)
            sent += 1
    except Exception:
        async with store.write() as conn:  # given back: the next round tries the day again
            if last is None:
                await repo.clear_state(conn, "digest")
            else:
                await repo.set_state(conn, "digest", last[0], last[1])
        raise
    return sent
