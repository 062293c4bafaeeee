"""HTML from outside is cleaned once, before it is stored (ARCHITECTURE §3), with nh3.

nh3's defaults keep the formatting tags of mail and drop scripts, event handlers,
``javascript:`` links and styles; links get ``rel="noopener noreferrer"``. Pure.

Mail shows its inline images with ``cid:`` references (RFC 2392) to parts of the same
message. Such a reference is inert (it names no resource outside the message), so it is
kept on ``<img src>`` when HTML is stored and dropped everywhere else. When the message
is shown, ``link_inline_images`` rewrites each one to the hub's URL for that part.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import unquote

import nh3

_CID = "cid:"
_SCHEMES = nh3.ALLOWED_URL_SCHEMES | {"cid"}
# attributes that hold a URL: a cid: in any other one is plain text and stays
_URL_ATTRIBUTES = frozenset({"href", "src", "cite", "longdesc", "srcset", "background", "action", "poster"})
# what link_inline_images may write: a path on the hub itself (nh3 does not check a
# value its attribute filter returns)
_HUB_PATH = re.compile(r"/[A-Za-z0-9_.~-][A-Za-z0-9/_.~-]*")


def clean_html(html: str | None) -> str | None:
    """The sanitised HTML, or None when there is none (or nothing survives). ``cid:``
    references stay on ``<img src>`` only."""
    if not html:
        return None
    if _CID not in html.lower():
        return nh3.clean(html) or None
    return nh3.clean(html, url_schemes=_SCHEMES, attribute_filter=_keep_image_cids) or None


def link_inline_images(html: str | None, urls: Mapping[str, str]) -> str | None:
    """Sanitised ``html`` with each ``<img src="cid:...">`` pointing at ``urls``' entry
    for its Content-ID (given without angle brackets); a reference to a part not in
    ``urls`` is dropped, and so is a URL that is not a plain path on the hub. The result
    is sanitised again, so it is never less safe than ``clean_html``'s. HTML without
    ``cid:`` comes back unchanged."""
    if not html or _CID not in html.lower():
        return html

    def rewrite(tag: str, attribute: str, value: str) -> str | None:
        if attribute not in _URL_ATTRIBUTES or not value.lower().startswith(_CID):
            return value
        if (tag, attribute) != ("img", "src"):
            return None
        url = urls.get(unquote(value[len(_CID) :]).strip().strip("<>"))
        return url if url is not None and _HUB_PATH.fullmatch(url) else None

    return nh3.clean(html, url_schemes=_SCHEMES, attribute_filter=rewrite) or None


def _keep_image_cids(tag: str, attribute: str, value: str) -> str | None:
    if attribute in _URL_ATTRIBUTES and value.lower().startswith(_CID) and (tag, attribute) != ("img", "src"):
        return None
    return value
