"""The read side shared by the CLI, the UI and notebooks: ``Api``, ``RunView``, ``RunList``."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from labledger.config import Settings, load_settings
from labledger.encoding import flatten
from labledger.entities import MetricSeries, RunRecord, RunStatus, this_host
from labledger.errors import MissingExtra
from labledger.sdk import lifecycle
from labledger.sdk.backend import get_store
from labledger.store.base import ArtifactVersion, Store
from labledger.store.filtering import check_range, parse_filter, parse_order

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pandas as pd

    from labledger.analysis import ImportanceResult, Significance
    from labledger.sdk.series import History
    from labledger.store.columns import RunColumns
    from labledger.store.rollups import SeriesEnvelope


class RunView:
    """A recorded run, read from the store."""

    def __init__(self, record: RunRecord, store: Store) -> None:
        self.record = record
        self._store = store

    @property
    def store(self) -> Store:
        """The store this run was read from."""
        return self._store

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
    def status(self) -> RunStatus:
        return self.record.status

    @property
    def config(self) -> dict[str, Any]:
        return self.record.config

    @property
    def params(self) -> dict[str, Any]:
        """The config flattened to dotted keys (``optimizer.lr``)."""
        return flatten(self.record.config)

    @property
    def metrics(self) -> dict[str, Any]:
        """Final value of every metric (the summary overrides the last logged point). A
        non-finite last point (``inf``, ``-inf``, ``nan``), which the runs table cannot hold,
        is read back from the series itself."""
        values = self.record.final_metrics()
        for key, summary in self.record.metrics.items():
            if summary.last is None and summary.count and key not in self.record.summary:
                series = self.series(key)
                if len(series):
                    values[key] = float(series.values[-1])
        return values

    @property
    def summary(self) -> dict[str, Any]:
        return self.record.summary

    def history(self, key: str, samples: int | None = None) -> History:
        """``steps, values`` of a metric as numpy arrays; ``samples`` downsamples for plots."""
        from labledger.sdk.series import History, downsample

        series = self._store.read_metric(self.id, key, times=False)
        if samples is not None:
            return downsample(series.steps, series.values, samples)
        return History(series.steps, series.values)

    def envelope(
        self, key: str, points: int = 1000, start: int | None = None, end: int | None = None
    ) -> SeriesEnvelope:
        """A chart's view of ``key`` (steps ``start`` to ``end``): the points themselves when
        few, else at most ``points`` step-aligned buckets (first step, mean, exact min and
        max), read from the store's rollups without the raw points."""
        return self._store.read_envelope(self.id, key, points, start=start, end=end)

    def series(self, key: str) -> MetricSeries:
        """The full series including wall-clock times."""
        return self._store.read_metric(self.id, key)

    def metric_keys(self) -> list[str]:
        return self._store.metric_keys(self.id)

    def captures(self) -> dict[str, dict[str, Any]]:
        """Everything captured automatically: git, environment, host, gpu, command, seeds."""
        return self._store.get_captures(self.id)

    def output(self) -> str:
        """The console output recorded while the run was live."""
        return "".join(text for _, _, text in self._store.read_output(self.id))

    def __repr__(self) -> str:
        return f"<RunView {self.id} {self.project}/{self.name} {self.status}>"


class RunList(list[RunView]):
    """Runs returned by a query; ``to_pandas()`` gives one row per run.

    A list made by ``Api.runs`` reads its runs only when first used as a list;
    ``to_pandas()`` on it (unless the list was changed) runs the columnar query instead and
    never builds a ``RunView`` per run.
    """

    _pending: Callable[[], list[RunView]] | None = None
    _columns: Callable[[], RunColumns] | None = None

    @classmethod
    def _lazy(cls, load: Callable[[], list[RunView]], columns: Callable[[], RunColumns]) -> RunList:
        runs = cls()
        runs._pending, runs._columns = load, columns
        return runs

    def _load(self) -> None:
        pending = self._pending
        if pending is not None:
            self._pending = None
            list.extend(self, pending())

    def __radd__(self, other: list[RunView]) -> list[RunView]:
        """``[...] + runs``: a plain list's ``+`` would read the unloaded storage directly."""
        self._load()
        return [*other, *self]

    def to_pandas(self) -> pd.DataFrame:
        try:
            import pandas as pd
        except ImportError:
            raise MissingExtra("pandas", "pandas") from None
        if self._columns is not None:
            from labledger.sdk.frame import runs_frame

            columnar: pd.DataFrame = runs_frame(self._columns())
            return columnar
        self._load()
        frame: pd.DataFrame = rows_frame(pd, self)
        return frame


def rows_frame(pandas: Any, runs: Sequence[RunView]) -> pd.DataFrame:
    """The row path: one dict per run (kept for lists built by hand or changed)."""
    rows = []
    for run in runs:
        record = run.record
        row: dict[str, Any] = {
            "run_id": record.run_id,
            "project": record.project,
            "name": record.name,
            "status": str(record.status),
            "group": record.group,
            "tags": ",".join(record.tags),
            "created_at": pandas.Timestamp(record.created_at, unit="s"),
            "runtime": record.runtime,
        }
        row.update({f"config.{k}": v for k, v in flatten(record.config).items()})
        row.update({f"metrics.{k}": v for k, v in record.final_metrics().items()})
        rows.append(row)
    frame: pd.DataFrame = pandas.DataFrame(rows)
    return frame


def _reader(name: str) -> Any:
    method = getattr(list, name)

    def read(self: RunList, *args: Any, **kwargs: Any) -> Any:
        self._load()
        for arg in args:  # list.__eq__ and __add__ read the other list directly
            if isinstance(arg, RunList):
                arg._load()
        return method(self, *args, **kwargs)

    read.__name__ = name
    return read


def _writer(name: str) -> Any:
    method = getattr(list, name)

    def write(self: RunList, *args: Any, **kwargs: Any) -> Any:
        self._load()
        for arg in args:
            if isinstance(arg, RunList):
                arg._load()
        self._columns = None  # changed: the query no longer describes the list
        return method(self, *args, **kwargs)

    write.__name__ = name
    return write


_READERS = (
    "__iter__ __len__ __getitem__ __contains__ __reversed__ __eq__ __ne__ __lt__ __le__ "
    "__gt__ __ge__ __add__ __mul__ __rmul__ __repr__ __reduce_ex__ index count copy"
)
_WRITERS = (
    "__setitem__ __delitem__ __iadd__ __imul__ append extend insert pop remove sort reverse clear"
)
for _name in _READERS.split():
    setattr(RunList, _name, _reader(_name))
for _name in _WRITERS.split():
    setattr(RunList, _name, _writer(_name))


class ArtifactHandle:
    """One artifact version, read from the store, with the operations a user needs."""

    def __init__(self, service: Any, version: ArtifactVersion) -> None:
        self._service = service
        self.version = version

    @property
    def ref(self) -> str:
        return str(self.version.ref)

    @property
    def digest(self) -> str:
        return str(self.version.digest)

    def alias(self, name: str) -> ArtifactHandle:
        """Point alias ``name`` (``best``, ``production``...) at this version. Inside a
        reproduction (``labledger reproduce``) the original's aliases never move."""
        self._service.alias(self.ref, name)
        return self

    def __repr__(self) -> str:
        return f"<Artifact {self.ref} {self.digest[:19]}>"


class Api:
    """Query recorded runs: ``Api().runs("digits", filter="metrics.acc > 0.9")``."""

    def __init__(
        self, uri: str | None = None, settings: Settings | None = None, store: Store | None = None
    ) -> None:
        """``store`` reads through an already open store (the server's) instead of the one
        the settings name."""
        settings = settings or load_settings()
        if uri is not None:
            settings = settings.with_overrides(uri=uri)
        self.settings = settings
        self.store = store if store is not None else get_store(settings)
        if store is None and settings.point_journal:
            _recover_points(self.store, settings)
        lifecycle.create_pending()

    def runs(
        self,
        project: str | None = None,
        filter: str | None = None,
        order_by: str | Sequence[str] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> RunList:
        """Runs matching ``filter`` (see ``labledger.store.filtering``), sorted by
        ``order_by`` (``"-metrics.acc"`` for descending)."""
        keys = [order_by] if isinstance(order_by, str) else list(order_by)
        # The query runs when the list is first used: refuse bad arguments here, at the call.
        parse_filter(filter)
        parse_order(keys)
        check_range("limit", limit)
        check_range("offset", offset)
        store = self.store
        lifecycle.create_pending()  # lazily loaded: also when the list is first used

        def load() -> list[RunView]:
            lifecycle.create_pending()
            records = store.search_runs(project, filter, keys, limit, offset)
            return [RunView(self._settle(r), store) for r in records]

        def columns() -> RunColumns:
            return self._settle_columns(store.run_columns(project, filter, keys, limit, offset))

        return RunList._lazy(load, columns)

    def count_runs(self, project: str | None = None, filter: str | None = None) -> int:
        """How many runs match ``filter`` (same language as ``runs``)."""
        return self.store.count_runs(project, filter)

    def run(self, ref: str) -> RunView:
        """A run by ID, unique ID prefix, or unique name."""
        lifecycle.create_pending()
        return RunView(self._settle(self.store.get_run(ref)), self.store)

    def projects(self) -> list[str]:
        return self.store.list_projects()

    def artifact(self, ref: str) -> ArtifactHandle:
        """The artifact version ``NAME``, ``NAME:vN`` or ``NAME:ALIAS`` names:
        ``Api().artifact("digits-mlp:v3").alias("best")``."""
        from labledger.sdk.artifacts import Artifacts

        service = Artifacts(self.store, self.settings)
        return ArtifactHandle(service, service.get(ref))

    def settle(self, record: RunRecord) -> RunRecord:
        """``record``, marked ``crashed`` (and persisted) if it is ``running`` but its process
        is gone or its heartbeat is stale."""
        return self._settle(record)

    def importance(
        self,
        metric: str,
        runs: Sequence[str | RunView] | None = None,
        *,
        project: str | None = None,
        filter: str | None = None,
        **options: Any,
    ) -> ImportanceResult:
        """Which config keys move ``metric``: per key a correlation and a random-forest
        permutation importance, each with a 95% bootstrap interval, over ``runs`` (IDs or
        prefixes) or every run matching ``project``/``filter``. ``options``: ``correlation``
        (``"spearman"``/``"pearson"``), ``seed``, ``resamples``, ``forest``. Needs the
        ``ui`` extra (scikit-learn). ``.method`` explains the numbers; ``.to_dict()`` is the
        ``/api/importance`` JSON."""
        from labledger.sdk.analysis import importance

        return importance(self, metric, runs, project=project, filter=filter, **options)

    def compare(
        self,
        metric: str,
        runs: Sequence[str | RunView] | None = None,
        *,
        project: str | None = None,
        filter: str | None = None,
        by: str | Mapping[str, Sequence[str | RunView]] | None = None,
        higher_is_better: bool | None = None,
        **options: Any,
    ) -> Significance:
        """Is the difference real? Groups the runs (``by`` a config key, ``"user"``, or
        ``{"name": [run ids]}``; default: by configuration ignoring seeds), bootstraps each
        group's mean final ``metric`` and says whether the best group beats the runner-up:
        ``Api().compare("val/acc", by="optimizer", project="digits").sentence``. ``options``:
        ``seed``, ``resamples``, ``confidence``."""
        from labledger.sdk.analysis import compare

        return compare(
            self,
            metric,
            runs,
            project=project,
            filter=filter,
            by=by,
            higher_is_better=higher_is_better,
            **options,
        )

    def _settle_columns(self, cols: RunColumns) -> RunColumns:
        """``_settle`` for the ``running`` runs of a columnar result."""
        r = cols.runs
        for i, status in enumerate(r["status"]):
            if status != RunStatus.RUNNING.value:
                continue
            record = RunRecord(
                run_id=r["run_id"][i],
                project=r["project"][i],
                name=r["name"][i],
                created_at=r["created_at"][i],
                heartbeat_at=r["heartbeat_at"][i],
                host=r["host"][i],
                pid=r["pid"][i],
            )
            settled = self._settle(record)
            r["status"][i], r["ended_at"][i] = str(settled.status), settled.ended_at
        return cols

    def _settle(self, record: RunRecord) -> RunRecord:
        """Mark a ``running`` run whose process is gone as ``crashed`` (and persist it)."""
        if record.status is not RunStatus.RUNNING or not _is_dead(record, self.settings):
            return record
        ended = record.heartbeat_at or record.created_at
        self.store.update_run(record.run_id, {"status": RunStatus.CRASHED, "ended_at": ended})
        record.status, record.ended_at = RunStatus.CRASHED, ended
        return record


def _recover_points(store: Store, settings: Settings) -> None:
    """Replay crashed runs' point journals, exactly once; not while spooled batches wait
    (they may hold points the journal also has: ``init`` and ``sync`` deliver those first)."""
    from labledger.sdk.mmap_journal import pending_runs, recover

    if not pending_runs(settings.journal_dir):
        return
    from labledger.sdk.spool import journal_dirs  # the batch journal (msgspec): only now
    from labledger.store.journal import journal_files

    if any(journal_files(d) for d in journal_dirs(settings)):
        return
    recover(store, settings.journal_dir)


def is_live(record: RunRecord, settings: Settings) -> bool:
    """Whether a ``running`` record's process still seems to be writing to it."""
    return record.status is RunStatus.RUNNING and not _is_dead(record, settings)


def _is_dead(record: RunRecord, settings: Settings) -> bool:
    last_sign_of_life = record.heartbeat_at or record.created_at
    if time.time() - last_sign_of_life > settings.crash_after:
        return True
    if record.host == this_host() and record.pid:
        return not _process_alive(record.pid, started_before=record.created_at)
    return False


def _process_alive(pid: int, started_before: float) -> bool:
    """Whether ``pid`` is the run's process: alive, not a zombie awaiting its parent, and not
    a newer process that reused the pid."""
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return bool(process.create_time() <= started_before + 1.0)
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:  # access denied: assume alive, the heartbeat decides
        return True


def runs(
    project: str | None = None,
    filter: str | None = None,
    order_by: str | Sequence[str] = (),
    limit: int | None = None,
) -> RunList:
    """Shortcut for ``Api().runs(...)``."""
    return Api().runs(project, filter, order_by, limit)
