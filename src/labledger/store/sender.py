"""The background sender of ``HttpStore``: delivers journaled writes in order, off the caller's
thread, retrying with exponential backoff and full jitter until the server takes them."""

from __future__ import annotations

import collections
import itertools
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from labledger.store.journal import JournalEntry

log = logging.getLogger("labledger")

BACKOFF_START = 0.05
BACKOFF_MAX = 5.0
GROUP_MAX = 64  # queued batches of one run sent as one request when the server lags
GROUP_MAX_BYTES = 8 * 1024 * 1024


class Retry(Exception):
    """A delivery failed in a way worth retrying (connection lost, timeout, 5xx, 429)."""


@dataclass
class Delivery:
    """One write waiting for the server; ``done`` is set once it is applied or refused."""

    entry: JournalEntry
    waited: bool = False  # a caller waits for the outcome (and reports a refusal itself)
    done: threading.Event = field(default_factory=threading.Event)
    error: Exception | None = None


class Sender:
    """A FIFO of deliveries and the one thread that sends them.

    ``deliver(entries)`` sends the head of the queue (raising ``Retry`` or a permanent error)
    and returns how many of ``entries`` it delivered (at least one). It is offered up to
    ``GROUP_MAX`` consecutive batches of one run: while the server keeps up that is one batch,
    when it lags (or after an outage) the backlog goes in fewer, larger requests. It is called
    only from the sender thread, so a run's batches reach the server in the order they were
    written. A permanently refused entry is not acknowledged: it stays in the journal for
    ``labledger sync`` after the cause is fixed.
    """

    def __init__(
        self,
        deliver: Callable[[list[JournalEntry]], int],
        acknowledge: Callable[[JournalEntry], None],
        *,
        name: str = "labledger-sender",
    ) -> None:
        self._deliver = deliver
        self._acknowledge = acknowledge
        self._queue: collections.deque[Delivery] = collections.deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._poked = False
        self._busy = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()
        self.retries = 0
        self.down_since: float | None = None

    def submit(self, entry: JournalEntry, *, waited: bool = False) -> Delivery:
        delivery = Delivery(entry, waited)
        with self._cond:
            self._queue.append(delivery)
            self._cond.notify_all()
        return delivery

    def __len__(self) -> int:
        with self._cond:
            return len(self._queue) + (1 if self._busy else 0)

    def poke(self) -> None:
        """Cut the current backoff short (the server was just seen answering)."""
        with self._cond:
            self._poked = True
            self._cond.notify_all()

    def wait_idle(self, timeout: float | None) -> bool:
        """Block until every submitted write was delivered or refused; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def stop(self, timeout: float) -> int:
        """Give the queue ``timeout`` seconds to drain, then stop; returns what is left."""
        self.wait_idle(timeout)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            left = len(self._queue) + (1 if self._busy else 0)
        self._thread.join(1.0)
        return left

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                group = self._group()
                self._busy = True
            finished = self._attempt(group)
            with self._cond:
                self._busy = False
                for _ in range(finished):
                    self._queue.popleft()
                self._cond.notify_all()

    def _group(self) -> list[Delivery]:
        """The head of the queue and the batches of the same run queued right behind it."""
        head = self._queue[0]
        group = [head]
        if head.entry.kind != "batch" or head.waited:
            return group
        size = len(head.entry.body)
        for delivery in itertools.islice(self._queue, 1, GROUP_MAX):
            entry = delivery.entry
            size += len(entry.body)
            if (
                entry.kind != "batch"
                or delivery.waited
                or entry.run_id != head.entry.run_id
                or size > GROUP_MAX_BYTES
            ):
                break
            group.append(delivery)
        return group

    def _attempt(self, group: list[Delivery]) -> int:
        """Deliver the head, retrying until it lands or is refused; how many deliveries are
        finished (0 when the sender stops first)."""
        backoff = BACKOFF_START
        while True:
            try:
                sent = self._deliver([d.entry for d in group])
            except Retry as exc:
                self.retries += 1
                if self.down_since is None:
                    self.down_since = time.time()
                    log.warning("labledger: server unreachable (%s); retrying in background", exc)
                with self._cond:
                    # Full jitter: many clients coming back do not hit the server in step.
                    self._cond.wait_for(
                        lambda: self._stopping or self._poked, random.uniform(0, backoff)
                    )
                    if self._stopping:
                        return 0
                    if self._poked:
                        self._poked, backoff = False, BACKOFF_START
                    group = self._group()  # the backlog grown meanwhile goes in one go
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            except Exception as exc:  # refused for good (one run): keep journaled, move on
                if not group[0].waited:
                    log.error(
                        "labledger: the server refused a write for run %s (%s); it stays in "
                        "the journal for `labledger sync`",
                        group[0].entry.run_id,
                        exc,
                    )
                for delivery in group:
                    delivery.error = exc
                    delivery.done.set()
                return len(group)
            if self.down_since is not None:
                log.warning(
                    "labledger: server reachable again after %.0f s; delivering the backlog",
                    time.time() - self.down_since,
                )
                self.down_since = None
            for delivery in group[:sent]:
                self._acknowledge(delivery.entry)
                delivery.done.set()
            return sent
