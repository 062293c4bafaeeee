"""The error tree. Every error maps to exactly one HTTP status (ARCHITECTURE §8).

    HubError                      500  our bug, or an unexpected state
    ├── InputError                422  bad input; names the field
    │   └── PayloadRejected       400  a provider or client payload we cannot read
    ├── PayloadTooLarge           413
    ├── UnsupportedMediaType      415
    ├── Unauthenticated           401  no or unknown credentials
    ├── Forbidden                 403  bad signature, or a role that may not do this
    ├── NotFound                  404
    ├── Conflict                  409
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


class Forbidden(HubError):
    status = 403
    slug = "forbidden"
    title = "Forbidden"


class NotFound(HubError):
    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(HubError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class Ignored(HubError):
    status = 200
    slug = "ignored"
    title = "Ignored"


class ServiceUnavailable(HubError):
    status = 503
    slug = "unavailable"
    title = "Service unavailable"


class ConfigError(HubError):
    """A setting is wrong; raised before anything serves. Not an HTTP error."""

    slug = "config"
    title = "Configuration error"
