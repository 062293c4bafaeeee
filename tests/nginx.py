"""nginx for the tests, from the deployment kit's own site file (deploy/nginx/contacthub.conf):
only the certificate (a throwaway one), the listening ports and the upstream's hub
processes are changed, inside a configuration of its own (no system paths)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.hubproc import free_port
from tests.waits import eventually

SITE = Path(__file__).resolve().parent.parent / "deploy" / "nginx" / "contacthub.conf"


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:  # scripts/system-packages.sh test installs it
        pytest.fail("nginx is not installed: run scripts/system-packages.sh test")
    return found


def configure(folder: Path, upstreams: list[int] | None = None) -> tuple[Path, int]:
    """nginx.conf in ``folder`` around the site (its upstream: ``upstreams`` if given);
    the HTTPS port it listens on."""
    key, cert = folder / "hub.key", folder / "hub.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=hub.example.com",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    https, http = free_port(), free_port()
    site = SITE.read_text()
    site = site.replace("/etc/ssl/certs/contacthub.pem", str(cert)).replace(
        "/etc/ssl/private/contacthub.key", str(key)
    )
    site = site.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{http};")
    site = re.sub(r"\n\s*listen \[::\]:\d+[^;]*;", "", site)
    if upstreams is not None:
        servers = "".join(f"    server 127.0.0.1:{p} max_fails=2 fail_timeout=5s;\n" for p in upstreams)
        site = re.sub(
            r"(upstream contacthub \{\n)(?:\s*server [^\n]*\n)+", lambda m: m.group(1) + servers, site
        )
    (folder / "contacthub.conf").write_text(site)
    temp = "\n".join(
        f"    {kind}_temp_path {folder}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = folder / "nginx.conf"
    conf.write_text(
        f"pid {folder}/nginx.pid;\nerror_log {folder}/error.log;\nevents {{}}\n"
        f"http {{\n    access_log off;\n{temp}\n    include {folder}/contacthub.conf;\n}}\n"
    )
    return conf, https


class Nginx:
    def __init__(self, folder: Path, upstreams: list[int]) -> None:
        self.folder = folder
        self.conf, self.port = configure(folder, upstreams)
        self.url = f"https://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        self.proc = subprocess.Popen(
            [nginx_binary(), "-p", str(self.folder), "-c", str(self.conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def listening() -> bool:
            import socket

            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited:\n{(self.folder / 'error.log').read_text()}")
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0

        await eventually(listening, timeout=20, what="nginx listening")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
