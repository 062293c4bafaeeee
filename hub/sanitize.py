"""HTML from outside is cleaned once, before it is stored (ARCHITECTURE §3), with nh3.

nh3's defaults keep the formatting tags of mail and drop scripts, event handlers,
``javascript:`` links and styles; links get ``rel="noopener noreferrer"``. Pure.
"""

from __future__ import annotations

import nh3


def clean_html(html: str | None) -> str | None:
    """The sanitised HTML, or None when there is none (or nothing survives)."""
    if not html:
        return None
    return nh3.clean(html) or None
