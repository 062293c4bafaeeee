"""Email throughput benchmark: mails APPENDed to a real Dovecot until the hub has stored them.

A private Dovecot (as the tests run it) and the hub as its own process, watching the
mailbox with IMAP IDLE. This process APPENDs N mails (from a few IMAP sessions at once)
and waits until the hub has stored every one; it prints how long the APPENDs took, the
time until all were stored, and mails/s.

    .venv/bin/python bench/mail.py [-n 2000] [--sessions 4] [--backend embedded|scaleout]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and its name would hide
# the standard library's email package.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from email.message import EmailMessage  # noqa: E402

import sqlalchemy as sa  # noqa: E402

from hub.store.engine import Store  # noqa: E402
from hub.store.tables import messages  # noqa: E402
from tests.conftest import drop_backend, make_settings  # noqa: E402
from tests.connectors.email.dovecot import running_dovecot  # noqa: E402
from tests.hubproc import HubProcess  # noqa: E402


def mails(n: int) -> list[bytes]:
    out = []
    for i in range(n):
        msg = EmailMessage()
        msg["From"] = f"Kunde {i} <kunde{i % 400}@firma.example>"
        msg["To"] = "service@nordlicht.example"
        msg["Subject"] = f"Zählerstand {i}"
        msg["Message-ID"] = f"<bench-{i}@firma.example>"
        msg.set_content(f"Guten Tag,\nmein Zählerstand ist {4711 + i}.\n\n> Zitat\n\nViele Grüße")
        out.append(msg.as_bytes())
    return out


async def stored(store: Store) -> int:
    async with store.read() as conn:
        return int(
            await conn.scalar(
                sa.select(sa.func.count()).select_from(messages).where(messages.c.channel == "email")
            )
            or 0
        )


async def run(n: int, sessions: int, backend: str) -> None:
    bodies = mails(n)
    async with running_dovecot() as dovecot:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            settings = make_settings(
                folder,
                backend,
                **{
                    "log.level": "WARNING",
                    "connectors.email.enabled": True,
                    "connectors.email.mailboxes": {
                        "service": {
                            "host": "127.0.0.1",
                            "port": dovecot.port,
                            "security": "none",
                            "user": dovecot.user,
                            "password": dovecot.password,
                        }
                    },
                },
            )
            store = Store(settings.database)
            await store.migrate()
            hub = HubProcess(folder / "contacthub.toml", folder)
            await hub.start()
            try:
                started = time.perf_counter()

                async def appender(part: list[bytes]) -> None:
                    async with dovecot.session() as imap:  # one login per session, as a relay would
                        for raw in part:
                            reply = await imap.append(raw, mailbox="INBOX")
                            assert reply.result == "OK", reply

                await asyncio.gather(*(appender(bodies[k::sessions]) for k in range(sessions)))
                appended = time.perf_counter() - started
                while (count := await stored(store)) < n:
                    if time.perf_counter() - started > 600:
                        raise SystemExit(f"only {count} of {n} stored after 600 s")
                    await asyncio.sleep(0.1)
                total = time.perf_counter() - started
                print(f"{backend}: {n} mails APPENDed in {appended:.1f} s ({sessions} IMAP sessions)")
                print(f"  all stored {total:.1f} s after the first APPEND: {n / total:.0f} mails/s")
            finally:
                hub.stop()
                await store.close()
                await drop_backend(settings)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--backend", choices=("embedded", "scaleout"), default="embedded")
    args = parser.parse_args()
    asyncio.run(run(args.n, args.sessions, args.backend))


if __name__ == "__main__":
    main()
