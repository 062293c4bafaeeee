"""Checking ``X-Twilio-Signature`` on a webhook. The ``twilio`` library does the HMAC
(``RequestValidator``: the URL with and without its port, parameters sorted by name,
repeated names with sorted values, constant-time compare); around it this module feeds
it what Twilio signed:

- the public URL Twilio requested (configured, so a TLS-terminating proxy or another
  port in front of the hub does not break the check), verbatim;
- a form body as a multi-valued mapping; a JSON body by its ``bodySHA256`` query
  parameter, and a JSON body without one fails;
- an apostrophe in the URL as Twilio may have encoded it (``'`` or ``%27``);
- the URL verbatim as well, since the library lower-cases the scheme when it adds or
  removes the port;
- the signature header compared as bytes (``secrets_equal``): one that is not ASCII
  simply does not match;
- the algorithm a Webhook Setting names (``X-Twilio-Webhooks-Signature-Settings``):
  HMAC-SHA1 by default, HMAC-SHA256 with a SharedKey; any other fails.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from urllib.parse import parse_qs, urlsplit

from multidict import MultiDict, MultiDictProxy
from twilio.request_validator import HMAC_SHA1, HMAC_SHA256, RequestValidator

from hub.untrusted import secrets_equal


def signature_valid(
    token: str,
    url: str,
    signature: str | None,
    *,
    form: Mapping[str, str] | MultiDict[str] | MultiDictProxy[str] | None = None,
    json_body: str | None = None,
    algorithm: str = HMAC_SHA1,
) -> bool:
    """Whether ``signature`` is Twilio's for this request, signed with ``token`` (an auth
    token, or a SharedKey secret) by ``algorithm``."""
    if not signature or not token or algorithm.upper() not in (HMAC_SHA1, HMAC_SHA256):
        return False
    validator = _validator(token)
    # the library needs a multi-valued map; the webhook's own form is one already
    form_params = form if isinstance(form, MultiDict | MultiDictProxy) else MultiDict(form or {})
    params: str | MultiDict[str] | MultiDictProxy[str] = form_params
    signed_params: MultiDict[str] | MultiDictProxy[str] = form_params
    if json_body is not None:
        body_hash = parse_qs(urlsplit(url).query).get("bodySHA256")
        if not body_hash or not secrets_equal(body_hash[0], validator.compute_hash(json_body)):
            return False  # a raw body is only signed through its hash in the URL
        params, signed_params = json_body, MultiDict()
    signed_as_configured = json_body is None and secrets_equal(
        signature, validator.compute_signature(url, form_params, algorithm)
    )
    if signed_as_configured:
        return True  # the common case, one HMAC: signed over the URL exactly as configured
    for candidate in _url_forms(url):
        if validator.validate(candidate, params, signature, algorithm):
            return True
        # the library re-assembles the URL with a lower-cased scheme; Twilio signs it verbatim
        if secrets_equal(signature, validator.compute_signature(candidate, signed_params, algorithm)):
            return True
    return False


@functools.lru_cache(maxsize=64)
def _validator(token: str) -> RequestValidator:
    """One validator per auth token (a handful of accounts), not one per request."""
    return RequestValidator(token)


def _url_forms(url: str) -> list[str]:
    forms = [url]
    if "'" in url:
        forms.append(url.replace("'", "%27"))
    elif "%27" in url:
        forms.append(url.replace("%27", "'"))
    return forms
