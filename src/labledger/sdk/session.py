"""``init`` and the module-level API (``log``, ``finish``) around the current run."""

from __future__ import annotations

import getpass
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labledger.config import Settings, load_settings
from labledger.entities import RunRecord, RunStatus, new_run_id, this_host
from labledger.errors import LabledgerError
from labledger.sdk import lifecycle
from labledger.sdk.backend import get_store, is_open
from labledger.sdk.config_input import config_to_dict, parsed_arguments
from labledger.sdk.mmap_journal import recover as recover_points
from labledger.sdk.policy import enforce_at_init
from labledger.sdk.seeding import seed_everything, take_pending_seeds
from labledger.store.journal_file import BATCH_SUFFIX as JOURNAL_SUFFIX

if TYPE_CHECKING:
    from labledger.capture.registry import CaptureJob
    from labledger.sdk.run import Run
    from labledger.store.base import Store

current_run = lifecycle.current
_log = logging.getLogger("labledger")


def init(
    project: str | None = None,
    config: Any = None,
    *,
    name: str | None = None,
    tags: Sequence[str] = (),
    notes: str | None = None,
    group: str | None = None,
    seed: int | None = None,
    resume: str | None = None,
    reproduces: str | None = None,
    settings: Settings | None = None,
    capture: bool = True,
    mode: str | None = None,
    uri: str | None = None,
) -> Run:
    """Start (or with ``resume=RUN_ID`` continue) a run and begin automatic capture.

    ``config`` may be a dict, ``argparse.Namespace``, dataclass, OmegaConf config or pydantic
    model; without it a new run records the ``argparse.Namespace`` the main script parsed,
    if there is one. ``seed`` calls ``seed_everything(seed)`` and records it.
    ``uri`` picks the store for this run (``sqlite:///path``, ``postgresql://...`` or a team
    server's ``http(s)://host:port``) instead of ``LABLEDGER_URI`` / the config file; the
    token for a server comes from ``LABLEDGER_TOKEN`` or the credentials file.
    ``mode="offline"`` (with a team server URI) journals the run locally without contacting
    the server; ``labledger sync`` delivers it later. The run finishes when the ``with``
    block ends, on ``finish()``, or at interpreter exit (``failed`` after an uncaught
    exception, ``killed`` after Ctrl-C or SIGTERM).
    """
    with lifecycle.critical():  # a signal meanwhile takes effect once the run is registered
        return _init(
            project,
            config,
            name=name,
            tags=tags,
            notes=notes,
            group=group,
            seed=seed,
            resume=resume,
            reproduces=reproduces,
            settings=settings,
            capture=capture,
            mode=mode,
            uri=uri,
        )


def _init(
    project: str | None,
    config: Any,
    *,
    name: str | None,
    tags: Sequence[str],
    notes: str | None,
    group: str | None,
    seed: int | None,
    resume: str | None,
    reproduces: str | None,
    settings: Settings | None,
    capture: bool,
    mode: str | None,
    uri: str | None,
) -> Run:
    from labledger.sdk.run import Run

    tags = _check_tags(tags)
    if settings is not None and uri is not None and uri != settings.uri:
        raise LabledgerError("pass either settings= or uri= to init, not both")
    settings = settings or load_settings(uri=uri)
    if mode is not None:
        if mode not in ("online", "offline"):
            raise LabledgerError(f"mode must be 'online' or 'offline', got {mode!r}")
        settings = settings.with_overrides(offline=mode == "offline")
    reproduces = reproduces or settings.reproduces  # set by `labledger reproduce`
    enforce_at_init(settings, seed=seed, resume=resume, reproduces=reproduces)  # [policy]
    opener = _opener(settings)
    background = resume is None and settings.uri.startswith("sqlite")
    # A new run in a local store: the writer thread opens the store (SQLAlchemy's import, the
    # schema check) while the script goes on; what it logs meanwhile queues.
    store: Any = opener if background and not is_open(settings) else opener()
    if config is None and resume is None:
        config = parsed_arguments()
    values, config_kind = config_to_dict(config)
    now = time.time()
    if resume is not None:
        record = _recovered_record(store, settings, store.get_run(resume))
        if project is not None and project != record.project:
            raise LabledgerError(
                f"run {record.run_id} belongs to project {record.project!r}, not {project!r}"
            )
        _warn_if_live(record, settings)
        changes: dict[str, Any] = {
            "status": RunStatus.RUNNING,
            "ended_at": None,
            "heartbeat_at": now,
            "pid": os.getpid(),
            "host": this_host(),
            "exit_code": None,
            "error": None,
        }
        store.update_run(record.run_id, changes)
        if values:
            store.log_config(record.run_id, values)
            record.config.update(values)
        steps = [
            m.last_step
            for k, m in record.metrics.items()
            if m.last_step is not None and not k.startswith("system/")
        ]
        run = Run(record, store, settings, start_step=max(steps, default=-1) + 1)
    else:
        project = project or settings.project or settings.root.parent.name or "default"
        run_id = new_run_id()
        record = RunRecord(
            run_id=run_id,
            project=project,
            name=name or run_id,
            status=RunStatus.RUNNING,
            created_at=now,
            heartbeat_at=now,
            group=group,
            tags=list(tags),
            notes=notes,
            config=values,
            host=this_host(),
            pid=os.getpid(),
            reproduces=reproduces,
        )
        run = Run(record, store, settings, create=True)  # written with the first flush
    lifecycle.register(run)
    pending = take_pending_seeds()
    if seed is not None:
        seed_everything(seed)
    elif pending:
        run.record_seeds(pending)
    _start_capture(run, settings, config_kind, capture)  # git's subprocesses start first
    run._writer.start()
    return run


def _opener(settings: Settings) -> Callable[[], Store]:
    """Opens the store and delivers what earlier runs spooled while it was down."""

    def open_store() -> Store:
        store = get_store(settings)
        if settings.uri.startswith(("sqlite", "postgres")):  # a team server client has its own
            _redeliver_if_spooled(store, settings)
        if settings.point_journal:
            recover_points(store, settings.journal_dir)  # after the spool: it may advance seq
        return store

    return open_store


def _redeliver_if_spooled(store: Store, settings: Settings) -> None:
    """``redeliver`` when a journal folder holds a spooled batch journal: a folder that is
    missing or holds none (the point journals' subfolder aside) costs a listing, and nothing
    of the delivery is imported."""
    from labledger.sdk.spool import journal_dirs, redeliver

    if any(_has_journals(d) for d in journal_dirs(settings)):
        redeliver(store, settings)


def _has_journals(folder: Path) -> bool:
    try:
        with os.scandir(folder) as entries:
            return any(entry.name.endswith(JOURNAL_SUFFIX) for entry in entries)
    except OSError:
        return False


def _start_capture(run: Run, settings: Settings, config_kind: str, capture: bool) -> None:
    user = _safe(getpass.getuser)
    section = {"config_source": config_kind, "user": user}
    run._writer.queue("capture", {"run": section})
    if not capture:
        return
    if settings.capture_console:
        from labledger.capture.console import ConsoleCapture

        console = ConsoleCapture(run._record_output)
        console.start()
        run._helpers.append(console)
    if settings.system_metrics_interval > 0:
        from labledger.capture.system import SystemSampler

        sampler = SystemSampler(run._record_system, interval=settings.system_metrics_interval)
        sampler.start()
        run._helpers.append(sampler)
    # The probes run on threads kept for the process (a run starts none): init waits for
    # none of them, and a process's later runs get git's answer from a cache checked
    # against the tree.
    run._helpers.append(_Capture(run))


class _Capture:
    """The capture probes of one run, collected off the training thread; ``finish`` waits
    for their sections to be queued. A run whose code state could not be recorded is tagged
    ``capture-incomplete``, loudly."""

    def __init__(self, run: Run) -> None:
        self.run_ref = run
        try:
            cwd: Path | None = Path.cwd()  # the code state where init was called
        except OSError:
            cwd = None
        self.job: CaptureJob | None = None
        self._launched = threading.Event()
        if "labledger.capture.registry" in sys.modules:  # the probes' threads are kept
            self._launch(cwd)
        else:  # a process's first run: the probes' imports and threads start off init's path
            launcher = threading.Thread(
                target=self._launch, args=(cwd,), name="labledger-capture-start", daemon=True
            )
            try:
                launcher.start()
            except RuntimeError:  # no thread to be had: start them from here
                self._launch(cwd)

    def _launch(self, cwd: Path | None) -> None:
        try:
            from labledger.capture.registry import CaptureJob

            self.job = CaptureJob(cwd, on_complete=self._deliver)
        except Exception as exc:  # the run still gets a (failed) git section and its mark
            self._deliver({"git": {"error": f"capture did not start: {exc}"}})
        finally:
            self._launched.set()

    def _deliver(self, sections: dict[str, dict[str, Any]]) -> None:
        from labledger.capture.registry import INCOMPLETE_TAG, incomplete_sections

        self.run_ref._writer.queue("capture", sections)
        missing = incomplete_sections(sections)
        if missing:
            run = self.run_ref
            reason = sections["git"].get("error")
            message = (
                f"labledger: WARNING: the git state of run {run.id} could not be recorded "
                f"({reason}); the run is marked {INCOMPLETE_TAG} and cannot be reproduced"
            )
            _log.warning(message)
            sys.stderr.write(message + "\n")
            try:
                tags = [*run.record.tags, INCOMPLETE_TAG]
                run._writer.flush(raise_errors=True, changes={"tags": tags})
                run.record.tags[:] = tags
            except Exception as exc:  # never break the user's program over a mark
                _log.warning("labledger: cannot mark run %s incomplete: %s", run.id, exc)

    def stop(self) -> None:
        from labledger.capture.registry import GIT_DEADLINE

        self._launched.wait(GIT_DEADLINE)
        if self.job is not None:
            self.job.delivered(timeout=GIT_DEADLINE + 5)


def _check_tags(tags: Any) -> list[str]:
    """``tags`` as a list of strings; a bare string is almost always a mistake."""
    if isinstance(tags, str):
        raise TypeError(f"tags must be a list of strings, got the string {tags!r}: use [{tags!r}]")
    try:
        values = list(tags or ())
    except TypeError:
        raise TypeError(f"tags must be a list of strings, got {type(tags).__name__}") from None
    for tag in values:
        if not isinstance(tag, str) or not tag:
            raise TypeError(f"each tag must be a non-empty string, got {tag!r}")
    return values


def _recovered_record(store: Store, settings: Settings, record: RunRecord) -> RunRecord:
    """``record`` once its crashed process's point journal is in the store: resumed before,
    the run would continue from a stale step and journal after unrecovered points (one
    committed sequence number cannot cover both). Raises when recovery fails again."""
    from labledger.sdk.mmap_journal import is_live, pending_runs

    run_id = record.run_id
    if not settings.point_journal or run_id not in pending_runs(settings.journal_dir):
        return record
    if is_live(settings.journal_dir, run_id):
        return record  # another process still logs it: _warn_if_live says so
    recover_points(store, settings.journal_dir)  # init's attempt failed: once more
    if run_id in pending_runs(settings.journal_dir):
        raise LabledgerError(
            f"cannot resume run {run_id}: the points of its crashed process are not "
            "recovered yet (see the warning above); `labledger sync` retries"
        )
    return store.get_run(run_id)


def _warn_if_live(record: RunRecord, settings: Settings) -> None:
    """Resuming a run another live process is still writing: both would write to it."""
    if record.status is not RunStatus.RUNNING:
        return
    from labledger.sdk.api import is_live

    if record.pid == os.getpid() and record.host == this_host():
        return
    if is_live(record, settings):
        _log.warning(
            "labledger: run %s is still live (pid %s on %s); resuming it here means two "
            "processes write to it and the first to finish sets its status",
            record.run_id,
            record.pid,
            record.host,
        )


def _safe(fn: Any) -> Any:
    try:
        return fn()
    except Exception:
        return None


def log(data: Mapping[str, Any], step: int | None = None) -> None:
    """Log to the current run (see ``Run.log``)."""
    run = current_run()
    if run is None:
        raise LabledgerError("labledger.log() called before labledger.init()")
    run.log(data, step=step)


def finish(status: RunStatus | str = RunStatus.FINISHED) -> None:
    """Finish the current run, if any."""
    run = current_run()
    if run is not None:
        run.finish(status)


def use_artifact(ref: str, dest: str | os.PathLike[str] | None = None) -> Path:
    """Fetch artifact ``name[:vN|alias]``, recording the current run (if any) as consumer."""
    run = current_run()
    if run is not None:
        return run.use_artifact(ref, dest=dest)
    from labledger.sdk.artifacts import Artifacts

    settings = load_settings()
    return Artifacts(get_store(settings), settings).use(ref, dest=dest)
