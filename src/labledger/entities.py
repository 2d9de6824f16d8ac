"""Plain records shared by every layer. No I/O and no heavy imports here."""

from __future__ import annotations

import os
import string
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

RUN_ID_ALPHABET = string.ascii_lowercase + string.digits
RUN_ID_LENGTH = 8


def new_run_id() -> str:
    """A short random run ID (8 base-36 characters, ~2.8e12 values)."""
    # 64 random bits from the OS (what ``secrets`` uses, without importing it and hmac on
    # init's path), as base-36 digits: 2**64 / 36**8 > 6 million, so no digit is measurably
    # likelier than another.
    number = int.from_bytes(os.urandom(8), "big")
    digits = []
    for _ in range(RUN_ID_LENGTH):
        number, digit = divmod(number, len(RUN_ID_ALPHABET))
        digits.append(RUN_ID_ALPHABET[digit])
    return "".join(digits)


def this_host() -> str:
    """The machine's name, as a run's ``host`` records it: ``socket.gethostname()`` without
    importing ``socket`` (POSIX: the same uname node name)."""
    return os.uname().nodename


class RunStatus(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    KILLED = "killed"
    CRASHED = "crashed"


@dataclass
class MetricSummary:
    """Running statistics of one metric key of one run."""

    key: str
    last: float | None
    min: float | None
    max: float | None
    count: int
    last_step: int | None
    last_time: float | None


@dataclass
class RunRecord:
    """Everything the runs table holds about one run (captures and series are read separately)."""

    run_id: str
    project: str
    name: str
    status: RunStatus = RunStatus.RUNNING
    created_at: float = 0.0
    ended_at: float | None = None
    heartbeat_at: float | None = None
    group: str | None = None
    tags: list[str] = field(default_factory=list)
    notes: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, MetricSummary] = field(default_factory=dict)
    host: str | None = None
    pid: int | None = None
    exit_code: int | None = None
    error: str | None = None
    reproduces: str | None = None
    fingerprint: str | None = None

    @property
    def runtime(self) -> float | None:
        end = self.ended_at if self.ended_at is not None else self.heartbeat_at
        return None if end is None else max(0.0, end - self.created_at)

    def final_metrics(self) -> dict[str, Any]:
        """Final value of every metric: the user's summary overrides the last logged value."""
        values: dict[str, Any] = {k: m.last for k, m in self.metrics.items()}
        values.update(self.summary)
        return values


@dataclass
class MetricSeries:
    """One metric's full history as numpy arrays (steps int64, values and times float64)."""

    key: str
    steps: Any
    values: Any
    times: Any

    def __len__(self) -> int:
        return len(self.steps)


# Fields a writer may change on an existing run through ``Store.update_run``.
UPDATABLE_RUN_FIELDS = frozenset(
    {
        "status",
        "ended_at",
        "heartbeat_at",
        "name",
        "group",
        "tags",
        "notes",
        "summary",
        "exit_code",
        "error",
        "pid",
        "host",
        "reproduces",
        "fingerprint",
    }
)
