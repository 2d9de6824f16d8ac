"""Turn whatever users pass as ``config`` into a JSON-safe nested dict."""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from labledger.capture.redact import REDACTED, redact_config
from labledger.encoding import to_jsonable

if TYPE_CHECKING:
    import argparse

log = logging.getLogger("labledger")


def config_to_dict(config: Any) -> tuple[dict[str, Any], str]:
    """Return ``(nested JSON-safe dict, source kind)`` for a dict, ``argparse.Namespace``,
    dataclass, OmegaConf/Hydra ``DictConfig`` or pydantic model. Values that are not
    JSON-serialisable are stored as their ``repr`` with a warning."""
    if config is None:
        return {}, "none"
    kind, plain = _plain(config)
    problems: list[str] = []
    _check_shape(plain)
    converted = to_jsonable(plain, problems=problems)
    for problem in problems:
        log.warning("labledger: config %s", problem)
    if not isinstance(converted, dict):
        raise TypeError(f"config must be a mapping-like object, got {type(config).__name__}")
    secrets: list[str] = []
    converted = redact_config(converted, secrets)
    if secrets:
        log.warning(
            "labledger: config %s look like secrets; recorded as %s",
            ", ".join(secrets),
            REDACTED,
        )
    return converted, kind


def _plain(config: Any) -> tuple[str, Any]:
    module = type(config).__module__.split(".", 1)[0]
    if module == "omegaconf":
        from omegaconf import OmegaConf

        return "omegaconf", OmegaConf.to_container(config, resolve=True)
    parsing = sys.modules.get("argparse")  # not imported: config cannot be a Namespace
    if parsing is not None and isinstance(config, parsing.Namespace):
        return "argparse", vars(config)
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return "dataclass", dataclasses.asdict(config)
    if hasattr(config, "model_dump"):
        return "pydantic", config.model_dump()
    if isinstance(config, Mapping):
        return "dict", dict(config)
    raise TypeError(
        "config must be a dict, argparse.Namespace, dataclass instance, OmegaConf config "
        f"or pydantic model, got {type(config).__name__}"
    )


MAX_CONFIG_DEPTH = 100


def _check_shape(value: Any) -> None:
    """Refuse a cyclic config, or one nested deeper than ``MAX_CONFIG_DEPTH``, with a clear
    message instead of a RecursionError."""
    stack: list[tuple[Any, int, str, frozenset[int]]] = [(value, 0, "", frozenset())]
    while stack:
        item, depth, path, parents = stack.pop()
        if not isinstance(item, (Mapping, list, tuple, set, frozenset)):
            continue
        if id(item) in parents:
            raise TypeError(f"config is cyclic: {path or 'the config'} contains itself")
        if depth > MAX_CONFIG_DEPTH:
            raise TypeError(f"config is nested more than {MAX_CONFIG_DEPTH} levels deep at {path}")
        inner = parents | {id(item)}
        children = item.items() if isinstance(item, Mapping) else enumerate(item)
        for key, child in children:
            stack.append((child, depth + 1, f"{path}.{key}" if path else str(key), inner))


def parsed_arguments() -> argparse.Namespace | None:
    """The ``argparse.Namespace`` the main script parsed, if one is in scope.

    Looks through the live frames of the ``__main__`` module (module level and the functions
    it called, innermost first), so ``args = parser.parse_args(); init(project=...)`` records
    the arguments without ``config=args``. Frames of libraries are never looked at.
    """
    parsing = sys.modules.get("argparse")
    if parsing is None:
        return None
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__") == "__main__":
            for value in frame.f_locals.values():
                if isinstance(value, parsing.Namespace):
                    found: argparse.Namespace = value
                    return found
        frame = frame.f_back  # type: ignore[assignment]
    return None


# Set by `labledger reproduce` to the reproduced run's recorded config (JSON).
REPRODUCE_CONFIG_ENV = "LABLEDGER_REPRODUCE_CONFIG"


def reproduce_config() -> dict[str, Any] | None:
    """The recorded config of the run being reproduced, or None outside a reproduction.

    A script that records several runs in one process (a sweep in a loop) runs only this
    configuration when it is set, so reproducing one run of the sweep reruns just that run::

        only = labledger.reproduce_config()
        configs = [only] if only is not None else grid()

    Values the record redacted (secrets) come back as the redaction marker.
    """
    import json
    import os

    text = os.environ.get(REPRODUCE_CONFIG_ENV)
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        log.warning("labledger: %s is not JSON; ignoring it", REPRODUCE_CONFIG_ENV)
        return None
    return value if isinstance(value, dict) else None
