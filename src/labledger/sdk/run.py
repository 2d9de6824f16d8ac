"""``Run``: the handle a training script logs through."""

from __future__ import annotations

import logging
import math
import os
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from labledger.config import Settings
from labledger.entities import RunRecord, RunStatus
from labledger.sdk import lifecycle
from labledger.sdk.config_input import config_to_dict
from labledger.sdk.point_journal import STEP_LIMIT
from labledger.sdk.writer import Writer
from labledger.store.base import RunBatch, Store

if TYPE_CHECKING:
    from labledger.sdk.artifacts import Artifacts
    from labledger.sdk.mmap_journal import PointJournal
    from labledger.store.base import ArtifactVersion

log = logging.getLogger("labledger")
_time = time.time
_FLOATS = frozenset({float})  # values log() may keep as they are (immutable, always storable)

EXIT_CODES = {
    RunStatus.FINISHED: 0,
    RunStatus.FAILED: 1,
    RunStatus.KILLED: 130,
}


class Summary(MutableMapping[str, Any]):
    """``run.summary``: final values (e.g. ``f1``) that override the last logged value."""

    def __init__(self, writer: Writer, initial: Mapping[str, Any]) -> None:
        self._data = dict(initial)
        self._writer = writer

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._data[key] = value
        self._writer.queue("summary", {key: value})

    def __delitem__(self, key: str) -> None:
        raise TypeError("summary values cannot be deleted; set a new value instead")

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def update(self, *args: Any, **kwargs: Any) -> None:
        values = dict(*args, **kwargs)
        self._data.update(values)
        self._writer.queue("summary", values)

    def __repr__(self) -> str:
        return f"Summary({self._data!r})"


class Run:
    """A live run. Create it with ``labledger.init``; use it as a context manager or call
    ``finish()``. Logging only enqueues: a background thread writes to the store.

    ``store`` may be a callable that opens it (the writer thread does, off ``init``'s path);
    ``create=True`` means the run's row is still to be written, with the first flush."""

    def __init__(
        self,
        record: RunRecord,
        store: Store | Callable[[], Store],
        settings: Settings,
        *,
        start_step: int = 0,
        create: bool = False,
    ) -> None:
        self.record = record
        self.settings = settings
        self._writer = Writer(
            store,
            record.run_id,
            flush_interval=settings.flush_interval,
            heartbeat_interval=settings.heartbeat_interval,
            spool_dir=settings.root / "spool",
            strict=settings.strict,
            on_death=self._writer_died,
            settings=settings,
            record=record,
            create=_copy_record(record) if create else None,
        )
        self._journal = _open_journal(self._writer, settings, self._capture)
        if self._journal is not None:
            self._writer.attach(self._journal)
        # Strict mode checks every value at log(); otherwise a dict goes to the journal as it
        # is and only what marshal cannot encode (numpy or torch scalars...) is converted.
        self._raw = self._journal is not None and not settings.strict
        self._append = self._sink()
        self._step = start_step
        self._system_step = 0
        self._finished = False
        self._use_fast_log()
        self.summary = Summary(self._writer, record.summary)
        self._artifacts: Artifacts | None = None
        self._helpers: list[Any] = []  # console capture, system sampler: stopped at finish

    @property
    def store(self) -> Store:
        """The run's store (opened now if the writer thread has not opened it yet), holding
        the run's row: code that writes to the store directly finds the run there."""
        self._ensure_created()
        return self._writer.store

    # --- identity -------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.record.run_id

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def project(self) -> str:
        return self.record.project

    @property
    def config(self) -> dict[str, Any]:
        """The run's nested config (a copy; change it with ``update_config``)."""
        return dict(self.record.config)

    @property
    def step(self) -> int:
        """The step the next ``log`` call without ``step=`` will use."""
        return self._step

    def __repr__(self) -> str:
        return f"<Run {self.id} {self.project}/{self.name} {self.record.status}>"

    # --- logging (hot path) ---------------------------------------------------------
    def log(self, data: Mapping[str, Any], step: int | None = None) -> None:
        """Record metric values (numbers, numpy or torch scalars) at ``step``.

        Without ``step`` each call advances an internal counter, as in W&B. The call only
        timestamps and enqueues a copy of ``data``; it never waits for the disk.
        """
        if step is None:
            step = self._step
            self._step = step + 1
        elif step.__class__ is int and -STEP_LIMIT <= step < STEP_LIMIT:
            if step >= self._step:
                self._step = step + 1
        else:
            step = self._check_step(step, data)
            if step is None:
                return
            if step >= self._step:
                self._step = step + 1
        if data.__class__ is dict:
            if self._raw:  # the journal's encoding is the copy; it converts what it cannot take
                self._append((_time(), step, data))
                return
            if _FLOATS.issuperset(map(type, data.values())):
                self._append((_time(), step, data.copy()))
                return
        self._append((_time(), step, self._capture(data)))

    def _use_fast_log(self) -> None:
        """Let ``run.log`` be the journal's one-call path (an attribute of this run, ahead
        of the method) while the run journals values as they are and the writer lives."""
        if not self._raw or self._journal is None:
            return
        fast = self._journal.logger(self, partial(Run.log, self))
        if fast is not None:
            fast.__doc__, fast.__name__, fast.__qualname__ = Run.log.__doc__, "log", "Run.log"
            self.__dict__["log"] = fast

    def _use_slow_log(self) -> None:
        self.__dict__.pop("log", None)

    def _sink(self) -> Any:
        """What ``log`` appends a point to: the journal (the writer drains it) or the queue."""
        return self._journal.append if self._journal is not None else self._writer.points.append

    def _log_after_finish(self, point: Any) -> None:
        log.warning("labledger: run %s is finished; log() ignored", self.id)

    def _check_step(self, step: Any, data: Any) -> int | None:
        """``step`` as an int, or None (point refused, warned) outside strict mode; strict
        mode raises. Steps are integers within int64: 1.5, NaN, 2**63 or True are refused."""
        problem = _step_problem(step)
        if problem is None:
            return int(step)
        if self.settings.strict:
            raise problem
        for key in data if isinstance(data, Mapping) else ():
            self._writer.columnizer.drop(key, 1, f"refused at log(): {problem}")
        self._writer.columnizer.warn_once(f"step:{problem}", f"labledger: log() refused: {problem}")
        return None

    def _capture(self, data: Any) -> dict[str, Any]:
        """A copy of ``data`` whose values are read now: a 0-d array or tensor changed in place
        after ``log`` must not change what was logged. Tensors are detached and read with
        ``.item()``; values the writer cannot store stay as they are for it to report."""
        if not isinstance(data, Mapping):
            raise TypeError(f"run.log expects a dict of metrics, got {type(data).__name__}")
        strict = self.settings.strict
        out: dict[str, Any] = {}
        for key, value in data.items():
            kind = value.__class__
            if kind is float:
                pass
            elif kind is int:
                if strict and not -1.7976931348623157e308 <= value <= 1.7976931348623157e308:
                    raise ValueError(
                        f"metric {key!r}: {value.bit_length()}-bit int is too large for float64"
                    )
            elif kind is bool:
                value = float(value)
            elif hasattr(value, "item") and _is_single(value):
                value = _read_scalar(value)
            out[key] = value
        return out

    def _writer_died(self, error: BaseException) -> None:
        """Called from the dying writer thread: the next ``log`` warns and restarts it."""
        if not self._finished:
            self._use_slow_log()
            self._append = self._restart_writer

    def _restart_writer(self, point: Any) -> None:
        log.error(
            "labledger: run %s: the background writer stopped (%r); restarting it",
            self.id,
            self._writer.error,
        )
        self._append = self._sink()
        self._append(point)
        self._writer.restart()
        self._use_fast_log()

    def update_config(self, config: Any) -> None:
        """Add keys to the run's config (dict, argparse, dataclass or OmegaConf)."""
        values, _ = config_to_dict(config)
        self.record.config.update(values)
        self._writer.queue("config", values)

    def record_seeds(self, seeds: Mapping[str, Any]) -> None:
        self._writer.queue("capture", {"seeds": dict(seeds)})

    def _record_output(self, stream: str, when: float, text: str) -> None:
        self._writer.queue("output", (stream, when, text))

    def _record_system(self, when: float, sample: Mapping[str, float]) -> None:
        self._writer.points.append((when, self._system_step, dict(sample)))
        self._system_step += 1

    # --- artifacts --------------------------------------------------------------------
    @property
    def artifacts(self) -> Artifacts:
        if self._artifacts is None:
            from labledger.sdk.artifacts import Artifacts

            self._artifacts = Artifacts(self.store, self.settings)
        return self._artifacts

    def log_artifact(
        self,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        type: str = "artifact",
        metadata: Mapping[str, Any] | None = None,
        reference: bool = False,
        aliases: Sequence[str] = (),
        follow_symlinks: bool = False,
    ) -> ArtifactVersion:
        """Store a file or folder (content-addressed) as the next version of ``name``. A
        folder's symlinks pointing outside it are refused unless ``follow_symlinks=True``.

        A SIGTERM/SIGINT arriving meanwhile takes effect when the version is complete."""
        with lifecycle.critical():
            self._writer.flush(raise_errors=False)
            return self.artifacts.log(
                self.id,
                path,
                name=name,
                type=type,
                metadata=metadata,
                reference=reference,
                aliases=aliases,
                follow_symlinks=follow_symlinks,
            )

    def use_artifact(self, ref: str, dest: str | os.PathLike[str] | None = None) -> Path:
        """Fetch ``name[:vN|alias]`` and record this run as its consumer."""
        with lifecycle.critical():
            self._ensure_created()
            return self.artifacts.use(ref, run_id=self.id, dest=dest)

    def use_dataset(
        self, data: Any, name: str | None = None, *, copy: bool | None = None
    ) -> ArtifactVersion:
        """Fingerprint input data and record it as consumed by this run: a path or ``s3://``
        URI by reference; a file in a temporary folder also with a stored copy, and in-memory
        data (bytes, a numpy array; ``name`` required) stored, when small
        (``LABLEDGER_DATASET_COPY_MAX_MB``, default 64), so ``check`` can re-verify it."""
        with lifecycle.critical():
            self._ensure_created()
            return self.artifacts.use_dataset(self.id, data, name=name, copy=copy)

    def _ensure_created(self) -> None:
        """Write the run's row now if the first flush has not yet (lineage refers to it)."""
        if not self._writer.created:
            self._writer.flush(raise_errors=False)

    # --- lifecycle --------------------------------------------------------------------
    def flush(self) -> None:
        """Block until everything logged so far is durable in the store (or, when the store
        cannot take it, in the spool). Raises the store's error only in strict mode."""
        self._writer.flush(raise_errors=self.settings.strict)

    def finish(
        self,
        status: RunStatus | str = RunStatus.FINISHED,
        error: str | None = None,
        exit_code: int | None = None,
    ) -> None:
        """Flush, record the final status and stop background work. Idempotent; never raises
        into the training script (outside strict mode). A SIGTERM/SIGINT arriving meanwhile
        waits until the record is complete, and the run ends ``killed``."""
        if self._finished:
            return
        with lifecycle.critical():
            self._finish(RunStatus(status), error, exit_code)

    def _finish(self, status: RunStatus, error: str | None, exit_code: int | None) -> None:
        self._finished = True
        self._use_slow_log()
        self._append = self._log_after_finish
        for helper in reversed(self._helpers):
            try:
                helper.stop()
            except Exception as exc:
                log.warning("labledger: stopping %s failed: %s", type(helper).__name__, exc)
        interrupted = lifecycle.deferred_signal()
        if interrupted is not None and status is RunStatus.FINISHED:
            status, error, exit_code = RunStatus.KILLED, interrupted, None
        ended = time.time()
        changes: dict[str, Any] = {
            "status": status,
            "ended_at": ended,
            "heartbeat_at": ended,
            "exit_code": EXIT_CODES.get(status, 1) if exit_code is None else exit_code,
        }
        if error is not None:
            changes["error"] = error
        if not self._writer.alive and self._writer.error is not None:
            log.error(
                "labledger: run %s: the background writer had stopped (%r); "
                "writing what it left now",
                self.id,
                self._writer.error,
            )
        from labledger.sdk.fingerprint import seal_into, seal_run

        sealed: list[str] = []
        offline = getattr(self._writer._store, "offline", False)

        def seal(store: Store, batch: RunBatch, create: RunRecord | None) -> None:
            if getattr(store, "create_run_batch", None) is None:
                return  # a team server: sealed after delivery, as below
            fingerprint = seal_into(store, self.id, self.settings, batch, create)
            if fingerprint is not None:
                sealed.append(fingerprint)

        # The final status lands in the same transaction, and so does the fingerprint.
        self._writer.close(changes, seal=None if offline else seal)
        if self._journal is not None:  # keep it only if the spool could not take the rest
            spooled = self._writer.spooled_to
            self._journal.close(remove=spooled is None or not spooled.startswith("memory"))
        self.record.status = status
        self.record.ended_at = ended
        lifecycle.unregister(self)
        if self._writer.columnizer.dropped:
            total = sum(self._writer.columnizer.dropped.values())
            log.warning(
                "labledger: run %s: %d point(s) were not stored (%s); see `labledger runs show %s`",
                self.id,
                total,
                ", ".join(sorted(self._writer.columnizer.dropped)),
                self.id,
            )
        if sealed:
            pass  # sealed in the final flush (the project has no policy to apply first)
        elif self._writer.spooled_to is None and not getattr(self._writer._store, "offline", False):
            # else `labledger sync` seals it once the spool or journal is delivered
            seal_run(self.store, self.id, self.settings)  # policy marks, then the fingerprint
        interrupted = lifecycle.deferred_signal()
        if interrupted is not None and status is not RunStatus.KILLED:
            # The signal came while the record was being completed: it still ends the run.
            self.record.status = RunStatus.KILLED
            self._writer.close({"status": RunStatus.KILLED, "exit_code": 130, "error": interrupted})

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.finish()
        elif issubclass(exc_type, KeyboardInterrupt):
            self.finish(RunStatus.KILLED, error="KeyboardInterrupt")
        elif issubclass(exc_type, lifecycle.Terminated):
            self.finish(RunStatus.KILLED, error="SIGTERM")
        elif issubclass(exc_type, SystemExit):
            code = exc.code if isinstance(exc, SystemExit) else None
            if code is None or code == 0:
                self.finish(exit_code=0)
            else:
                number = code if isinstance(code, int) else 1
                self.finish(RunStatus.FAILED, error=f"sys.exit({code!r})", exit_code=number)
        else:
            text = "".join(traceback.format_exception(exc_type, exc, tb))
            self.finish(RunStatus.FAILED, error=text)


def _open_journal(
    writer: Writer, settings: Settings, convert: Callable[[Any], dict[str, Any]]
) -> PointJournal | None:
    if not settings.point_journal:
        return None
    from labledger.sdk.mmap_journal import committed_seq, open_journal, points_dir

    start = 0
    if writer._create is None:  # a resumed run: number its points after what is committed
        try:
            start = committed_seq(writer.store, writer.run_id)
        except Exception as exc:  # numbering from 0 could hide them from recovery
            log.warning(
                "labledger: run %s: cannot read its committed journal position (%s); logged "
                "points stay in memory until the writer stores them (lost on a crash)",
                writer.run_id,
                exc,
            )
            return None
    journal = open_journal(
        points_dir(settings.journal_dir), writer.run_id, writer.points.append, start, convert
    )
    create = writer._create
    if journal is not None and create is not None:
        from labledger.sdk.mmap_journal import save_record

        try:
            save_record(points_dir(settings.journal_dir), create)
        except OSError as exc:  # the journal still has the points; only an early crash loses
            log.warning("labledger: cannot keep run %s's record: %s", writer.run_id, exc)
    return journal


def _copy_record(record: RunRecord) -> RunRecord:
    """The record as ``init`` made it, for the writer to create the run from: later changes
    to ``run.record`` (config, tags) reach the store through their own batches."""
    import dataclasses

    return dataclasses.replace(record, config=dict(record.config), tags=list(record.tags))


def _read_scalar(value: Any) -> Any:
    """A tensor's or array's one number now (detached first); unchanged when that fails, for
    the writer to report."""
    try:
        return value.detach().item() if hasattr(value, "detach") else value.item()
    except Exception:
        return value


def _is_single(value: Any) -> bool:
    """A tensor or array holding exactly one number (``numel()``/``size`` of 1)."""
    numel = getattr(value, "numel", None)
    if callable(numel):
        try:
            return bool(numel() == 1)
        except Exception:
            return False
    return getattr(value, "size", None) == 1


def _step_problem(step: Any) -> Exception | None:
    """Why ``step`` is not a valid step (the error strict mode raises), or None."""
    import operator

    if isinstance(step, bool):
        return TypeError(f"step must be an integer, got {step!r}")
    try:
        number = operator.index(step)
    except TypeError:
        if not isinstance(step, float):
            return TypeError(f"step must be an integer, got {type(step).__name__} {step!r}")
        if not math.isfinite(step):
            return ValueError(f"step must be a finite integer, got {step!r}")
        if not step.is_integer():
            return TypeError(f"step must be an integer, got {step!r}")
        number = int(step)
    if not -STEP_LIMIT <= number < STEP_LIMIT:
        return ValueError(f"step {number} does not fit in 64 bits")
    return None
