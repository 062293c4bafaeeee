"""The yardstick: a bare aiohttp handler that parses the same body and answers 202."""

import sys

import orjson
from aiohttp import web


async def handle(request: web.Request) -> web.Response:
    body = orjson.loads(await request.read())
    return web.json_response({"id": body["external_id"]}, status=202)


app = web.Application()
app.router.add_post("/api/v1/messages", handle)
app.router.add_get("/healthz", lambda r: _ok())


async def _ok() -> web.Response:
    return web.json_response({"status": "ok"})


if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
