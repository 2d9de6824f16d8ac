"""Exceptions raised by labledger. Every user-facing failure is a ``LabledgerError``."""

from __future__ import annotations


class LabledgerError(Exception):
    """Base class: the message is a complete, one-line explanation for the user."""


class ConfigError(LabledgerError):
    """A setting, config file or URI is invalid."""


class RunNotFound(LabledgerError):
    """No run matches the given ID or prefix."""


class AmbiguousRunId(LabledgerError):
    """A run ID prefix matches more than one run."""


class FilterError(LabledgerError):
    """A run filter or ordering expression could not be parsed."""


class ArtifactError(LabledgerError):
    """An artifact name, version, alias or path is invalid or missing."""


class MissingExtra(LabledgerError):
    """An optional dependency is not installed."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(f"{package} is not installed; run: pip install 'labledger[{extra}]'")
