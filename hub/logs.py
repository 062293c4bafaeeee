"""Structured logging: one JSON object per line on stderr.

Callers pass fields with ``extra={...}``; never a message body or a full address
(``hub.text.addresses.mask`` redacts them).
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import orjson

from hub.settings import LogSettings

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD:
                doc[key] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


def setup_logging(settings: LogSettings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if settings.format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level)
    logging.getLogger("aiohttp.access").disabled = True  # our middleware logs requests
    # aioimaplib logs whole server responses (mail bodies) at DEBUG: never let them through
    logging.getLogger("aioimaplib").setLevel(max(logging.INFO, root.level))
