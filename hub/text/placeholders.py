"""Placeholders in canned responses (``{{customer.name}}``): filled in the console when an
agent picks one, and here when an automation sends one. An unknown placeholder stays as
written, so that a typo shows rather than vanishes. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping

PLACEHOLDER = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")


def fill(body: str, values: Mapping[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), body)
