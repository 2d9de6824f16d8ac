"""``RunList.to_pandas`` through the columnar query: the store's ``RunColumns`` (one query
for the runs, one for their metric summaries) turned into a DataFrame with no record, view
or per-run dict of ours.

The JSON columns of all runs are decoded in one decoder call each (msgspec); the config and
summary blocks are built by pandas from the decoded mappings, so every column gets exactly
the dtype the row path (``pandas.DataFrame`` of one dict per run) gives it. Metric summary
values are pivoted with numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from labledger.store.columns import RunColumns

if TYPE_CHECKING:
    import pandas as pd


def runs_frame(cols: RunColumns) -> pd.DataFrame:
    import pandas as pd

    n = len(cols)
    if n == 0:
        return pd.DataFrame()
    r = cols.runs
    created = np.asarray(r["created_at"], dtype=np.float64)
    ended = np.array(r["ended_at"], dtype=np.float64)
    ended = np.where(np.isnan(ended), np.array(r["heartbeat_at"], dtype=np.float64), ended)
    runtime: Any = np.maximum(0.0, ended - created)
    if np.isnan(runtime).all():
        runtime = [None] * n
    tags = _decode(r["tags"])
    base = pd.DataFrame(
        {
            "run_id": pd.Series(r["run_id"]),
            "project": pd.Series(r["project"]),
            "name": pd.Series(r["name"]),
            "status": pd.Series(r["status"]),
            "group": pd.Series(r["group"]),
            "tags": pd.Series([",".join(t) if t else "" for t in tags]),
            "created_at": pd.to_datetime(created, unit="s"),
            "runtime": pd.Series(runtime),
        }
    )
    texts = r["config"]
    configs = _decode(texts)
    # Only a config whose text has a "{" after its first can hold a nested mapping.
    flat = [_flat(c) if t and "{" in t[1:] else c for c, t in zip(configs, texts, strict=True)]
    config = _block(pd, [c or {} for c in flat], "config.", n)
    metrics = _metric_block(pd, cols, _decode(r["summary"]), n)
    frame: pd.DataFrame = pd.concat([base, config, metrics], axis=1)
    return frame


def _decode(texts: list[str | None]) -> list[Any]:
    """Every run's JSON value, in one decoder call."""
    import msgspec

    return list(msgspec.json.decode("[" + ",".join(t or "null" for t in texts) + "]"))


def _flat(config: Any) -> Any:
    """``encoding.flatten`` for decoded JSON (plain dicts); shared when already flat."""
    if not config:
        return {}
    for value in config.values():
        if type(value) is dict and value:
            out: dict[str, Any] = {}
            _walk(config, "", out)
            return out
    return config


def _walk(config: dict[str, Any], prefix: str, out: dict[str, Any]) -> None:
    for key, value in config.items():
        full = f"{prefix}.{key}" if prefix else key
        if type(value) is dict and value:
            _walk(value, full, out)
        else:
            out[full] = value


def _block(pd: Any, rows: list[dict[str, Any]], prefix: str, n: int) -> Any:
    """``pandas.DataFrame(rows)`` (its C path over dicts; faster here than transposing)."""
    frame = pd.DataFrame(rows, index=pd.RangeIndex(n))
    return frame.add_prefix(prefix) if len(frame.columns) else frame


def _metric_block(pd: Any, cols: RunColumns, summaries: list[Any], n: int) -> Any:
    """``RunRecord.final_metrics``: each summary row's ``last``, overridden by the run's
    summary (``run.summary``: any JSON value)."""
    summary = _block(pd, [s or {} for s in summaries], "", n)
    if not cols.metric_key:
        return summary.add_prefix("metrics.") if len(summary.columns) else summary
    codes, keys = pd.factorize(np.asarray(cols.metric_key, dtype=object))
    last = np.empty(len(cols.metric_last), dtype=object)
    last[:] = cols.metric_last
    is_none = np.fromiter((v is None for v in cols.metric_last), bool, len(last))
    rows = cols.metric_row
    data: dict[str, Any] = {}
    for k, key in enumerate(keys):
        sel = codes == k
        if key in summary.columns:
            # the summary wins where the run's summary has the key (even a JSON null)
            values: list[Any] = [np.nan] * n
            for row, value in zip(rows[sel].tolist(), last[sel].tolist(), strict=True):
                values[row] = value
            column = summary[key].tolist()
            for row, s in enumerate(summaries):
                if s and key in s:
                    values[row] = column[row]
            data[key] = pd.Series(values)
        elif is_none[sel].any():
            values = [np.nan] * n
            for row, value in zip(rows[sel].tolist(), last[sel].tolist(), strict=True):
                values[row] = value
            data[key] = pd.Series(values)
        else:
            filled = np.full(n, np.nan)
            filled[rows[sel]] = last[sel].astype(np.float64)
            data[key] = filled
    merged = pd.DataFrame(data, index=pd.RangeIndex(n))
    rest = summary[[c for c in summary.columns if c not in data]]
    return pd.concat([merged, rest], axis=1).add_prefix("metrics.")
