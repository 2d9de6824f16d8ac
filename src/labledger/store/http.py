"""``HttpStore``: the ``Store`` protocol over the team server's ``/api/store`` routes.

One keep-alive ``httpx.Client`` per store (per process). Bodies are msgpack (``wire.py``),
zstd- or gzip-compressed above 64 KiB. Writes from the SDK's writer never wait on the network:
``write_batch`` appends the batch to the local journal (fsynced) and hands it to a background
sender that delivers it with ``Idempotency-Key: <run_id>:<journal>.<n>``, retrying with backoff
while the server is down. Reads first wait (briefly) for queued writes, so a process reads what
it wrote. Offline mode (``ll.init(mode="offline")``) only journals; ``labledger sync`` delivers.

Without a journal folder (the CLI, ``labledger sync``, the server's own tests) every write is
a plain synchronous request.
"""

from __future__ import annotations

import atexit
import contextlib
import gzip
import logging
import socket
import threading
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from labledger import errors
from labledger.entities import UPDATABLE_RUN_FIELDS, MetricSeries, RunRecord
from labledger.errors import LabledgerError
from labledger.store import wire
from labledger.store.base import ArtifactVersion, MetricColumns, RunBatch, merge_batches
from labledger.store.http_artifacts import HttpArtifactRegistry
from labledger.store.journal import DEFAULT_MAX_BYTES, Journal, JournalEntry
from labledger.store.sender import Retry, Sender

if TYPE_CHECKING:
    from labledger.store.columns import RunColumns
    from labledger.store.rollups import SeriesEnvelope

log = logging.getLogger("labledger")

COMPRESS_ABOVE = 64 * 1024
READ_WAIT_SECONDS = 10.0  # how long a read waits for this process's queued writes
EXIT_DRAIN_SECONDS = 10.0  # at exit, time given to the sender before leaving it to sync
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class ServerUnreachable(LabledgerError):
    """The server could not be reached."""


def _compress(body: bytes) -> tuple[bytes, str | None]:
    if len(body) < COMPRESS_ABOVE:
        return body, None
    try:
        import zstandard
    except ImportError:
        return gzip.compress(body, compresslevel=1), "gzip"
    return zstandard.ZstdCompressor(level=1).compress(body), "zstd"


def _error_from(response: httpx.Response) -> Exception:
    """The ``LabledgerError`` the server described (same class when it names one)."""
    try:
        detail = response.json()["error"]
        message, kind = str(detail["message"]), str(detail.get("kind", ""))
    except Exception:
        message, kind = f"HTTP {response.status_code}: {response.text[:200]}", ""
    cls = getattr(errors, kind, None)
    if (
        not (isinstance(cls, type) and issubclass(cls, LabledgerError))
        or cls is errors.MissingExtra
    ):
        cls = {
            401: errors.Unauthorized,
            403: errors.Forbidden,
            404: errors.NotFound,
            409: errors.RunExists,
        }.get(response.status_code, LabledgerError)
    try:
        return cls(message)
    except TypeError:
        return LabledgerError(message)


class HttpStore:
    """Runs on a labledger server (``http://host:port`` or ``https://...``)."""

    def __init__(
        self,
        uri: str,
        *,
        token: str | None = None,
        journal_dir: Path | None = None,
        offline: bool = False,
        max_journal_bytes: int = DEFAULT_MAX_BYTES,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.uri = uri.rstrip("/")
        self.offline = offline
        headers = {"Accept": wire.WIRE_CONTENT_TYPE, "User-Agent": "labledger"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if transport is None:
            # Without TCP_NODELAY a request's headers and body (two writes) wait on the
            # server's delayed ACK: about 40 ms per request.
            nodelay = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            transport = httpx.HTTPTransport(socket_options=[nodelay])
        self._client = httpx.Client(
            base_url=self.uri,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)),
            transport=transport,
        )
        self._journal_dir = journal_dir
        self._max_journal_bytes = max_journal_bytes
        self._journal: Journal | None = None
        self._sender: Sender | None = None
        self._lock = threading.Lock()
        self._said_offline: set[str] = set()
        self._closed = False
        self.artifacts = HttpArtifactRegistry(self._call, self._sync_writes)
        if journal_dir is not None:
            atexit.register(_close_at_exit, weakref.ref(self))

    def __repr__(self) -> str:
        return f"HttpStore({self.uri!r}{', offline' if self.offline else ''})"

    # --- transport --------------------------------------------------------------------
    def _call(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> bytes:
        """One request; a ``LabledgerError`` for a refusal, ``Retry`` for a transient failure."""
        if self.offline:
            raise LabledgerError(
                f"this process is offline: {path} needs the server; run `labledger sync` first"
            )
        send_headers = dict(headers or {})
        if body is not None:
            body, encoding = _compress(body)
            send_headers["Content-Type"] = wire.WIRE_CONTENT_TYPE
            if encoding:
                send_headers["Content-Encoding"] = encoding
        try:
            response = self._client.request(
                method, path, content=body, params=params, headers=send_headers
            )
        except httpx.TransportError as exc:
            raise Retry(f"{type(exc).__name__}: {exc or 'no response'}") from exc
        if response.status_code in _RETRY_STATUS:
            raise Retry(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise _error_from(response)
        return response.content

    def _request(self, method: str, path: str, **kwargs: Any) -> bytes:
        """``_call`` for the caller's thread: transient failures become one clear error."""
        try:
            return self._call(method, path, **kwargs)
        except Retry as exc:
            raise ServerUnreachable(
                f"cannot reach the labledger server {self.uri}: {exc}"
            ) from None

    def _read(self, path: str, params: Mapping[str, Any] | None = None) -> bytes:
        self._sync_writes()
        return self._request("GET", path, params=params)

    def _sync_writes(self) -> None:
        sender = self._sender
        if sender is None:
            return
        timeout = READ_WAIT_SECONDS
        if sender.down_since is not None:  # maybe back: retry now, but do not hang a read
            sender.poke()
            timeout = 1.0
        if not sender.wait_idle(timeout):
            log.warning("labledger: reading from %s before queued writes arrived", self.uri)

    # --- journal and sender --------------------------------------------------------------
    def _ensure_journal(self) -> Journal | None:
        if self._journal_dir is None:
            return None
        with self._lock:
            if self._closed:
                raise LabledgerError(f"store {self.uri} is closed")
            if self._journal is None:
                self._journal = Journal.create(self._journal_dir, max_bytes=self._max_journal_bytes)
                if not self.offline:
                    self._sender = Sender(self._deliver, self._acknowledge)
            return self._journal

    def _deliver(self, entries: list[JournalEntry]) -> int:
        """Send the head of the sender's queue; how many of ``entries`` went (see Sender)."""
        head = entries[0]
        if head.kind == "run":
            # RunExists: created by an earlier attempt whose answer was lost.
            with contextlib.suppress(errors.RunExists):
                self._call("POST", "/api/store/runs", body=head.body)
            return 1
        group = entries[:1]
        batches = [head.batch()] if len(entries) > 1 else []
        for entry in entries[1:]:
            if batches[-1].summary:  # merged batches stay exact: a summary ends the group
                break
            batches.append(entry.batch())
            group.append(entry)
        body = head.body if len(group) == 1 else wire.encode_batch(merge_batches(batches))
        keys = ",".join(entry.key for entry in group)
        try:
            self._call(
                "POST",
                f"/api/store/runs/{head.run_id}/batches",
                body=body,
                headers={"Idempotency-Key": keys},
            )
        except errors.PartiallyApplied:
            return self._deliver(entries[:1])
        return len(group)

    def _acknowledge(self, entry: JournalEntry) -> None:
        if self._journal is not None:
            self._journal.ack(entry.key)

    def _enqueue(self, entry: JournalEntry) -> Any:
        if self._sender is None:  # offline
            return None
        return self._sender.submit(entry)

    def _say_offline(self, run_id: str, why: str) -> None:
        if run_id in self._said_offline:
            return
        self._said_offline.add(run_id)
        where = self._journal.path if self._journal else "memory"
        log.warning(
            "labledger: %s; run %s is logged offline to %s and delivered %s",
            why,
            run_id,
            where,
            "by `labledger sync`" if self.offline else "when the server returns",
        )

    # --- write side -------------------------------------------------------------------
    def create_run(self, run: RunRecord) -> None:
        """Create the run on the server at once; when it cannot be reached, journal the run
        and go on offline (said once): the sender creates it when the server returns."""
        if self._journal_dir is None:
            self._request("POST", "/api/store/runs", body=wire.encode_run(run))
            return
        if not self.offline:
            try:  # no journal needed when the server answers (a refusal is raised)
                self._call("POST", "/api/store/runs", body=wire.encode_run(run))
                return
            except Retry as exc:
                reason = f"the server {self.uri} is unreachable ({exc})"
        else:
            reason = "offline mode"
        journal = self._ensure_journal()
        assert journal is not None
        entry = journal.append_run(run)
        self._say_offline(run.run_id, reason)
        self._enqueue(entry)

    def write_batch(self, run_id: str, batch: RunBatch) -> None:
        """Journal the batch durably and return; the sender delivers it in the background."""
        self._check_changes(batch)
        journal = self._ensure_journal()
        if journal is None:
            self._post_batch(run_id, wire.encode_batch(batch), None)
            return
        body = wire.encode_batch(batch)
        entry = journal.append_batch(run_id, body)
        if entry is None:  # journal full or disk refused: memory only
            key = f"{run_id}:{journal.journal_id}.m{id(body)}"
            entry = JournalEntry("batch", run_id, key, body)
        self._enqueue(entry)

    def write_batch_once(self, run_id: str, key: str | Sequence[str], batch: RunBatch) -> bool:
        self._check_changes(batch)
        self._sync_writes()
        keys = key if isinstance(key, str) else ",".join(key)
        return self._post_batch(run_id, wire.encode_batch(batch), keys)

    def _post_batch(self, run_id: str, body: bytes, key: str | None) -> bool:
        headers = {"Idempotency-Key": key} if key else None
        answer = self._request(
            "POST", f"/api/store/runs/{run_id}/batches", body=body, headers=headers
        )
        return bool(wire.decode(answer, dict[str, bool]).get("applied", True))

    @staticmethod
    def _check_changes(batch: RunBatch) -> None:
        unknown = set(batch.changes) - UPDATABLE_RUN_FIELDS
        if unknown:
            raise LabledgerError(f"cannot update run fields: {', '.join(sorted(unknown))}")

    def update_run(self, run_id: str, changes: Mapping[str, Any]) -> None:
        self._write_sync(run_id, RunBatch(changes=dict(changes)))

    def log_config(self, run_id: str, config: Mapping[str, Any]) -> None:
        self._write_sync(run_id, RunBatch(config=dict(config)))

    def put_captures(self, run_id: str, sections: Mapping[str, Mapping[str, Any]]) -> None:
        self._write_sync(run_id, RunBatch(captures={k: dict(v) for k, v in sections.items()}))

    def write_metrics(self, run_id: str, columns: Mapping[str, MetricColumns]) -> None:
        self._write_sync(run_id, RunBatch(metrics=dict(columns)))

    def set_summary(self, run_id: str, values: Mapping[str, Any]) -> None:
        self._write_sync(run_id, RunBatch(summary=dict(values)))

    def append_output(self, run_id: str, lines: Sequence[tuple[str, float, str]]) -> None:
        self._write_sync(run_id, RunBatch(outputs=list(lines)))

    def _write_sync(self, run_id: str, batch: RunBatch) -> None:
        """Shorthand writes: journaled and queued like any batch, then waited for, so that a
        refusal (an unknown run, a bad field) reaches the caller. While the server is down
        they stay queued and the call returns after a bounded wait."""
        self._check_changes(batch)
        journal = self._ensure_journal()
        if journal is None or self._sender is None:
            if journal is None:
                self._post_batch(run_id, wire.encode_batch(batch), None)
            else:
                self.write_batch(run_id, batch)
            return
        body = wire.encode_batch(batch)
        entry = journal.append_batch(run_id, body) or JournalEntry(
            "batch", run_id, f"{run_id}:{journal.journal_id}.m{id(body)}", body
        )
        delivery = self._sender.submit(entry, waited=True)
        delivery.done.wait(READ_WAIT_SECONDS)
        if delivery.error is not None:
            journal.ack(entry.key)  # refused: the caller gets the error instead
            raise delivery.error

    def delete_run(self, run_id: str) -> list[ArtifactVersion]:
        self._sync_writes()
        answer = self._request("DELETE", f"/api/store/runs/{run_id}")
        return wire.decode(answer, list[ArtifactVersion])

    # --- read side --------------------------------------------------------------------
    def get_run(self, ref: str) -> RunRecord:
        return wire.decode(self._read("/api/store/run", {"ref": ref}), RunRecord)

    def search_runs(
        self,
        project: str | None = None,
        filter: str | None = None,
        order_by: Sequence[str] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[RunRecord]:
        self._sync_writes()
        query = {
            "project": project,
            "filter": filter,
            "order_by": list(order_by),
            "limit": limit,
            "offset": offset,
        }
        answer = self._request("POST", "/api/store/search", body=wire.encode(query))
        return wire.decode(answer, list[RunRecord])

    def run_columns(
        self,
        project: str | None = None,
        filter: str | None = None,
        order_by: Sequence[str] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> RunColumns:
        from labledger.store.columns import columns_from_records

        return columns_from_records(self.search_runs(project, filter, order_by, limit, offset))

    def count_runs(self, project: str | None = None, filter: str | None = None) -> int:
        self._sync_writes()
        query = {"project": project, "filter": filter}
        return wire.decode(self._request("POST", "/api/store/count", body=wire.encode(query)), int)

    def list_projects(self) -> list[str]:
        return wire.decode(self._read("/api/store/projects"), list[str])

    def get_captures(self, run_id: str) -> dict[str, dict[str, Any]]:
        answer = self._read(f"/api/store/runs/{run_id}/captures")
        return wire.decode(answer, dict[str, dict[str, Any]])

    def metric_keys(self, run_id: str) -> list[str]:
        return wire.decode(self._read(f"/api/store/runs/{run_id}/keys"), list[str])

    def read_metric(
        self,
        run_id: str,
        key: str,
        *,
        times: bool = True,
        start: int | None = None,
        end: int | None = None,
    ) -> MetricSeries:
        params = {"key": key, "times": "1" if times else "0"}
        if start is not None:
            params["start"] = str(start)
        if end is not None:
            params["end"] = str(end)
        return wire.decode_series(self._read(f"/api/store/runs/{run_id}/series", params))

    def read_envelope(
        self,
        run_id: str,
        key: str,
        points: int,
        *,
        start: int | None = None,
        end: int | None = None,
    ) -> SeriesEnvelope:
        return self.read_envelopes([(run_id, key)], points, start=start, end=end)[0]

    def read_envelopes(
        self,
        series: Sequence[tuple[str, str]],
        points: int,
        *,
        start: int | None = None,
        end: int | None = None,
    ) -> list[SeriesEnvelope]:
        """From the server's rollups, in one request."""
        self._sync_writes()
        body = {"series": [list(p) for p in series], "points": points, "start": start, "end": end}
        answer = self._request("POST", "/api/store/envelopes", body=wire.encode(body))
        return wire.decode_envelopes(answer)

    def read_output(
        self, run_id: str, *, since: float | None = None
    ) -> list[tuple[str, float, str]]:
        params = None if since is None else {"since": repr(since)}
        answer = self._read(f"/api/store/runs/{run_id}/output", params)
        return [(s, t, x) for s, t, x in wire.decode(answer, list[tuple[str, float, str]])]

    # --- shutdown -----------------------------------------------------------------------
    def pending_writes(self) -> int:
        """Writes journaled but not yet acknowledged by the server."""
        return 0 if self._journal is None else len(self._journal.pending())

    def close(self, drain_timeout: float = EXIT_DRAIN_SECONDS) -> None:
        """Deliver what is queued (up to ``drain_timeout`` s), then release the journal; what
        is still undelivered stays in it for ``labledger sync``."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._sender is not None:
            self._sender.stop(drain_timeout)
        if self._journal is not None:
            left = len(self._journal.pending())
            self._journal.close()
            if left:
                log.warning(
                    "labledger: %d write(s) for %s not delivered yet; they are kept in %s: "
                    "run `labledger sync` to deliver them",
                    left,
                    self.uri,
                    self._journal.path,
                )
        self._client.close()


def _close_at_exit(ref: weakref.ReferenceType[HttpStore]) -> None:
    store = ref()
    if store is not None:
        store.close()
