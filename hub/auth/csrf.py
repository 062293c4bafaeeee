"""CSRF tokens for cookie sessions, stateless: derived from the session token itself.

The token is an HMAC-SHA256 of the raw session token under a fixed, domain-separating
key. Only someone who holds the session token can compute it, and the session cookie is
HttpOnly, so a page on another origin cannot read or derive it; the console gets it from
the login response or ``GET /api/v1/me`` and sends it as ``X-CSRF-Token``. It is not the
stored ``token_hash`` (a plain SHA-256), so a leaked sessions table does not give it away.
"""

from __future__ import annotations

import hashlib
import hmac

from hub.errors import CsrfRejected
from hub.untrusted import secrets_equal

HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DOMAIN = b"contacthub/csrf/v1"


def csrf_token(session_token: str) -> str:
    """The CSRF token belonging to a session token (hex)."""
    return hmac.new(_DOMAIN, session_token.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def check_csrf(session_token: str, sent: str | None) -> None:
    """Raise CsrfRejected (403) unless ``sent`` is the session's CSRF token (constant-time compare)."""
    if not sent:
        raise CsrfRejected(
            f"this request needs a CSRF token: send the {HEADER} header from the login "
            "response or GET /api/v1/me"
        )
    if not secrets_equal(sent.strip(), csrf_token(session_token)):
        raise CsrfRejected(
            f"the {HEADER} header does not match this session: send the {HEADER} header from "
            "the login response or GET /api/v1/me"
        )
