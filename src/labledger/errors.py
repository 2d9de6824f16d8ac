"""Exceptions raised by labledger. Every user-facing failure is a ``LabledgerError``.

The server maps them to HTTP statuses: ``NotFound`` 404, ``Unauthorized`` 401, ``Forbidden``
403, every other ``LabledgerError`` 400.
"""

from __future__ import annotations


class LabledgerError(Exception):
    """Base class: the message is a complete, one-line explanation for the user."""


class NotFound(LabledgerError):
    """The thing asked for does not exist (or is not visible to the caller)."""


class Unauthorized(LabledgerError):
    """A request carries no credentials, or credentials that are not valid."""


class Forbidden(LabledgerError):
    """The caller may see the project but lacks the role the operation needs."""


class ConfigError(LabledgerError):
    """A setting, config file or URI is invalid."""


class RunNotFound(NotFound):
    """No run matches the given ID or prefix."""


class AmbiguousRunId(LabledgerError):
    """A run ID prefix matches more than one run."""


class FilterError(LabledgerError):
    """A run filter or ordering expression could not be parsed.

    ``position`` is the 0-based column in the filter text where parsing failed, when known.
    """

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position


class ArtifactError(LabledgerError):
    """An artifact name, version, alias or path is invalid or missing."""


class ArtifactNotFound(ArtifactError, NotFound):
    """No artifact (version, alias) by that name."""


class MissingExtra(LabledgerError):
    """An optional dependency is not installed."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(f"{package} is not installed; run: pip install 'labledger[{extra}]'")


class RunExists(LabledgerError):
    """A run with this ID already exists (creating it again is a no-op for replays)."""


class ExperimentExists(LabledgerError):
    """An experiment (project registered for the MLflow endpoint) with this name exists."""


class PayloadTooLarge(LabledgerError):
    """A request body exceeds the server's size limit."""


class PartiallyApplied(LabledgerError):
    """Some, not all, of the batches merged into one delivery were applied before."""


class StoreUnavailable(LabledgerError):
    """The store cannot be opened (database down, missing, wrong credentials, no permission)
    or cannot take writes now (unreachable, locked) or for good (``permanent``: its file
    deleted or replaced, read-only, disk full)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
