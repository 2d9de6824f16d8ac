"""The floor: a bare function that timestamps a point and appends it to a list."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from adapters.base import Adapter, LogFn, NotSupported


class FloorAdapter(Adapter):
    name = "floor"
    import_name = ""
    durability = "none (memory only)"

    def start(self, project: str, name: str, config: Mapping[str, Any]) -> Any:
        return {"name": name, "config": dict(config), "points": [], "summary": {}}

    def logger(self, run: Any) -> LogFn:
        append = run["points"].append
        now = time.time

        def log(metrics: dict[str, Any], step: int) -> None:
            append((now(), step, metrics))

        return log

    def summary(self, run: Any, metrics: Mapping[str, float]) -> None:
        run["summary"].update(metrics)

    def finish(self, run: Any) -> None:
        pass

    def ref(self, run: Any) -> str:
        return str(run["name"])

    def query(self, project: str, limit: int | None = None) -> Any:
        raise NotSupported("memory only, nothing to read back")

    def history(self, ref: str, key: str) -> tuple[Any, Any]:
        raise NotSupported("memory only, nothing to read back")

    def history_sampled(self, ref: str, key: str, points: int) -> tuple[Any, Any]:
        raise NotSupported("memory only, nothing to read back")

    def status(self, ref: str) -> str:
        raise NotSupported("memory only, nothing to read back")
