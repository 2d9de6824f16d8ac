"""Aim with a local repo (``aim.Run(repo=...)``, ``run.track``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adapters.base import Adapter, LogFn


class AimAdapter(Adapter):
    name = "aim"
    import_name = "aim"
    durability = "RocksDB per run (WAL without fsync by default); close() finalizes the run"

    def __init__(self, store: Path) -> None:
        super().__init__(store)
        store.mkdir(parents=True, exist_ok=True)
        import aim

        self.aim = aim
        self.path = str(store / "aim")
        self._repo: Any = None

    @property
    def repo(self) -> Any:
        if self._repo is None:
            self._repo = self.aim.Repo(self.path, init=not Path(self.path, ".aim").exists())
        return self._repo

    def init_store(self, project: str) -> None:
        self.repo.close()

    def start(self, project: str, name: str, config: Mapping[str, Any]) -> Any:
        run = self.aim.Run(
            repo=self.path,
            experiment=project,
            system_tracking_interval=None,
            capture_terminal_logs=False,
            log_system_params=False,
        )
        run.name = name
        if config:
            run["hparams"] = dict(config)
        return run

    def logger(self, run: Any) -> LogFn:
        track = run.track

        def log(metrics: dict[str, Any], step: int) -> None:
            track(metrics, step=step)

        return log

    def summary(self, run: Any, metrics: Mapping[str, float]) -> None:
        run.track(dict(metrics))  # final metrics are one-point sequences in Aim

    def finish(self, run: Any) -> None:
        run.close()

    def ref(self, run: Any) -> str:
        return str(run.hash)

    # --- read side ----------------------------------------------------------------------
    def prepare_read(self) -> None:
        """Index the runs into the repo's index, as ``aim up`` does in the background;
        without it ``Repo`` sees no run data."""
        from aim.sdk.index_manager import RepoIndexManager

        repo = self.aim.Repo(self.path)
        manager = RepoIndexManager.get_index_manager(repo)
        for run_hash in repo.list_all_runs():
            manager.index(run_hash)
        repo.close()

    def _metric(self, ref: str, key: str) -> Any:
        from aim.storage.context import Context

        run = self.repo.get_run(ref)
        if run is None:
            raise LookupError(f"run {ref} not found in the Aim index")
        metric = run.get_metric(key, Context({}))
        if metric is None:
            raise LookupError(f"run {ref} has no metric {key!r}")
        return metric

    def query(self, project: str, limit: int | None = None) -> Any:
        import pandas as pd

        rows = []
        query = f"run.experiment == '{project}' and run.metrics['acc'].last > 0.5"
        for collection in self.repo.query_runs(query, report_mode=0).iter_runs():
            run = collection.run
            row: dict[str, Any] = {"run_id": run.hash, "name": run.name}
            row.update({f"config.{k}": v for k, v in (run.get("hparams") or {}).items()})
            for metric in run.metrics():
                if metric.name != "loss":
                    row[f"metrics.{metric.name}"] = metric.values.last_value()
            rows.append(row)
        rows.sort(key=lambda r: r["metrics.acc"], reverse=True)
        return pd.DataFrame(rows[:limit] if limit else rows)

    def history(self, ref: str, key: str) -> tuple[Any, Any]:
        steps, columns = self._metric(ref, key).data.numpy()
        return steps, columns[0]

    def history_sampled(self, ref: str, key: str, points: int) -> tuple[Any, Any]:
        steps, columns = self._metric(ref, key).data.sample(points).numpy()
        return steps, columns[0]

    def status(self, ref: str) -> str:
        run = self.repo.get_run(ref)
        if run is None:
            return "not in index"
        return "active (no end time)" if run.active else "finished"
