"""The signature of what the hub POSTs to others (API channel replies, webhooks): hex
HMAC-SHA256 of ``"<timestamp>.<body>"`` with the receiver's secret, sent as
``X-ContactHub-Signature`` beside ``X-ContactHub-Timestamp``. Pure."""

from __future__ import annotations

import hashlib
import hmac

TIMESTAMP = "X-ContactHub-Timestamp"
SIGNATURE = "X-ContactHub-Signature"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
