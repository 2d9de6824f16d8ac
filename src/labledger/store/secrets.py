"""Token and password hashing (standard library only).

An API token is ``ll_<id>_<secret>``: the id (12 hex digits) finds the row, the secret (256
random bits) is checked against a salted SHA-256 stored beside it. A fast hash is right for a
random 256-bit secret; passwords, which are guessable, are hashed with scrypt.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

TOKEN_PREFIX = "ll"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


@dataclass(frozen=True)
class NewSecret:
    """A freshly minted token: ``plain`` is shown once; only ``salt``/``digest`` are stored."""

    token_id: str
    plain: str
    salt: str
    digest: str


def secret_digest(salt: str, secret: str) -> str:
    return hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()


def new_token() -> NewSecret:
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    plain = f"{TOKEN_PREFIX}_{token_id}_{secret}"
    return NewSecret(token_id, plain, salt, secret_digest(salt, secret))


def split_token(plain: str) -> tuple[str, str] | None:
    """``(token_id, secret)`` of a well-formed token, else None."""
    prefix, _, rest = plain.partition("_")
    token_id, _, secret = rest.partition("_")
    if prefix != TOKEN_PREFIX or len(token_id) != 12 or not secret or len(plain) > 200:
        return None
    return token_id, secret


def secret_matches(salt: str, stored: str, secret: str) -> bool:
    return hmac.compare_digest(secret_digest(salt, secret), stored)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${key.hex()}"


def password_matches(stored: str | None, password: str) -> bool:
    if not stored:
        return False
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        actual = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual.hex(), key)
