"""Turn whatever users pass as ``config`` into a JSON-safe nested dict."""

from __future__ import annotations

import argparse
import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from labledger.capture.redact import REDACTED, redact_config
from labledger.encoding import to_jsonable

log = logging.getLogger("labledger")


def config_to_dict(config: Any) -> tuple[dict[str, Any], str]:
    """Return ``(nested JSON-safe dict, source kind)`` for a dict, ``argparse.Namespace``,
    dataclass, OmegaConf/Hydra ``DictConfig`` or pydantic model. Values that are not
    JSON-serialisable are stored as their ``repr`` with a warning."""
    if config is None:
        return {}, "none"
    kind, plain = _plain(config)
    problems: list[str] = []
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
    if isinstance(config, argparse.Namespace):
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
