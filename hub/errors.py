"""The error tree. Every error maps to exactly one HTTP status (ARCHITECTURE §8).

    HubError                      500  our bug, or an unexpected state
    ├── InputError                422  bad input; names the field
    │   └── PayloadRejected       400  a provider or client payload we cannot read
    ├── PayloadTooLarge           413
    ├── UnsupportedMediaType      415
    ├── Unauthenticated           401  no or unknown credentials
    │   ├── TotpRequired          401  the password was right; send the two-factor code too
    │   └── TotpInvalid           401  the two-factor code is wrong
    ├── Forbidden                 403  bad signature, or a role that may not do this
    │   ├── CsrfRejected          403  a cookie request without its session's X-CSRF-Token
    │   └── TotpSetupRequired     403  the session may only enrol in two-factor authentication
    ├── NotFound                  404
    ├── Conflict                  409
    ├── TooManyRequests           429  rate limited; ``retry_after`` seconds go in Retry-After
    ├── Ignored                   200  a known event we choose not to act on
    ├── ServiceUnavailable        503  store or queue unreachable: retry later
    └── ConfigError               --   refuses start-up; never reaches HTTP

The web layer turns these into ``application/problem+json``; the type URI is
``https://contacthub.dev/problems/<slug>``.
"""

from __future__ import annotations


class HubError(Exception):
    status = 500
    slug = "internal"
    title = "Internal error"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class InputError(HubError):
    status = 422
    slug = "invalid-input"
    title = "Invalid input"


class PayloadRejected(InputError):
    status = 400
    slug = "bad-request"
    title = "Bad request"


class PayloadTooLarge(HubError):
    status = 413
    slug = "payload-too-large"
    title = "Payload too large"


class UnsupportedMediaType(HubError):
    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported media type"


class Unauthenticated(HubError):
    status = 401
    slug = "unauthenticated"
    title = "Authentication required"


class TotpRequired(Unauthenticated):
    slug = "totp-required"
    title = "Two-factor code required"


class TotpInvalid(Unauthenticated):
    slug = "totp-invalid"
    title = "Two-factor code wrong"


class Forbidden(HubError):
    status = 403
    slug = "forbidden"
    title = "Forbidden"


class CsrfRejected(Forbidden):
    slug = "csrf"
    title = "CSRF token missing or wrong"


class TotpSetupRequired(Forbidden):
    slug = "totp-setup-required"
    title = "Two-factor setup required"


class NotFound(HubError):
    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(HubError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class TooManyRequests(HubError):
    """Rate limited; the web layer sends ``retry_after`` (whole seconds) as Retry-After."""

    status = 429
    slug = "too-many-requests"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = max(1, retry_after)


class Ignored(HubError):
    status = 200
    slug = "ignored"
    title = "Ignored"


class ServiceUnavailable(HubError):
    status = 503
    slug = "unavailable"
    title = "Service unavailable"


class ConfigError(HubError):
    """A setting is wrong; raised before anything serves. Not an HTTP error.

    ``field`` is the path of the wrong value where one is known (``rules[2].when``) and
    ``position`` the character offset of an expression error in it, for editors to mark."""

    slug = "config"
    title = "Configuration error"

    def __init__(self, detail: str, *, field: str | None = None, position: int | None = None) -> None:
        super().__init__(detail, field=field)
        self.position = position
