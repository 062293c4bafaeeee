"""What a stored message shows beyond its columns: the full text with the quoted history,
the files' Content-IDs, and HTML whose inline images point at the hub. Pure.

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
