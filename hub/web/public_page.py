"""A small page of the hub for someone who is not signed in (a survey's link, a
campaign's unsubscribe link): German or English, no script, nothing from elsewhere."""

from __future__ import annotations

import html

from aiohttp import web

PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
STYLE = (
    "body{font:1.1rem/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b}"
    "button{font:inherit;padding:.4rem .8rem;margin:.2rem;border:1px solid #555;border-radius:.4rem;"
    "background:#fff}"
    "button:focus{outline:3px solid #0a58ca}.stars button{font-size:1.6rem}"
    "textarea{width:100%;font:inherit}"
)


def public_page(language: str, title: str, status: int, *parts: str) -> web.Response:
    """``parts`` are HTML the caller escaped."""
    body = (
        f'<!doctype html><html lang="{html.escape(language)}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main><h1>{html.escape(title)}</h1>{''.join(parts)}</main></body></html>"
    )
    return web.Response(
        text=body,
        status=status,
        content_type="text/html",
        headers={
            "Content-Security-Policy": PAGE_CSP,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


def page_language(request: web.Request) -> str:
    """German for a browser that asks for it first, else English."""
    return "de" if request.headers.get("Accept-Language", "").lower().startswith("de") else "en"
