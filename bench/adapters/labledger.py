"""labledger through its public SDK (``ll.init``/``run.log``/``ll.runs``/``ll.Api``)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from adapters.base import Adapter, LogFn, RunSpec


class LabledgerAdapter(Adapter):
    name = "labledger"
    import_name = "labledger"
    durability = "SQLite WAL, synchronous=FULL: each background flush is one fsynced commit"

    def __init__(self, store: Path) -> None:
        super().__init__(store)
        os.environ["LABLEDGER_DIR"] = str(store)
        os.environ.setdefault("LABLEDGER_SYSTEM_METRICS_INTERVAL", "0")
        os.environ.setdefault("LABLEDGER_CAPTURE_CONSOLE", "0")
        import labledger

        self.ll = labledger
        self._api: Any = None

    @property
    def api(self) -> Any:
        if self._api is None:
            self._api = self.ll.Api()
        return self._api

    def start(self, project: str, name: str, config: Mapping[str, Any]) -> Any:
        return self.ll.init(project=project, config=dict(config), name=name)

    def logger(self, run: Any) -> LogFn:
        return run.log  # type: ignore[no-any-return]

    def summary(self, run: Any, metrics: Mapping[str, float]) -> None:
        run.summary.update(metrics)

    def finish(self, run: Any) -> None:
        run.finish()

    def ref(self, run: Any) -> str:
        return str(run.id)

    def init_store(self, project: str) -> None:
        self.ll.Api()

    def populate_runs(self, project: str, specs: Iterable[RunSpec], deadline: float) -> int:
        # The SDK is the only write API; capture=False skips the per-run git/env probes.
        done = 0
        for spec in specs:
            if time.perf_counter() > deadline:
                break
            run = self.ll.init(project=project, config=spec.config, name=spec.name, capture=False)
            for step, value in enumerate(spec.loss):
                run.log({"loss": value}, step=step)
            run.summary.update(spec.final)
            run.finish()
            done += 1
        return done

    def query(self, project: str, limit: int | None = None) -> Any:
        runs = self.api.runs(
            project, filter="metrics.acc > 0.5", order_by="-metrics.acc", limit=limit
        )
        return runs.to_pandas()

    def history(self, ref: str, key: str) -> tuple[Any, Any]:
        steps, values = self.api.run(ref).history(key)
        return steps, values

    def history_sampled(self, ref: str, key: str, points: int) -> tuple[Any, Any]:
        # the chart view from the stored rollups (exact min/max per step-aligned bucket)
        view = self.api.run(ref).envelope(key, points)
        return view.steps, view.max

    def status(self, ref: str) -> str:
        return str(self.api.run(ref).status)
