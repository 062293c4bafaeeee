"""The yardstick: bare aiohttp handlers that parse the same bodies and answer at once
(JSON for the API channel; a form and empty TwiML for an SMS webhook)."""

import sys

import orjson
from aiohttp import web


async def handle(request: web.Request) -> web.Response:
    body = orjson.loads(await request.read())
    return web.json_response({"id": body["external_id"]}, status=202)


async def sms(request: web.Request) -> web.Response:
    form = await request.post()
    assert form["MessageSid"]
    return web.Response(
        text='<?xml version="1.0" encoding="UTF-8"?><Response />', content_type="application/xml"
    )


app = web.Application()
app.router.add_post("/api/v1/messages", handle)
app.router.add_post("/webhooks/twilio/sms", sms)
app.router.add_get("/healthz", lambda r: _ok())


async def _ok() -> web.Response:
    return web.json_response({"status": "ok"})


if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
