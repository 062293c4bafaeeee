"""Console latency benchmark: from an API-channel POST to the offer on the agent's socket.

For each backend it runs the hub in this process (the production app factory on a real
port), signs one available agent in, opens ``/ws/agent``, and sends N messages one after
another, each from a new customer; it times from the POST to the ``conversation.offered``
event for it, and prints p50, p90 and p99. Goal (issue 5): an offer within one second.

    .venv/bin/python bench/console.py [-n 200] [--backend embedded|scaleout|both]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson
import sqlalchemy as sa
from aiohttp.test_utils import TestServer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.app import create_app  # noqa: E402
from hub.auth.sessions import hash_password  # noqa: E402
from hub.keys import STORE, TOKENS  # noqa: E402
from hub.store.tables import agents  # noqa: E402
from tests.conftest import drop_backend, make_settings  # noqa: E402

RULES = """
queues:
  service: {reservation_timeout: 600}
rules:
  - name: everyone
    targets: [{queue: service}]
"""


async def run(backend: str, n: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "routing.yaml").write_text(RULES)
        settings = make_settings(folder, backend, **{"log.level": "WARNING"})
        app = create_app(settings, migrate=True)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        base = str(server.make_url("")).rstrip("/")
        _, token = await app[TOKENS].create("bench")
        async with app[STORE].write() as conn:
            await conn.execute(
                sa.insert(agents).values(
                    id=str(uuid.uuid4()),
                    email="bench@agent.example",
                    name="Bench",
                    role="agent",
                    password_hash=hash_password("bench-password"),
                    presence="offline",
                    languages=["de"],
                    departments=["service"],
                    capacity={"api": n + 10},
                    active=True,
                    created_at=datetime.now(UTC),
                    idle_since=datetime.now(UTC),
                )
            )
        latencies = []
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            resp = await http.post(
                f"{base}/api/v1/auth/login",
                json={"email": "bench@agent.example", "password": "bench-password"},
            )
            assert resp.status == 200, await resp.text()
            csrf = {"X-CSRF-Token": (await resp.json())["csrf_token"]}
            # through the API, so the router hears of the agent
            resp = await http.put(f"{base}/api/v1/me/presence", json={"presence": "available"}, headers=csrf)
            assert resp.status == 200, await resp.text()
            ws = await http.ws_connect(f"{base}/ws/agent")
            api = {"Authorization": f"Bearer {token}"}
            for i in range(n + 10):  # the first ten warm up
                started = time.perf_counter()
                body = {
                    "external_id": f"b-{i}",
                    "from": {"kind": "email", "value": f"c{i}@bench.example"},
                    "text": "Hallo",
                }
                resp = await http.post(f"{base}/api/v1/messages", json=body, headers=api)
                assert resp.status == 202
                async with asyncio.timeout(30):
                    while True:
                        event = orjson.loads((await ws.receive()).data)
                        if event["topic"] == "conversation.offered":
                            break
                if i >= 10:
                    latencies.append(time.perf_counter() - started)
            await ws.close()
        await server.close()
        await drop_backend(settings)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--backend", choices=["embedded", "scaleout", "both"], default="both")
    args = parser.parse_args()
    for backend in ["embedded", "scaleout"] if args.backend == "both" else [args.backend]:
        lat = sorted(asyncio.run(run(backend, args.n)))
        q = statistics.quantiles(lat, n=100)
        print(
            f"{backend:<9} POST -> offer on the socket, {len(lat)} messages: "
            f"p50 {q[49] * 1000:.0f} ms  p90 {q[89] * 1000:.0f} ms  p99 {q[98] * 1000:.0f} ms  "
            f"max {lat[-1] * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
