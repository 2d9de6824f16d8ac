"""MLflow with its default SQLite store; per-step logging uses MLflow's async logging."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from adapters.base import Adapter, LogFn, RunSpec


class MlflowAdapter(Adapter):
    name = "mlflow"
    import_name = "mlflow"
    durability = (
        "SQLAlchemy on SQLite (rollback journal, synchronous=FULL by default): one fsynced "
        "commit per logging operation; with synchronous=False a background thread does them"
    )

    def __init__(self, store: Path) -> None:
        super().__init__(store)
        store.mkdir(parents=True, exist_ok=True)
        self.uri = f"sqlite:///{store / 'mlflow.db'}"
        os.environ["MLFLOW_TRACKING_URI"] = self.uri
        import mlflow

        self.mlflow = mlflow
        mlflow.set_tracking_uri(self.uri)
        self._client: Any = None
        self._experiments: dict[str, str] = {}

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self.mlflow.MlflowClient(self.uri)
        return self._client

    def _experiment(self, project: str) -> str:
        if project not in self._experiments:
            exp = self.client.get_experiment_by_name(project)
            exp_id = exp.experiment_id if exp else self.client.create_experiment(project)
            self._experiments[project] = exp_id
        return self._experiments[project]

    def init_store(self, project: str) -> None:
        self._experiment(project)

    def start(self, project: str, name: str, config: Mapping[str, Any]) -> Any:
        self.mlflow.set_experiment(project)
        run = self.mlflow.start_run(run_name=name)
        if config:
            self.mlflow.log_params(dict(config))
        return run

    def logger(self, run: Any) -> LogFn:
        log_metrics = self.mlflow.log_metrics

        def log(metrics: dict[str, Any], step: int) -> None:
            log_metrics(metrics, step=step, synchronous=False)

        return log

    def summary(self, run: Any, metrics: Mapping[str, float]) -> None:
        self.mlflow.log_metrics(dict(metrics), synchronous=False)

    def finish(self, run: Any) -> None:
        self.mlflow.flush_async_logging()
        self.mlflow.end_run()

    def ref(self, run: Any) -> str:
        return str(run.info.run_id)

    # --- bulk: MlflowClient.create_run + log_batch (sync), the fastest public path ------
    def populate_runs(self, project: str, specs: Iterable[RunSpec], deadline: float) -> int:
        from mlflow.entities import Metric, Param

        exp_id = self._experiment(project)
        done = 0
        for spec in specs:
            if time.perf_counter() > deadline:
                break
            run_id = self.client.create_run(exp_id, run_name=spec.name).info.run_id
            ts = int(time.time() * 1000)
            metrics = [Metric("loss", v, ts, i) for i, v in enumerate(spec.loss)]
            metrics += [Metric(k, v, ts, 0) for k, v in spec.final.items()]
            params = [Param(k, str(v)) for k, v in spec.config.items()]
            self.client.log_batch(run_id, metrics=metrics, params=params)
            self.client.set_terminated(run_id)
            done += 1
        return done

    def populate_series(
        self, project: str, name: str, key: str, n: int, deadline: float
    ) -> tuple[str, int]:
        from mlflow.entities import Metric

        run_id = self.client.create_run(self._experiment(project), run_name=name).info.run_id
        ts = int(time.time() * 1000)
        written = 0
        for start in range(0, n, 10_000):
            if time.perf_counter() > deadline:
                break
            stop = min(n, start + 10_000)
            batch = [Metric(key, 1.0 / (i + 1), ts, i) for i in range(start, stop)]
            self.client.log_batch(run_id, metrics=batch)
            written = stop
        self.client.set_terminated(run_id)
        return run_id, written

    # --- read side ----------------------------------------------------------------------
    def query(self, project: str, limit: int | None = None) -> Any:
        kwargs: dict[str, Any] = {"max_results": limit} if limit else {}
        return self.mlflow.search_runs(
            experiment_names=[project],
            filter_string="metrics.acc > 0.5",
            order_by=["metrics.acc DESC"],
            **kwargs,
        )

    def history(self, ref: str, key: str) -> tuple[Any, Any]:
        import numpy as np

        points = self.client.get_metric_history(ref, key)
        steps = np.fromiter((m.step for m in points), dtype=np.int64, count=len(points))
        values = np.fromiter((m.value for m in points), dtype=np.float64, count=len(points))
        order = np.argsort(steps, kind="stable")
        return steps[order], values[order]

    def history_sampled(self, ref: str, key: str, points: int) -> tuple[Any, Any]:
        # MLflow's public client has no server-side sampling: full read, then decimate.
        import numpy as np

        steps, values = self.history(ref, key)
        idx = np.linspace(0, len(steps) - 1, num=min(points, len(steps))).astype(int)
        return steps[idx], values[idx]

    def status(self, ref: str) -> str:
        return str(self.client.get_run(ref).info.status)
