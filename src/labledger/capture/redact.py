"""Removing secrets from what capture records: URL credentials, token query parameters,
secret-named variables, command-line flags and config keys, and secret-looking files."""

from __future__ import annotations

import fnmatch
import functools
import itertools
import re
from collections.abc import Mapping, Sequence
from typing import Any

REDACTED = "***REDACTED***"

# A variable whose name contains one of these words holds a secret, whatever its value looks like.
SECRET_NAME_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL")

# Words that make a flag or config key secret (matched as whole words: "tokenizer" and
# "max_tokens" are not secrets, "hf_token" and "dbPassword" are).
_SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "token",
        "secret",
        "credential",
        "credentials",
        "apikey",
        "passphrase",
        "auth",
        "bearer",
        "cookie",
        "session",
    }
)
_KEY_QUALIFIERS = frozenset({"api", "access", "private", "secret", "signing", "encryption"})

# Schemes where any user part may be a token (https://ghp_xxx@github.com/...): drop it whole.
# For other schemes (ssh://git@host) the user name is needed to connect, so only a password goes.
_TOKEN_SCHEMES = frozenset({"http", "https", "ftp", "ftps"})

_URL = re.compile(
    r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<userinfo>[^@/?#]*)@(?P<rest>.*)$", re.S
)
# scheme://userinfo@ anywhere in a text.
_URL_IN_TEXT = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<userinfo>[^@/?#\s'\"]*)@")
# ?token=... / &access_token=... / X-Amz-Signature=... in URLs or text.
_QUERY_SECRET = re.compile(
    r"(?P<name>[?&;](?:[A-Za-z0-9_.-]*(?:token|key|secret|password|passwd|signature|sig|"
    r"credential|auth)[A-Za-z0-9_.-]*))=(?P<value>[^&#\s'\"]+)",
    re.I,
)
# Files recorded by name and digest only: their content is likely a secret.
SECRET_FILE_PATTERNS = (
    ".env",
    ".env.*",
    "*.env",
    "*secret*",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "id_rsa*",
    "id_ed25519*",
    "id_ecdsa*",
    "*credential*",
    ".netrc",
    ".pgpass",
    "*.keystore",
    "*token*",
)


def strip_url_credentials(url: str) -> str:
    """``url`` without credentials: ``https://user:token@host/x`` becomes ``https://host/x``.

    Strings that are not ``scheme://`` URLs (paths, ``git@host:org/repo``) are returned unchanged.
    """
    match = _URL.match(url)
    if match is None:
        return _strip_query_secrets(url)
    scheme, userinfo, rest = match.group("scheme", "userinfo", "rest")
    if scheme.lower() in _TOKEN_SCHEMES:
        return _strip_query_secrets(f"{scheme}://{rest}")
    user = userinfo.split(":", 1)[0]
    clean = f"{scheme}://{user}@{rest}" if user else f"{scheme}://{rest}"
    return _strip_query_secrets(clean)


def _strip_query_secrets(text: str) -> str:
    if "=" not in text:
        return text
    return _QUERY_SECRET.sub(lambda m: f"{m.group('name')}={REDACTED}", text)


def _userinfo(match: re.Match[str]) -> str:
    scheme, userinfo = match.group("scheme", "userinfo")
    if scheme.lower() in _TOKEN_SCHEMES or ":" in userinfo:
        user = "" if scheme.lower() in _TOKEN_SCHEMES else userinfo.split(":", 1)[0]
        return f"{scheme}://{user + '@' if user else ''}"
    return match.group(0)


def redact_text(text: str) -> str:
    """``text`` with URL credentials and token query parameters removed wherever they are."""
    if "://" in text and "@" in text:
        text = _URL_IN_TEXT.sub(_userinfo, text)
    return _strip_query_secrets(text)


def is_secret_name(name: str) -> bool:
    """For variable names: any of ``SECRET_NAME_WORDS`` anywhere in the name."""
    upper = name.upper()
    return any(word in upper for word in SECRET_NAME_WORDS)


def _words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


@functools.lru_cache(maxsize=4096)  # every run's config keys, again and again in a sweep
def is_secret_key(name: str) -> bool:
    """For flags and config keys: a secret word as a whole word (``db_password``, ``--api-key``,
    ``hfToken``), not inside another (``tokenizer``, ``max_tokens``, ``keys``)."""
    words = _words(name)
    if any(w in _SECRET_WORDS for w in words):
        return True
    return any(a in _KEY_QUALIFIERS and b == "key" for a, b in itertools.pairwise(words))


def redact_argv(argv: Sequence[str]) -> list[str]:
    """Command-line arguments with secret flag values (``--password X``, ``--token=X``),
    URL credentials and token query parameters redacted."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        if arg.startswith("-") and len(arg) > 1:
            flag, eq, _value = arg.partition("=")
            if is_secret_key(flag.lstrip("-")):
                if eq:
                    out.append(f"{flag}={REDACTED}")
                else:
                    out.append(arg)
                    hide_next = True
                continue
        elif "=" in arg and not arg.startswith(("/", ".")):
            name, _, _value = arg.partition("=")  # key=value overrides (Hydra, make)
            if is_secret_key(name.split(".")[-1]):
                out.append(f"{name}={REDACTED}")
                continue
        out.append(redact_text(arg))
    return out


def redact_config(value: Any, problems: list[str] | None = None, _path: str = "") -> Any:
    """A (JSON-safe) config with the values of secret-named keys replaced by ``REDACTED`` and
    URL credentials removed from strings."""
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key, item in value.items():
            path = f"{_path}.{key}" if _path else str(key)
            secret = isinstance(key, str) and is_secret_key(key)
            if secret and not isinstance(item, Mapping) and item not in (None, "", REDACTED):
                result[key] = REDACTED
                if problems is not None:
                    problems.append(path)
                continue
            result[key] = redact_config(item, problems, path)
        return result
    if isinstance(value, list):
        return [redact_config(v, problems, _path) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def looks_like_secret_file(path: str) -> bool:
    """True for ``.env``, ``*secret*``, ``*.pem``, key files and the like."""
    name = path.rsplit("/", 1)[-1].lower()
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in SECRET_FILE_PATTERNS)
