"""Two-factor codes (TOTP, RFC 6238) with pyotp: secrets, provisioning URIs, checks.

Pure apart from reading the clock through pyotp. A code is accepted one 30-second step
either side of now, for phones whose clocks drift a little.
"""

from __future__ import annotations

import pyotp

ISSUER = "ContactHub"


def new_secret() -> str:
    """A fresh random base32 secret (160 bits)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, email: str) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app reads from a QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def verify_code(secret: str | None, code: str | None) -> bool:
    """Whether ``code`` (spaces allowed, as apps show it) is valid for ``secret`` now."""
    if not secret or not code:
        return False
    digits = code.replace(" ", "").strip()
    if len(digits) != 6 or not (digits.isascii() and digits.isdigit()):  # '²'.isdigit() is True
        return False
    return bool(pyotp.TOTP(secret).verify(digits, valid_window=1))
