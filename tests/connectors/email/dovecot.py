"""A Dovecot of the tests' own: a real IMAP server with IDLE, MOVE and UIDPLUS.

Everything lives in one temp folder (config, maildir, runtime sockets, state, log) and
the server listens on a free loopback port, so the system's Dovecot is never touched.
Any user logs in with ``PASSWORD``, so one server holds many mailboxes: a test worker
starts each kind of server once (``Servers``) and gives each test a mailbox of its own
(``mailbox``). A test that crashes or stops the server has one of its own: ``kill()``
SIGKILLs the whole process group to simulate a crash; ``start()`` again brings it back
on the same port with the same mail. Mail goes in by IMAP APPEND, as a real delivery
would, or (``deliver_files``, for thousands) as files in the maildir, as a local
delivery agent writes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import aioimaplib  # type: ignore[import-untyped]
import pytest

from tests.hubproc import free_port

DOVECOT = Path("/usr/sbin/dovecot")
USER = "agent@example.com"
PASSWORD = "imap-test-secret"
# without IDLE and MOVE: the polling path and the COPY + EXPUNGE fallback
MINIMAL_CAPABILITIES = "IMAP4rev1 LITERAL+ UIDPLUS"


def require_dovecot() -> None:
    """Skip without /usr/sbin/dovecot; with ``CI=true`` fail instead (make test installs
    it: scripts/system-packages.sh)."""
    if DOVECOT.exists():
        return
    reason = f"{DOVECOT} not installed (apt-get install dovecot-imapd)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI=true needs it")
    pytest.skip(reason)


class Dovecot:
    """One Dovecot instance in ``root``, as seen by its ``user``. ``capabilities``
    replaces the advertised list; ``tls`` adds a self-signed certificate (``cert``),
    STARTTLS on ``port`` and implicit TLS on ``tls_port``."""

    def __init__(self, root: Path, *, capabilities: str | None = None, tls: bool = False) -> None:
        self.root = root
        self.port = free_port()
        self.tls_port = free_port() if tls else 0
        self.user = USER
        self.password = PASSWORD
        self.capabilities = capabilities
        self.tls = tls
        self.cert = root / "cert.pem"
        self.log = root / "dovecot.log"
        self._conf = root / "dovecot.conf"
        self._proc: subprocess.Popen[bytes] | None = None
        self._file_clock = 0  # one second per deliver_files call: later calls sort after
        self.shared = False

    def mailbox(self, user: str) -> Dovecot:
        """The same server as another user sees it: a mailbox of its own, empty until
        mail goes in. Such a view cannot stop the server the others use."""
        view = copy.copy(self)
        view.user, view.shared, view._file_clock = user, True, 0
        return view

    def _own(self) -> None:
        if self.shared:
            raise RuntimeError("a shared Dovecot: take a private one (fixture private_dovecot) to stop it")

    # --- the process --------------------------------------------------------------------

    async def start(self) -> None:
        """Start (or restart after ``kill``) and wait until it greets; raise if it cannot."""
        self._own()
        if not self._conf.exists():
            self._configure()
        # runtime sockets and pid file are per run: a crash leaves stale ones behind
        shutil.rmtree(self.root / "run", ignore_errors=True)
        (self.root / "run").mkdir(mode=0o755)
        self._proc = self._spawn()
        for _ in range(200):
            if self._proc.poll() is not None:
                break
            if await self._greets():
                return
            await asyncio.sleep(0.025)
        self.kill()
        raise RuntimeError(f"dovecot did not start: {self._tail()}")

    async def stop(self) -> None:
        """Shut down cleanly (SIGTERM to the master), then make sure no child is left."""
        self._own()
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        for _ in range(200):
            if proc.poll() is not None:
                break
            await asyncio.sleep(0.025)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def kill(self) -> None:
        """SIGKILL the master and all its children at once, as a crash would."""
        self._own()
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def _spawn(self) -> subprocess.Popen[bytes]:
        with open(self.root / "stderr.log", "ab") as stderr:
            return subprocess.Popen(
                [str(DOVECOT), "-F", "-c", str(self._conf)],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,  # its own process group, so kill() gets every child
            )

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    async def _greets(self) -> bool:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            return False
        try:
            return (await asyncio.wait_for(reader.readline(), 2)).startswith(b"* OK")
        except (OSError, TimeoutError):
            return False
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def _tail(self) -> str:
        text = ""
        for path in (self.root / "stderr.log", self.log):
            if path.exists():
                text += path.read_text(errors="replace")[-2000:]
        return text

    def _configure(self) -> None:
        mail = self.root / "mail"
        for folder in (self.root, self.root / "state", mail):
            folder.mkdir(mode=0o755, exist_ok=True)
            folder.chmod(0o755)  # every parent must be traversable for the dovecot user
        shutil.chown(mail, "dovecot", "dovecot")
        lines = [
            "protocols = imap",
            "listen = 127.0.0.1",
            f"base_dir = {self.root / 'run'}",
            f"state_dir = {self.root / 'state'}",
            f"log_path = {self.log}",
            f"instance_name = test-{self.port}",
            "disable_plaintext_auth = no",
            "auth_mechanisms = plain login",
            "auth_verbose = yes",
            "auth_failure_delay = 0",
            # imap-login refuses to run as root
            "default_login_user = dovenull",
            "default_internal_user = dovecot",
            "default_internal_group = dovecot",
            "first_valid_uid = 100",  # Debian's dovecot user is below the default 500
            f"mail_location = maildir:{mail}/%u",
            # every user has the one password: a mailbox per test needs no account made
            f"passdb {{\n  driver = static\n  args = password={PASSWORD}\n}}",
            f"userdb {{\n  driver = static\n  args = uid=dovecot gid=dovecot home={mail}/%u\n}}",
            "service imap-login {",
            f"  inet_listener imap {{\n    port = {self.port}\n  }}",
            f"  inet_listener imaps {{\n    port = {self.tls_port}\n  }}",
            "}",
            # Without the penalty socket, failed logins are not slowed down more and
            # more (2, 4, 8, 15 s), so a client's own retry pace is what a test sees.
            "service anvil {\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n}",
        ]
        if self.capabilities is not None:
            lines.append(f"imap_capability = {self.capabilities}")
        if self.tls:
            key = self.root / "key.pem"
            subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-days", "2", "-subj", "/CN=localhost", "-keyout", str(key),
                 "-out", str(self.cert), "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                check=True, capture_output=True,
            )  # fmt: skip
            lines += ["ssl = yes", f"ssl_cert = <{self.cert}", f"ssl_key = <{key}"]
        else:
            lines.append("ssl = no")
        self._conf.write_text("\n".join(lines) + "\n")

    # --- mail, as a client sees it ------------------------------------------------------

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[Any]:
        """A logged-in aioimaplib client (not selected); logs out afterwards."""
        imap = aioimaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        try:
            await imap.wait_hello_from_server()
            reply = await imap.login(self.user, self.password)
            assert reply.result == "OK", reply
            yield imap
            await imap.logout()
        finally:
            if imap.protocol.transport is not None:
                imap.protocol.transport.close()

    async def append(self, raw: bytes, folder: str = "INBOX") -> None:
        async with self.session() as imap:
            reply = await imap.append(raw, mailbox=folder)
            assert reply.result == "OK", reply

    def deliver_files(self, raws: Iterable[bytes], folder: str = "INBOX") -> int:
        """Write mails into the folder's maildir ``new/`` as a delivery agent does, far
        faster than APPEND; Dovecot gives them UIDs in this order when the folder is
        next opened (it sorts new files by the time in their names). Returns the count."""
        box = self.root / "mail" / self.user
        if folder != "INBOX":
            box = box / f".{folder}"  # Maildir++ subfolder
        for sub in ("cur", "new", "tmp"):
            (box / sub).mkdir(parents=True, exist_ok=True)
        self._file_clock += 1
        count = 0
        for count, raw in enumerate(raws, 1):
            data = raw.replace(b"\r\n", b"\n")  # maildir holds LF; Dovecot serves CRLF
            name = f"{1_700_000_000 + self._file_clock}.M{count:07d}P{os.getpid()}.test,S={len(data)}"
            (box / "new" / name).write_bytes(data)
        dovecot = pwd.getpwnam("dovecot")
        for path in [box, *box.iterdir(), *(box / "new").iterdir()]:
            os.chown(path, dovecot.pw_uid, dovecot.pw_gid)
        for path in (self.root / "mail", self.root / "mail" / self.user):
            os.chown(path, dovecot.pw_uid, dovecot.pw_gid)
        return count

    async def create(self, folder: str) -> None:
        async with self.session() as imap:
            reply = await imap.create(folder)
            assert reply.result == "OK", reply

    async def delete(self, folder: str) -> None:
        async with self.session() as imap:
            reply = await imap.delete(folder)
            assert reply.result == "OK", reply

    async def status(self, folder: str = "INBOX") -> dict[str, int]:
        """``STATUS`` of a folder: MESSAGES, UNSEEN and UIDVALIDITY."""
        async with self.session() as imap:
            reply = await imap.status(folder, "(MESSAGES UNSEEN UIDVALIDITY)")
            assert reply.result == "OK", reply
        text = b" ".join(line for line in reply.lines if isinstance(line, bytes)).decode()
        return {key: int(value) for key, value in re.findall(r"([A-Z]+) (\d+)", text)}

    async def count_seen(self, folder: str = "INBOX") -> int:
        status = await self.status(folder)
        return status["MESSAGES"] - status["UNSEEN"]

    def log_lines(self) -> list[str]:
        """The server's log lines about this user (others share the server)."""
        if not self.log.exists():
            return []
        mark = (f"({self.user})", f"({self.user},", f"user=<{self.user}>")
        lines = self.log.read_text(errors="replace").splitlines()
        return [line for line in lines if any(m in line for m in mark)]

    def failed_logins(self) -> int:
        """This user's logins the server refused so far (from its log)."""
        return sum("Password mismatch" in line for line in self.log_lines())

    def remove_mail(self) -> None:
        """Delete this user's maildir (a test's mailbox when the test is done)."""
        shutil.rmtree(self.root / "mail" / self.user, ignore_errors=True)


class Servers:
    """A test worker's Dovecots, one of each kind (keyword options), each started when
    a test first asks for it and killed at the end of the session."""

    def __init__(self) -> None:
        self._servers: dict[tuple[tuple[str, Any], ...], Dovecot] = {}
        self._users = itertools.count(1)

    async def mailbox(self, **options: Any) -> Dovecot:
        """A fresh mailbox on the server of this kind."""
        require_dovecot()
        key = tuple(sorted(options.items()))
        if key not in self._servers:
            server = Dovecot(Path(tempfile.mkdtemp(prefix="contacthub-dovecot-")), **options)
            try:
                await server.start()
            except BaseException:
                shutil.rmtree(server.root, ignore_errors=True)
                raise
            self._servers[key] = server
        return self._servers[key].mailbox(f"agent-{next(self._users)}-{os.getpid()}@example.com")

    def close(self) -> None:
        for server in self._servers.values():
            server.kill()
            shutil.rmtree(server.root, ignore_errors=True)
        self._servers.clear()


@contextlib.asynccontextmanager
async def running_dovecot(**options: Any) -> AsyncIterator[Dovecot]:
    """A started Dovecot in a temp folder of its own; stopped and removed afterwards."""
    require_dovecot()
    # not pytest's tmp_path: its parents are mode 700, and the dovecot user must traverse
    root = Path(tempfile.mkdtemp(prefix="contacthub-dovecot-"))
    server = Dovecot(root, **options)
    try:
        await server.start()
        yield server
    finally:
        server.kill()  # its folder goes next: a clean shutdown would only take a second longer
        shutil.rmtree(root, ignore_errors=True)
