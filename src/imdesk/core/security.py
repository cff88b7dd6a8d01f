"""Passwords (argon2), API tokens (random, stored as SHA-256), signed values (sessions, CSRF,
rating links) with itsdangerous."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

_hasher = PasswordHasher()
# A real hash of a random password: verifying against it costs the same as a real user's hash,
# so an unknown e-mail takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

TOKEN_PREFIX = "imd_"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-shape check: a missing hash is verified against a dummy so timing does not leak."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def new_api_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class Signer:
    """Signs small JSON-able values with a purpose (salt) and a maximum age."""

    def __init__(self, secret_key: str) -> None:
        self._secret = secret_key

    def dumps(self, value: Any, *, purpose: str) -> str:
        return URLSafeTimedSerializer(self._secret, salt=f"imdesk.{purpose}").dumps(value)

    def loads(self, token: str, *, purpose: str, max_age: int | None) -> Any | None:
        """The value, or None when the signature is wrong or expired."""
        try:
            return URLSafeTimedSerializer(self._secret, salt=f"imdesk.{purpose}").loads(token, max_age=max_age)
        except (BadSignature, SignatureExpired):
            return None

    def loads_detailed(self, token: str, *, purpose: str, max_age: int | None) -> tuple[Any | None, str]:
        """(value, "ok") or (None, "expired"|"invalid") — for links whose expiry the user should see."""
        try:
            return URLSafeTimedSerializer(self._secret, salt=f"imdesk.{purpose}").loads(token, max_age=max_age), "ok"
        except SignatureExpired:
            return None, "expired"
        except BadSignature:
            return None, "invalid"


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)
