"""Removing secrets from values that capture records: URL credentials and secret-named variables."""

from __future__ import annotations

import re
from collections.abc import Mapping

REDACTED = "***REDACTED***"

# A variable whose name contains one of these words holds a secret, whatever its value looks like.
SECRET_NAME_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL")

# Schemes where any user part may be a token (https://ghp_xxx@github.com/...): drop it whole.
# For other schemes (ssh://git@host) the user name is needed to connect, so only a password goes.
_TOKEN_SCHEMES = frozenset({"http", "https", "ftp", "ftps"})

_URL = re.compile(
    r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<userinfo>[^@/?#]*)@(?P<rest>.*)$", re.S
)


def strip_url_credentials(url: str) -> str:
    """``url`` without credentials: ``https://user:token@host/x`` becomes ``https://host/x``.

    Strings that are not ``scheme://`` URLs (paths, ``git@host:org/repo``) are returned unchanged.
    """
    match = _URL.match(url)
    if match is None:
        return url
    scheme, userinfo, rest = match.group("scheme", "userinfo", "rest")
    if scheme.lower() in _TOKEN_SCHEMES:
        return f"{scheme}://{rest}"
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}@{rest}" if user else f"{scheme}://{rest}"


def is_secret_name(name: str) -> bool:
    upper = name.upper()
    return any(word in upper for word in SECRET_NAME_WORDS)


def redact_environment(env: Mapping[str, str], prefixes: tuple[str, ...]) -> dict[str, str]:
    """The variables of ``env`` whose name starts with one of ``prefixes``, secrets redacted.

    Values of secret-named variables are replaced whole; other values lose URL credentials
    (``MLFLOW_TRACKING_URI=https://user:pass@host``).
    """
    selected: dict[str, str] = {}
    for name in sorted(env):
        if not name.startswith(prefixes):
            continue
        value = env[name]
        selected[name] = REDACTED if is_secret_name(name) else strip_url_credentials(value)
    return selected
