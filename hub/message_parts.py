"""What a stored message shows beyond its columns: the full text with the quoted history,
the files' Content-IDs, HTML whose inline images point at the hub, and which of its
channel extras (``meta``) an agent sees. Pure.

Channels keep these in the message's ``meta`` (no column of their own): ``full_text``
is the whole text when ``text`` is only the visible part, and ``content_ids`` is JSON
``{filename: content-id}`` (file names are unique within a message). Malformed values
are ignored, never an error: meta is written by connectors, not checked by the store.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hub.sanitize import link_inline_images

# call and fax details the console shows; other channel extras stay in the store
SHOWN_META = {
    *("event", "duration", "recording_url", "transcription", "direction", "cause", "pages"),
    # the chat widget: where the visitor wrote from, their offline form, others' contacts they named
    *("site", "page_url", "page_title", "department", "language", "offline", "reply_email", "reply_phone"),
    *("claimed_email", "claimed_phone"),
    # email: the mailbox it came to, and why it must not be answered automatically
    *("mailbox", "auto", "out_of_office", "bounce"),
    # fax: its gateway, and whether its pages could be shown and read
    *("provider", "render", "render_error", "ocr", "pages_shown"),
}


def shown_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The channel extras an agent sees (``SHOWN_META``); the rest stays in the store."""
    return {k: v for k, v in meta.items() if k in SHOWN_META}


def attachment_url(attachment_id: int) -> str:
    """Where the console downloads an attachment (hub/web/console.py)."""
    return f"/api/v1/attachments/{attachment_id}"


def full_text(meta: Mapping[str, Any]) -> str | None:
    """The full text of a message whose ``text`` leaves out quoted history, else None."""
    value = meta.get("full_text")
    return value if isinstance(value, str) and value else None


def with_content_ids(files: list[dict[str, Any]], meta: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``files`` (each with ``id`` and ``filename``), each with its ``content_id`` or None."""
    found = _content_ids(meta.get("content_ids"))
    return [{**f, "content_id": found.get(f["filename"])} for f in files]


def shown_html(html: str | None, files: list[dict[str, Any]]) -> str | None:
    """Stored (sanitised) HTML with its ``cid:`` images pointing at ``files``' URLs."""
    urls = {f["content_id"]: attachment_url(f["id"]) for f in files if f.get("content_id")}
    return link_inline_images(html, urls)


def _content_ids(value: Any) -> dict[str, str]:
    if not isinstance(value, str) or not value:
        return {}
    try:
        found = json.loads(value)
    except ValueError:
        return {}
    if not isinstance(found, dict):
        return {}
    return {k: v for k, v in found.items() if isinstance(k, str) and isinstance(v, str) and v}
