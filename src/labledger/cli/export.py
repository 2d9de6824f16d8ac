"""``labledger export``: the runs table (or metric histories) as CSV, Parquet or JSON."""

from __future__ import annotations

import fnmatch
import io
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import click

from labledger.cli import render
from labledger.cli.common import open_api, query_runs, user_errors
from labledger.errors import LabledgerError, MissingExtra
from labledger.sdk.api import RunList

if TYPE_CHECKING:
    import pandas as pd

FORMATS = ("csv", "parquet", "json", "jsonl")
RUN_COLUMNS = ["run_id", "project", "name", "status", "group", "tags", "created_at", "runtime"]
HISTORY_COLUMNS = ["run_id", "key", "step", "value", "time"]


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise MissingExtra("pandas", "pandas") from None
    return pandas


def runs_frame(runs: RunList) -> pd.DataFrame:
    """One row per run (``RunList.to_pandas``), with the base columns even when empty."""
    if not runs:
        empty: pd.DataFrame = _pandas().DataFrame(columns=RUN_COLUMNS)
        return empty
    return runs.to_pandas()


def history_frame(runs: RunList, patterns: tuple[str, ...]) -> pd.DataFrame:
    """Metric histories long-form: one row per (run, key, step); ``time`` in unix seconds.

    A pattern is a metric key or a glob (``train/*``; ``*`` for every key).
    """
    pandas = _pandas()
    frames = []
    for run in runs:
        keys = [k for k in run.metric_keys() if any(fnmatch.fnmatchcase(k, p) for p in patterns)]
        for key in keys:
            series = run.series(key)
            frames.append(
                pandas.DataFrame(
                    {
                        "run_id": run.id,
                        "key": key,
                        "step": series.steps,
                        "value": series.values,
                        "time": series.times,
                    }
                )
            )
    result: pd.DataFrame = (
        pandas.concat(frames, ignore_index=True)
        if frames
        else pandas.DataFrame({c: [] for c in HISTORY_COLUMNS})
    )
    return result


def _format_for(output: str, fmt: str | None) -> str:
    if fmt:
        return fmt
    suffix = Path(output).suffix.lower().lstrip(".")
    if output != "-" and suffix in ("csv", "parquet", "json", "jsonl", "pq"):
        return "parquet" if suffix == "pq" else suffix
    return "csv"


def parquet_safe(frame: Any, everything: bool = False) -> Any:
    """Parquet needs one type per column, but a config key can hold an int in one run and a
    string or list in another. Such mixed columns (with ``everything``, every object column)
    are written as JSON text; strings and nulls stay as they are."""
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype != object:
            continue
        kinds = {type(v) for v in frame[column] if not _is_null(v)}
        if len(kinds) > 1 or (everything and kinds - {str}):
            frame[column] = [
                v if _is_null(v) or isinstance(v, str) else json.dumps(v) for v in frame[column]
            ]
    return frame


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _require_pyarrow() -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise MissingExtra("pyarrow", "pandas") from None


def _parquet_bytes(frame: Any) -> bytes:
    _require_pyarrow()
    buffer = io.BytesIO()
    try:
        parquet_safe(frame).to_parquet(buffer, index=False)
    except (TypeError, ValueError):  # pyarrow's ArrowTypeError / ArrowInvalid: nested mixes
        buffer = io.BytesIO()
        parquet_safe(frame, everything=True).to_parquet(buffer, index=False)
    return buffer.getvalue()


def encode_frame(frame: Any, fmt: str) -> bytes:
    """A ``pandas.DataFrame`` (typed ``Any``: pandas ships no stubs here) in format ``fmt``."""
    if fmt == "parquet":
        return _parquet_bytes(frame)
    if fmt == "csv":
        text = frame.to_csv(index=False)
    else:
        text = frame.to_json(orient="records", lines=fmt == "jsonl", date_format="iso") or ""
        text = text if text.endswith("\n") else text + "\n"
    return str(text).encode("utf-8")


def write_output(data: bytes, output: str, binary: bool) -> None:
    """Write to ``output``, or to stdout for ``-`` (binary data never to a terminal)."""
    if output != "-":
        try:
            Path(output).write_bytes(data)
        except OSError as exc:
            raise LabledgerError(f"cannot write {output}: {exc.strerror or exc}") from None
        return
    sys.stdout.flush()
    stream: BinaryIO = sys.stdout.buffer
    if binary and stream.isatty():
        raise LabledgerError("refusing to write Parquet to a terminal: use -o FILE")
    stream.write(data)
    stream.flush()


@click.command("export")
@click.option("-p", "--project", help="Only runs of this project.")
@click.option("-f", "--filter", "filter_", metavar="EXPR", help="Filter, as in `runs ls`.")
@click.option("-s", "--sort", multiple=True, metavar="KEY", help="Sort key, as in `runs ls`.")
@click.option(
    "-n", "--limit", type=click.IntRange(min=0), default=0, help="At most this many runs (0: all)."
)
@click.option(
    "-F",
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="Output format (default: from the -o suffix, else csv). json is one array, jsonl one "
    "object per line.",
)
@click.option(
    "-o",
    "--output",
    default="-",
    show_default=True,
    metavar="FILE",
    help="File to write, or - for stdout.",
)
@click.option(
    "--history",
    "history",
    multiple=True,
    metavar="KEY",
    help="Export these metrics' full histories long-form (run_id, key, step, value, time) "
    "instead of the runs table; globs allowed, '*' for all.",
)
@click.option(
    "--bundle",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Write everything about the selected runs (every point, captures, console output, "
    "artifact files) into DIR as Parquet + JSON manifest + blobs; read it back with "
    "`labledger import labledger DIR`.",
)
@user_errors
def export_command(
    project: str | None,
    filter_: str | None,
    sort: tuple[str, ...],
    limit: int,
    fmt: str | None,
    output: str,
    history: tuple[str, ...],
    bundle: Path | None,
) -> None:
    """Export runs (or metric histories) as CSV, Parquet or JSON.

    The runs table has one row per run: run_id, project, name, status, group, tags,
    created_at, runtime, then config.* and metrics.* (final values) columns.

    Parquet needs pyarrow (pip install 'labledger[pandas]').

    \b
    Examples:
      labledger export -p digits -o runs.csv
      labledger export -f "metrics.acc > 0.9" --format parquet -o good.parquet
      labledger export --format jsonl | jq .run_id
      labledger export -p digits --history loss --history 'val/*' -o curves.parquet
      labledger export -p digits --bundle export-digits   # the whole project, lossless
    """
    fmt = _format_for(output, fmt)
    if fmt == "parquet" and bundle is None:
        _require_pyarrow()  # before any work: the query and the frame may take a while
    api = open_api()
    runs = query_runs(api, project, filter_, sort, limit)
    if bundle is not None:
        from labledger.cli.bundle import write_bundle

        counts = write_bundle(api, runs, bundle)["counts"]
        click.echo(
            f"exported {counts['runs']} run(s), {counts['points']} point(s), "
            f"{counts['artifact_versions']} artifact version(s) to {bundle}"
        )
        return
    frame = history_frame(runs, history) if history else runs_frame(runs)
    data = encode_frame(frame, fmt)
    write_output(data, output, binary=fmt == "parquet")
    # on stderr, so stdout stays the data when it is the output
    what = "point(s)" if history else "run(s)"
    where = "stdout" if output == "-" else output
    click.echo(
        f"wrote {len(frame)} {what} x {len(frame.columns)} column(s) as {fmt} to {where}"
        f" ({render.format_bytes(len(data))})",
        err=True,
    )
