"""``contacthub``: serve | worker | migrate | demo | import-customers | retier | dead-letters |
token create.

This is where argv and the environment are read; ``create_app`` gets finished settings.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.errors import ConfigError, InputError
from hub.heap import settle_heap
from hub.settings import Settings, load_settings

if TYPE_CHECKING:
    from hub.queue.base import IngestQueue
    from hub.simulator import Simulator

DEMO_CREDENTIALS = Path("var/demo-credentials.json")


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "host", None):
        overrides["server.host"] = args.host
    if getattr(args, "port", None) is not None:
        overrides["server.port"] = args.port
    return load_settings(args.config, overrides=overrides)


def _settings_with_saved(args: argparse.Namespace) -> Settings:
    """For the processes that run connectors: the connector settings saved in /admin/ too."""
    import os

    from hub.channel_settings import with_saved_sections

    return with_saved_sections(_settings(args), os.environ)


def cmd_serve(args: argparse.Namespace) -> None:
    from aiohttp import web

    from hub.app import create_app
    from hub.logs import setup_logging

    settings = _settings_with_saved(args)
    setup_logging(settings.log)
    app = create_app(settings)
    app.on_startup.append(_settle_heap)  # after the app's own start-up: store, queue, workers
    base = f"http://{settings.server.host}:{settings.server.port}"
    print(
        f"ContactHub listening on {base}\n"
        f"  console  {base}/console/\n"
        f"  demo     {base}/demo/  (a sample company website with the chat widget)\n"
        f"  health   {base}/healthz\n"
        f"  API      {base}/api/v1/openapi.json\n"
        f"  metrics  {base}/metrics",
        flush=True,
    )
    web.run_app(
        app,
        host=settings.server.host,
        port=settings.server.port,
        shutdown_timeout=settings.server.shutdown_timeout,
        access_log=None,
        print=None,
    )


async def _settle_heap(_app: Any) -> None:
    settle_heap()


def cmd_worker(args: argparse.Namespace) -> None:
    """Ingest workers only, no HTTP: for deployments that split accepting from storing."""
    import signal

    from aiohttp import web

    from hub.app import create_app
    from hub.logs import setup_logging

    settings = _settings_with_saved(args)
    if settings.ingest.workers < 1:
        raise ConfigError("ingest.workers: a worker process needs at least 1")
    setup_logging(settings.log)

    async def main() -> None:
        runner = web.AppRunner(create_app(settings))
        await runner.setup()  # opens the store and queue, starts the workers; binds nothing
        settle_heap()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(f"ContactHub ingest worker: {settings.ingest.workers} workers", flush=True)
        await stop.wait()
        await runner.cleanup()

    asyncio.run(main())


def _with_store(
    args: argparse.Namespace, work: Callable[[Any], Awaitable[None]], *, migrated: bool = True
) -> None:
    """Run ``work`` on the store; with ``migrated``, first make sure the database has the
    newest schema (ConfigError naming `contacthub migrate` if not)."""
    from hub.store.engine import Store

    settings = _settings(args)

    async def main() -> None:
        store = Store(settings.database)
        try:
            if migrated:
                await store.require_schema()
            await work(store)
        finally:
            await store.close()

    asyncio.run(main())


def cmd_admin_invite(args: argparse.Namespace) -> None:
    """The first admin of an installation (or one locked out): an invitation link by which
    they set their own password. An unknown email becomes a new admin."""
    import secrets
    import uuid
    from datetime import UTC, datetime

    from hub.auth.sessions import hash_password
    from hub.store.repos import agents as agent_repo
    from hub.web import invitations

    settings = _settings(args)
    email = args.email.strip().lower()
    if "@" not in email:
        raise InputError(f"--email: {args.email!r} is not an email address", field="email")

    async def work(store: Any) -> None:
        now = datetime.now(UTC)
        async with store.write() as conn:
            agent_id = await agent_repo.id_by_email(conn, email)
            if agent_id is None:
                agent_id = str(uuid.uuid4())
                values = {
                    "name": args.name or email.split("@")[0],
                    "role": "admin",
                    "capacity": {},
                    "password_hash": hash_password(secrets.token_urlsafe(32)),  # nobody knows it
                }
                await agent_repo.create(conn, agent_id, email, values, now)
                made = "a new admin"
            else:
                made = f"the existing {await agent_repo.role_of(conn, agent_id)}"
            token = await invitations.issue(conn, agent_id, "system:cli", now)
        base = settings.server.public_url or f"http://{settings.server.host}:{settings.server.port}"
        print(f"{email}: {made}; this link sets their password (valid for 3 days, once):")
        print(invitations.link(base, token))

    _with_store(args, work)


def cmd_move_store(args: argparse.Namespace) -> None:
    """An embedded installation's database, queue and (with --blobs) files to PostgreSQL
    and Redis, compared table by table afterwards."""
    from datetime import UTC, datetime

    from hub.queue.move import move_entries
    from hub.settings import DatabaseSettings
    from hub.store import move, search_index
    from hub.store.backup import contents, copy_blobs
    from hub.store.engine import Store

    settings = _settings(args)
    if not args.to.startswith("postgresql"):
        raise InputError(
            "--to: a PostgreSQL URL, postgresql+asyncpg://user:password@host/database", field="to"
        )
    queue = settings.queue.model_copy(
        update={"backend": "redis", "url": args.redis or settings.queue.url, "key_prefix": args.key_prefix}
    )

    def progress(what: str, done: int) -> None:
        sys.stderr.write(f"\r{what}: {done}   ")

    async def work(source: Any) -> None:
        if source.dialect != "sqlite" or not settings.is_embedded:
            raise InputError(
                "move-store moves an embedded installation (SQLite and its own queue); this is not one"
            )
        holder = await move.serving(source, datetime.now(UTC))
        if holder is not None:
            raise InputError(f"the hub is serving (its router lease is held by {holder}): stop it first")
        target = Store(DatabaseSettings(url=args.to, schema=args.schema))
        try:
            revision, _ = await contents(target)
            if revision is not None:
                raise InputError("the target database is not empty: move into a new database (or schema)")
            await target.migrate()
            copied = await move.copy_rows(source, target, progress)
            indexed = await search_index.rebuild(target, lambda done: progress("search index", done))
            entries = await move_entries(source, queue, progress)
            files = copy_blobs(settings.blobs.path, args.blobs) if args.blobs else None
            sys.stderr.write("\n")
            counts = await move.compare(source, target)
        finally:
            await target.close()
        rows = sum(copied.values())
        print(f"moved and compared: {rows} rows in {len(counts)} tables (each the same on both sides),")
        print(f"  {indexed} documents indexed for search, queue entries {entries or 'none'},")
        where = f"copied to {args.blobs} ({files})" if files else f"they stay in {settings.blobs.path}"
        print(f"  files: {where}")
        print("Now change the configuration and start the hub on the new store:")
        print("  [database]")
        print(f'  url = "{args.to}"')
        if args.schema:
            print(f'  schema = "{args.schema}"')
        print("  [queue]")
        print('  backend = "redis"')
        print(f'  url = "{queue.url}"')
        print(f'  key_prefix = "{queue.key_prefix}"')
        if args.blobs:
            print("  [blobs]")
            print(f'  path = "{args.blobs}"')

    _with_store(args, work)


def cmd_backup(args: argparse.Namespace) -> None:
    from hub.store.backup import backup

    settings = _settings(args)

    async def work(store: Any) -> None:
        made = await backup(store, settings.blobs.path, args.dest)
        print(f"backup written to {args.dest} and checked: {_contents(made)} ({made.blobs['bytes']} bytes)")

    _with_store(args, work, migrated=False)


def cmd_restore(args: argparse.Namespace) -> None:
    from hub.store.backup import restore

    settings = _settings(args)

    async def work(store: Any) -> None:
        made = await restore(store, settings.blobs.path, args.source)
        print(f"restored from {args.source} (made {made.created_at}) and checked: {_contents(made)}")

    _with_store(args, work, migrated=False)


def _contents(made: Any) -> str:
    """What a backup holds (``hub.store.backup.Manifest``): schema, rows per table, files."""
    rows = ", ".join(f"{n} {k}" for k, n in made.counts.items())
    return f"schema {made.revision}; {rows}; {made.blobs['files']} files"


def cmd_migrate(args: argparse.Namespace) -> None:
    async def work(store: Any) -> None:
        await store.migrate()
        print("database is at the newest schema")

    _with_store(args, work, migrated=False)


def cmd_demo(args: argparse.Namespace) -> None:
    import os

    from hub.channel_settings import env_locked
    from hub.customers.records import CustomerRecords
    from hub.customers.tier_config import tiers_in_force
    from hub.demo import TOUR, seed_demo, seed_demo_rules, seed_demo_twilio
    from hub.settings import ServerSettings

    settings = _settings(args)

    async def work(store: Any) -> None:
        await store.migrate()
        tiers = await tiers_in_force(store, settings.customers.tiers_file)
        records = CustomerRecords(tiers, settings.phone.default_region)
        base = settings.server.public_url or f"http://{settings.server.host}:{settings.server.port}"
        port = settings.server.port
        origins = [base.rstrip("/"), f"http://localhost:{port}", f"http://127.0.0.1:{port}"]
        site = settings.connectors.chat.demo_site if settings.connectors.chat.enabled else None
        creds = await seed_demo(store, records, DEMO_CREDENTIALS, site, origins)
        demo_rules = await seed_demo_rules(store, tiers, settings.routing.rules_file)
        print(f"Demo data ready (credentials kept in {DEMO_CREDENTIALS}):")
        for email, agent in creds["agents"].items():
            print(f"  {agent['role']:<10} {email:<34} password {agent['password']}")
        print(f"  API token  {creds['api_token']}")
        print(f"Agent console: {base.rstrip('/')}/console/  (sign in with an agent above)")
        if site:
            print(f"Demo website:  {base.rstrip('/')}/demo/  (chat with the agents from there)")
        phone = f"http://127.0.0.1:{port + 1}"
        twilio = await seed_demo_twilio(store, settings, env_locked(os.environ), base.rstrip("/"), phone)
        if twilio is not None:
            number = twilio.accounts[0].numbers[0]
            # another terminal may not have the port this process was given (make run PORT=…)
            usual = port == ServerSettings.model_fields["port"].default
            hub = "" if usual else f" --hub http://{settings.server.host}:{port}"
            print(f"SMS and calls: a made-up Twilio account with the number {number}; once the hub runs,")
            print(f"  contacthub simulate phone --from +491711234567{hub}   (Erika: a line is an SMS)")
            print(f"  contacthub simulate call --from +491711234567 --text 'Bitte um Rückruf'{hub}")
            if demo_rules:
                print(
                    "A tour of tier routing: sign in as sofia.weber (supervisor), open Supervisor, and text:"
                )
                for sender, text, who, queue in TOUR:
                    print(f"  contacthub simulate sms --from {sender} --text '{text}'{hub}")
                    print(f"      {who}: lands in the {queue} queue")

    _with_store(args, work, migrated=False)


def cmd_token_create(args: argparse.Namespace) -> None:
    from hub.tokens import TokenService

    async def work(store: Any) -> None:
        info, token = await TokenService(store).create(args.name, args.scope or ["ingest"])
        print(f"token {info.id} ({info.name}, scopes {' '.join(info.scopes)}); shown once, keep it safe:")
        print(token)

    _with_store(args, work)


def cmd_import_customers(args: argparse.Namespace) -> None:
    from hub.customers.importer import CustomerImporter
    from hub.customers.records import CustomerRecords
    from hub.customers.tier_config import tiers_in_force

    path: Path = args.file
    fmt = args.format or ("jsonl" if path.suffix in (".jsonl", ".ndjson") else "csv")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SystemExit(f"contacthub: cannot read {path}: {exc}") from exc
    settings = _settings(args)

    def progress(done: int, total: int) -> None:
        width = 30
        filled = int(width * done / total) if total else width
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} rows")
        sys.stderr.flush()

    async def work(store: Any) -> None:
        if store.dialect == "sqlite":
            await store.migrate()
        else:
            await store.require_schema()
        tiers = await tiers_in_force(store, settings.customers.tiers_file)
        records = CustomerRecords(tiers, settings.phone.default_region)
        report = await CustomerImporter(store, records).run(text, fmt, "cli:import", progress)
        sys.stderr.write("\n")
        print(f"created {report.created}, updated {report.updated}, rejected {len(report.rejected)}")
        for rejected in report.rejected[:50]:
            print(f"  line {rejected['line']}: {rejected['reason']}")
        if len(report.rejected) > 50:
            print(f"  ... and {len(report.rejected) - 50} more")

    _with_store(args, work, migrated=False)


def cmd_retier(args: argparse.Namespace) -> None:
    from hub.customers.retier import retier_all
    from hub.customers.tier_config import tiers_in_force

    settings = _settings(args)

    async def work(store: Any) -> None:
        def progress(seen: int) -> None:
            sys.stderr.write(f"\r{seen} customers checked")

        tiers = await tiers_in_force(store, settings.customers.tiers_file)
        changed = await retier_all(store, tiers, progress)
        sys.stderr.write("\n")
        print(f"{changed} customers changed tier")

    _with_store(args, work)


def cmd_reindex_search(args: argparse.Namespace) -> None:
    from hub.store.search_index import rebuild

    async def work(store: Any) -> None:
        def progress(done: int) -> None:
            sys.stderr.write(f"\r{done} documents indexed")

        total = await rebuild(store, progress)
        sys.stderr.write("\n")
        print(f"{total} documents indexed")

    _with_store(args, work)


def cmd_reports(args: argparse.Namespace) -> None:
    from datetime import UTC, datetime, timedelta

    from hub.reports.refresh import rebuild

    # up to the settle margin, as the hub's refresh: what is recorded later it counts
    settle = timedelta(seconds=_settings(args).reports.settle_seconds)

    async def work(store: Any) -> None:
        hours = await rebuild(store, datetime.now(UTC), settle)
        print(f"report rollups rebuilt: {hours} hours")

    _with_store(args, work)


def cmd_health(args: argparse.Namespace) -> None:
    from datetime import UTC, datetime

    from hub.customers.health_config import rules_in_force
    from hub.customers.health_run import recompute_all

    async def work(store: Any) -> None:
        done = await recompute_all(
            store,
            await rules_in_force(store),
            datetime.now(UTC),
            lambda n: print(f"  {n} customers", flush=True),
        )
        print(f"customer health recomputed: {done} customers")

    _with_store(args, work)


def cmd_simulate(args: argparse.Namespace) -> None:
    from hub.simulator import Simulator

    settings = _settings_with_saved(args)  # a demo's or an admin's Twilio settings too
    hub = args.hub or f"http://{settings.server.host}:{settings.server.port}"
    # the phone shows what a customer sees, not each request
    simulator = Simulator(settings, hub, say=(lambda _: None) if args.kind == "phone" else print)
    if args.kind == "phone":
        try:
            asyncio.run(_phone(simulator, args.sender))
        except KeyboardInterrupt:
            print("phone off")
    elif args.kind == "sms":
        asyncio.run(simulator.sms(args.sender, args.text or "Hallo"))
    else:
        asyncio.run(simulator.call(args.sender, args.digits, args.text))


async def _phone(simulator: Simulator, sender: str) -> None:
    from hub.simulator import SimulatedPhone

    async def typed() -> AsyncIterator[str]:
        """Standard input's lines, read by a daemon thread: Ctrl-C never waits for Enter."""
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str] = asyncio.Queue()

        def read() -> None:
            for line in sys.stdin:
                loop.call_soon_threadsafe(lines.put_nowait, line)
            loop.call_soon_threadsafe(lines.put_nowait, "")  # the end

        threading.Thread(target=read, name="stdin", daemon=True).start()
        while line := await lines.get():
            yield line

    await SimulatedPhone(simulator, lambda text: print(text, flush=True)).run(sender, typed())


def cmd_dead_letters(args: argparse.Namespace) -> None:
    """Look at and replay what used up its attempts, on either queue backend."""
    import redis.asyncio as aioredis

    from hub.queue import open_queue
    from hub.store.engine import Store

    settings = _settings(args)

    async def main() -> None:
        store = Store(settings.database)
        client = aioredis.Redis.from_url(settings.queue.url) if settings.queue.backend == "redis" else None
        queue: IngestQueue[bytes] = open_queue(
            settings.queue, args.queue, lambda b: b, store=store, redis=client
        )
        try:
            await {"list": _dead_list, "show": _dead_show, "replay": _dead_replay}[args.dead_command](
                queue, args
            )
        finally:
            await queue.close()
            if client is not None:
                await client.aclose()
            await store.close()

    asyncio.run(main())


async def _dead_list(queue: IngestQueue[bytes], args: argparse.Namespace) -> None:
    entries = await queue.dead_letters(args.limit)
    if not entries:
        print(f"no dead letters in queue {args.queue}")
        return
    for d in entries:
        error = (d.error.splitlines() or [""])[0][:100]
        print(f"{d.id}  {_when(d.at)}  attempts={d.attempts}  {_what(args.queue, d.payload)}  error: {error}")
    more = await queue.dead_count() - len(entries)
    if more > 0:
        print(f"... and {more} more (--limit)")


async def _dead_show(queue: IngestQueue[bytes], args: argparse.Namespace) -> None:
    """The error in full and what the message is, never its body: an operator decides
    whether to replay it without reading a customer's words."""
    from hub.queue.codec import decode_message
    from hub.text.addresses import mask

    d = await queue.dead_letter(args.id)
    if d is None:
        raise InputError(f"no dead letter {args.id} in queue {args.queue}")
    print(f"id:              {d.id}\ndead-lettered:   {_when(d.at)}\nattempts:        {d.attempts}")
    print("error:           " + d.error.replace("\n", "\n                 "))
    if args.queue != "ingest":
        print(f"payload:         {len(d.payload)} bytes")
        return
    try:
        msg = decode_message(d.payload)
    except ValueError as exc:
        print(f"payload:         {len(d.payload)} bytes, not a readable message ({exc})")
        return
    attachments = ", ".join(f"{a.content_type} {a.size} bytes" for a in msg.attachments) or "none"
    rows = [
        ("channel", msg.channel.value),
        ("external id", msg.external_id),
        ("kind", msg.kind.value),
        ("sender", mask(msg.sender.kind, msg.sender.value)),
        ("recipient", msg.recipient.value if msg.recipient else "-"),
        ("received", msg.received_at.isoformat()),
        ("subject", f"{len(msg.subject)} characters" if msg.subject else "-"),
        ("text", f"{len(msg.text)} characters" + (", and HTML" if msg.html else "")),
        ("attachments", attachments),
        ("meta", ", ".join(sorted(msg.meta)) or "-"),
    ]
    for name, value in rows:
        print(f"{name + ':':<17}{value}")


async def _dead_replay(queue: IngestQueue[bytes], args: argparse.Namespace) -> None:
    ids = list(args.ids)
    if args.all:
        ids = [d.id for d in await queue.dead_letters(1_000_000)]
    if not ids:
        raise InputError("name the dead letters to replay, or --all")
    missing = []
    for dead_id in ids:
        new_id = await queue.replay(dead_id)
        if new_id is None:
            missing.append(dead_id)
        else:
            print(f"replayed {dead_id} as entry {new_id} (attempts reset)")
    if missing:
        raise InputError(f"no dead letter {', '.join(missing)} in queue {args.queue}")


def _when(at: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def _what(queue: str, payload: bytes) -> str:
    from hub.queue.codec import decode_message

    if queue != "ingest":
        return f"{len(payload)} bytes"
    try:
        msg = decode_message(payload)
    except ValueError:
        return f"unreadable ({len(payload)} bytes)"
    return f"{msg.channel.value} {msg.external_id}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="contacthub", description="ContactHub contact-center hub")
    parser.add_argument("--config", type=Path, help="settings file (default config/contacthub.toml)")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the hub")
    serve.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="run ingest workers only (no HTTP)")
    worker.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    worker.set_defaults(func=cmd_worker)

    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    migrate.set_defaults(func=cmd_migrate)

    admin = sub.add_parser(
        "admin-invite",
        help="an invitation link for an admin (a new one for an unknown email) to set a password",
    )
    admin.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", help="for a new admin (default: the email's local part)")
    admin.set_defaults(func=cmd_admin_invite)
    mover = sub.add_parser(
        "move-store",
        help="move an embedded installation (stopped) to PostgreSQL and Redis, compared afterwards",
    )
    mover.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    mover.add_argument("--to", required=True, help="postgresql+asyncpg://user:password@host/database (empty)")
    mover.add_argument("--schema", help="a schema of that database to put the tables in (default: public)")
    mover.add_argument("--redis", help="redis://host:port/db for the queue (default: queue.url)")
    mover.add_argument(
        "--key-prefix", default="contacthub:", help="the queue's Redis keys (default contacthub:)"
    )
    mover.add_argument("--blobs", type=Path, help="copy the files to this folder too (default: they stay)")
    mover.set_defaults(func=cmd_move_store)
    backup = sub.add_parser(
        "backup", help="a consistent copy of the database and the files into a new folder, checked"
    )
    backup.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    backup.add_argument("dest", type=Path, help="a folder that does not exist yet (or is empty)")
    backup.set_defaults(func=cmd_backup)
    restore = sub.add_parser("restore", help="restore a backup into a fresh installation (an empty database)")
    restore.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    restore.add_argument("source", type=Path, help="the folder `contacthub backup` wrote")
    restore.set_defaults(func=cmd_restore)
    demo = sub.add_parser("demo", help="seed demo agents, customers and a token (idempotent)")
    demo.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    demo.set_defaults(func=cmd_demo)

    imp = sub.add_parser("import-customers", help="upsert customers from a CSV or JSON-lines file")
    imp.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    imp.add_argument("file", type=Path)
    imp.add_argument("--format", choices=["csv", "jsonl"], help="default: by the file's suffix")
    imp.set_defaults(func=cmd_import_customers)

    retier = sub.add_parser("retier", help="recompute every tier after the tier rules changed")
    retier.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    retier.set_defaults(func=cmd_retier)

    reindex = sub.add_parser(
        "reindex-search", help="index every message, note and customer afresh (after upgrading to 0018)"
    )
    reindex.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    reindex.set_defaults(func=cmd_reindex_search)

    reports = sub.add_parser("reports", help="the report rollups")
    reports.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    reports_sub = reports.add_subparsers(dest="reports_command", required=True)
    reports_sub.add_parser(
        "rebuild", help="recompute every hour from the stored events (after an import of history)"
    )
    reports.set_defaults(func=cmd_reports)

    health = sub.add_parser("health", help="customer health")
    health.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    health_sub = health.add_subparsers(dest="health_command", required=True)
    health_sub.add_parser("recompute", help="compute every customer's health now (after changing its rules)")
    health.set_defaults(func=cmd_health)

    simulate = sub.add_parser(
        "simulate",
        help="a customer's side of Twilio (an SMS, a call, a phone) against a running hub",
    )
    simulate.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    simulate.add_argument(
        "kind", choices=["sms", "call", "phone"], help="phone: stay on, send typed lines, show replies"
    )
    simulate.add_argument("--from", dest="sender", required=True, help="the customer's number")
    simulate.add_argument("--text", help="the SMS text, or a call's voicemail transcription")
    simulate.add_argument("--digits", default="1", help="the menu choice of a call (default 1)")
    simulate.add_argument("--hub", help="the hub's address (default: server.host and server.port)")
    simulate.set_defaults(func=cmd_simulate)

    dead = sub.add_parser("dead-letters", help="list, show and replay entries that used up their attempts")
    dead.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    dead.add_argument("--queue", default="ingest", help="the queue (default: ingest)")
    dead_sub = dead.add_subparsers(dest="dead_command", required=True)
    dead_list = dead_sub.add_parser("list", help="the oldest first: id, when, attempts, what, error")
    dead_list.add_argument("--limit", type=int, default=100)
    dead_show = dead_sub.add_parser("show", help="the error in full and the message's metadata (no body)")
    dead_show.add_argument("id")
    dead_replay = dead_sub.add_parser("replay", help="put entries back on the queue, attempts reset")
    dead_replay.add_argument("ids", nargs="*")
    dead_replay.add_argument("--all", action="store_true", help="every dead letter of the queue")
    dead.set_defaults(func=cmd_dead_letters)

    from hub.tokens import SCOPES

    token = sub.add_parser("token", help="API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="create an API token and print it once")
    create.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    create.add_argument("--name", default="integration")
    create.add_argument(
        "--scope",
        action="append",
        choices=list(SCOPES),
        help="what it may do (repeat for several; default ingest)",
    )
    create.set_defaults(func=cmd_token_create)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except ConfigError as exc:
        print(f"contacthub: configuration error: {exc.detail}", file=sys.stderr)
        sys.exit(2)
    except InputError as exc:
        print(f"contacthub: {exc.detail}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
