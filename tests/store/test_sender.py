"""The sender: in order, retried with backoff, a backlog grouped per run."""

from __future__ import annotations

import threading

from labledger.store.journal import JournalEntry
from labledger.store.sender import Retry, Sender


def entry(run_id: str, n: int) -> JournalEntry:
    return JournalEntry("batch", run_id, f"{run_id}:j.{n}", b"x")


def test_backlog_is_grouped_per_run_in_order_and_retried() -> None:
    gate = threading.Event()
    failures = [2]
    groups: list[list[str]] = []
    acked: list[str] = []

    def deliver(entries: list[JournalEntry]) -> int:
        gate.wait()
        if failures[0]:
            failures[0] -= 1
            raise Retry("down")
        groups.append([e.key for e in entries])
        return len(entries)

    sender = Sender(deliver, lambda e: acked.append(e.key))
    for n in range(5):
        sender.submit(entry("a", n))
    for n in range(3):
        sender.submit(entry("b", n))
    sender.submit(entry("a", 5))
    gate.set()
    assert sender.wait_idle(10)
    assert groups == [
        ["a:j.0", "a:j.1", "a:j.2", "a:j.3", "a:j.4"],
        ["b:j.0", "b:j.1", "b:j.2"],
        ["a:j.5"],
    ]
    assert acked == [k for g in groups for k in g]
    assert sender.retries == 2 and sender.down_since is None
    assert sender.stop(1) == 0


def test_a_refused_write_is_reported_and_not_acknowledged() -> None:
    def deliver(entries: list[JournalEntry]) -> int:
        raise ValueError("forbidden")

    acked: list[str] = []
    sender = Sender(deliver, lambda e: acked.append(e.key))
    delivery = sender.submit(entry("a", 0), waited=True)
    assert delivery.done.wait(10)
    assert isinstance(delivery.error, ValueError) and acked == []
    sender.stop(1)
