"""MLflow's limits and name rules for logged entities, with its error messages."""

from __future__ import annotations

import math
import posixpath
import re
from typing import Any

from labledger.server.mlflow.errors import invalid

MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000
MAX_ENTITIES_PER_BATCH = 1000
MAX_BATCH_LOG_REQUEST_SIZE = 1_000_000
MAX_PARAM_VAL_LENGTH = 6000
MAX_TAG_VAL_LENGTH = 8000
MAX_ENTITY_KEY_LENGTH = 250
MAX_EXPERIMENT_NAME_LENGTH = 200  # labledger's project names (MLflow allows 500)

_NAME = re.compile(r"^[/\w.\- :]*$")
_BAD_CHARACTERS = (
    "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ),"
    " colon(:) and slashes (/)."
)


def _invalid_value(path: str, value: Any, suffix: str = "") -> str:
    text = f"Invalid value {value!r} for parameter '{path}' supplied"
    return f"{text}. {suffix}" if suffix else f"{text}."


def check_name(name: Any, path: str) -> str:
    if name is None or name == "":
        raise invalid(f"Missing value for required parameter '{path}'.")
    if not isinstance(name, str):
        raise invalid(_invalid_value(path, name, "Expected a string."))
    if not _NAME.match(name):
        raise invalid(_invalid_value(path, name, _BAD_CHARACTERS))
    norm = posixpath.normpath(name)
    if norm != name or norm == "." or norm.startswith(("..", "/")):
        raise invalid(
            _invalid_value(
                path,
                name,
                "Names may be treated as files in certain cases, and must not resolve to other"
                f" names when treated as such. This name would resolve to {norm!r}",
            )
        )
    if len(name) > MAX_ENTITY_KEY_LENGTH:
        raise invalid(f"'{path}' exceeds the maximum length of {MAX_ENTITY_KEY_LENGTH} characters")
    return name


def check_value(value: Any, path: str, limit: int) -> str:
    text = "" if value is None else value if isinstance(value, str) else str(value)
    if len(text) > limit:
        raise invalid(f"'{path}' exceeds the maximum length of {limit} characters")
    return text


def check_batch_limits(metrics: int, params: int, tags: int) -> None:
    for entity, limit, length in (
        ("metrics", MAX_METRICS_PER_BATCH, metrics),
        ("params", MAX_PARAMS_TAGS_PER_BATCH, params),
        ("tags", MAX_PARAMS_TAGS_PER_BATCH, tags),
        ("metrics, params, and tags", MAX_ENTITIES_PER_BATCH, metrics + params + tags),
    ):
        if length > limit:
            raise invalid(
                f"A batch logging request can contain at most {limit} {entity}. Got {length}"
                f" {entity}. Please split up {entity} across multiple requests and try again."
            )


_SPECIAL = {"nan": math.nan, "infinity": math.inf, "-infinity": -math.inf, "inf": math.inf}


def metric_value(value: Any, path: str) -> float:
    if isinstance(value, str) and value.lower() in _SPECIAL:
        return _SPECIAL[value.lower()]
    if value is None:
        raise invalid(f"Missing value for required parameter '{path}'.")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid(
            _invalid_value(
                path, value, "Please specify value as a valid double (64-bit floating point)"
            )
        )
    return float(value)


def whole(value: Any, path: str, default: int | None = None, *, nonnegative: bool = False) -> int:
    if value is None or value == "":
        if default is None:
            raise invalid(f"Missing value for required parameter '{path}'.")
        return default
    try:
        number = int(value) if not isinstance(value, float) or value.is_integer() else None
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or (nonnegative and number < 0):
        raise invalid(_invalid_value(path, value, "Expected a valid long (64-bit integer)."))
    return number
