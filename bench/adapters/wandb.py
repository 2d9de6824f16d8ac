"""W&B in offline mode; reads parse the ``.wandb`` transaction log (offline has no read API)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from adapters.base import Adapter, LogFn
from adapters.wandb_file import iter_records

PARSED = "parsed .wandb files: offline mode has no query API"


class WandbAdapter(Adapter):
    name = "wandb"
    import_name = "wandb"
    durability = (
        "offline: the wandb-core service process appends records to the run's .wandb "
        "transaction log; finish() waits for it (no fsync per record known)"
    )

    def __init__(self, store: Path) -> None:
        super().__init__(store)
        store.mkdir(parents=True, exist_ok=True)
        os.environ.update(
            WANDB_MODE="offline",
            WANDB_SILENT="true",
            WANDB_DIR=str(store),
            WANDB_CONSOLE="off",
        )
        import wandb

        self.wandb = wandb
        self.settings = wandb.Settings(x_disable_stats=True, console="off")

    def start(self, project: str, name: str, config: Mapping[str, Any]) -> Any:
        return self.wandb.init(
            project=project, name=name, config=dict(config), settings=self.settings
        )

    def logger(self, run: Any) -> LogFn:
        return run.log  # type: ignore[no-any-return]

    def summary(self, run: Any, metrics: Mapping[str, float]) -> None:
        run.summary.update(dict(metrics))

    def finish(self, run: Any) -> None:
        run.finish()

    def ref(self, run: Any) -> str:
        return str(run.id)

    # --- read side: parse the transaction logs ----------------------------------------
    def _files(self) -> Iterator[Path]:
        yield from sorted((self.store / "wandb").glob("offline-run-*/run-*.wandb"))

    def _file(self, ref: str) -> Path:
        found = list((self.store / "wandb").glob(f"offline-run-*-{ref}/run-{ref}.wandb"))
        if not found:
            raise FileNotFoundError(f"no .wandb file for run {ref}")
        return found[0]

    def query(self, project: str, limit: int | None = None) -> Any:
        import pandas as pd

        rows = []
        for path in self._files():
            row: dict[str, Any] = {"run_id": path.stem.removeprefix("run-")}
            for record in iter_records(path):
                kind = record.WhichOneof("record_type")
                if kind == "run":
                    row["name"] = record.run.display_name
                    _config(row, record.run.config.update)
                elif kind == "config":
                    _config(row, record.config.update)
                elif kind == "summary":
                    for item in record.summary.update:
                        key = item.key or "/".join(item.nested_key)
                        if not key.startswith("_"):
                            row[f"metrics.{key}"] = json.loads(item.value_json)
            if row.get("metrics.acc", 0) > 0.5:
                rows.append(row)
        rows.sort(key=lambda r: r["metrics.acc"], reverse=True)
        return pd.DataFrame(rows[:limit] if limit else rows)

    def history(self, ref: str, key: str) -> tuple[Any, Any]:
        import numpy as np

        steps: list[int] = []
        values: list[float] = []
        for record in iter_records(self._file(ref)):
            if record.WhichOneof("record_type") != "history":
                continue
            step = value = None
            for item in record.history.item:
                name = item.key or "/".join(item.nested_key)
                if name == "_step":
                    step = int(item.value_json)
                elif name == key:
                    value = float(json.loads(item.value_json))
            if value is not None:
                steps.append(record.history.step.num if step is None else step)
                values.append(value)
        return np.asarray(steps, dtype=np.int64), np.asarray(values, dtype=np.float64)

    def history_sampled(self, ref: str, key: str, points: int) -> tuple[Any, Any]:
        import numpy as np

        steps, values = self.history(ref, key)
        idx = np.linspace(0, len(steps) - 1, num=min(points, len(steps))).astype(int)
        return steps[idx], values[idx]

    def status(self, ref: str) -> str:
        for record in iter_records(self._file(ref)):
            if record.WhichOneof("record_type") == "exit":
                return f"exit record (code {record.exit.exit_code})"
        return "no exit record"


def _config(row: dict[str, Any], items: Any) -> None:
    for item in items:
        key = item.key or "/".join(item.nested_key)
        if key != "_wandb":
            row[f"config.{key}"] = json.loads(item.value_json)
