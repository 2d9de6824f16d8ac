"""The export bundle: a whole project in open formats, and reading it back.

Layout of ``DIR`` (documented in docs/export-format.md):

    manifest.json     format name and version, counts, files, artifact versions
    runs.parquet      one row per run: identity, status, times, tags, config, summary, captures
    metrics.parquet   one row per metric point: run_id, key, step, value, time
    outputs.parquet   console output: run_id, stream, time, text
    blobs/<sha256>    the artifact files, named by their SHA-256

JSON-valued columns (tags, config, summary, captures) hold JSON text, so any Parquet reader
gets them without labledger.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from labledger.entities import RunRecord, RunStatus
from labledger.errors import LabledgerError, MissingExtra
from labledger.sdk.api import Api, RunList
from labledger.sdk.importing import ImportedArtifact, ImportedRun
from labledger.store.base import ArtifactVersion

FORMAT = "labledger-export"
FORMAT_VERSION = 1
RUN_FIELDS = (
    "run_id", "project", "name", "status", "created_at", "ended_at", "heartbeat_at", "group",
    "notes", "host", "pid", "exit_code", "error", "reproduces", "fingerprint",
)  # fmt: skip
JSON_FIELDS = ("tags", "config", "summary", "captures")


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise MissingExtra("pyarrow", "pandas") from None
    return pyarrow


def write_bundle(api: Api, runs: RunList, folder: Path) -> dict[str, Any]:
    """Write ``runs`` with their points, output and artifacts into ``folder``; returns the
    manifest."""
    pa = _pyarrow()
    if folder.exists() and any(folder.iterdir()):
        raise LabledgerError(f"{folder} is not empty: export into a new folder")
    (folder / "blobs").mkdir(parents=True, exist_ok=True)
    store = api.store
    run_rows: dict[str, list[Any]] = {f: [] for f in (*RUN_FIELDS, *JSON_FIELDS)}
    points: dict[str, list[Any]] = {"run_id": [], "key": [], "step": [], "value": [], "time": []}
    outputs: dict[str, list[Any]] = {"run_id": [], "stream": [], "time": [], "text": []}
    versions: dict[tuple[str, int], ArtifactVersion] = {}
    consumers: dict[tuple[str, int], list[str]] = {}
    n_points = 0
    for view in runs:
        record = view.record
        for name in RUN_FIELDS:
            value = getattr(record, name)
            run_rows[name].append(str(value) if name == "status" else value)
        captures = store.get_captures(record.run_id)
        for name, value in zip(
            JSON_FIELDS, (record.tags, record.config, record.summary, captures), strict=True
        ):
            run_rows[name].append(json.dumps(value, sort_keys=True))
        for key in store.metric_keys(record.run_id):
            series = store.read_metric(record.run_id, key)
            count = len(series)
            n_points += count
            points["run_id"].extend([record.run_id] * count)
            points["key"].extend([key] * count)
            points["step"].extend(series.steps.tolist())
            points["value"].extend(series.values.tolist())
            points["time"].extend(series.times.tolist())
        for stream, when, text in store.read_output(record.run_id):
            outputs["run_id"].append(record.run_id)
            outputs["stream"].append(stream)
            outputs["time"].append(when)
            outputs["text"].append(text)
        for version in store.artifacts.produced_by(record.run_id):
            versions[(version.name, version.version)] = version
        for version in store.artifacts.used_by(record.run_id):
            versions.setdefault((version.name, version.version), version)
            consumers.setdefault((version.name, version.version), []).append(record.run_id)
    exported = {r.id for r in runs}
    blobs = _artifacts(api).blobs
    for version in versions.values():
        if version.reference:
            continue
        for entry in version.manifest:
            target = folder / "blobs" / entry["digest"]
            if not target.exists():
                blobs.get_to(entry["digest"], target)
    schemas = {
        "runs.parquet": pa.table(run_rows),
        "metrics.parquet": pa.table(
            {
                "run_id": pa.array(points["run_id"], pa.string()),
                "key": pa.array(points["key"], pa.string()),
                "step": pa.array(points["step"], pa.int64()),
                "value": pa.array(points["value"], pa.float64()),
                "time": pa.array(points["time"], pa.float64()),
            }
        ),
        "outputs.parquet": pa.table(
            {
                "run_id": pa.array(outputs["run_id"], pa.string()),
                "stream": pa.array(outputs["stream"], pa.string()),
                "time": pa.array(outputs["time"], pa.float64()),
                "text": pa.array(outputs["text"], pa.string()),
            }
        ),
    }
    for filename, table in schemas.items():
        pa.parquet.write_table(table, folder / filename)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "exported_at": time.time(),
        "store": api.store.uri.split("?", 1)[0],
        "projects": sorted({r.project for r in runs}),
        "counts": {"runs": len(runs), "points": n_points, "artifact_versions": len(versions)},
        "files": sorted(schemas),
        "artifacts": [
            {
                "name": v.name,
                "version": v.version,
                "type": v.type,
                "digest": v.digest,
                "size": v.size,
                "manifest": v.manifest,
                "metadata": v.metadata,
                "reference": v.reference,
                "uri": v.uri,
                "run_id": v.run_id if v.run_id in exported else None,
                "created_at": v.created_at,
                "aliases": v.aliases,
                "consumers": consumers.get((v.name, v.version), []),
            }
            for (_, _), v in sorted(versions.items())
        ],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


def _artifacts(api: Api) -> Any:
    from labledger.sdk.artifacts import Artifacts

    return Artifacts(api.store, api.settings)


class BundleSource:
    """The runs of an export bundle, for ``labledger import labledger``."""

    name = "labledger"

    def __init__(self, folder: str | Path) -> None:
        pa = _pyarrow()
        self.folder = Path(folder)
        try:
            self.manifest = json.loads((self.folder / "manifest.json").read_text())
        except (OSError, ValueError) as exc:
            raise LabledgerError(f"{folder} is not a labledger export bundle: {exc}") from None
        if self.manifest.get("format") != FORMAT:
            raise LabledgerError(f"{folder} is not a labledger export bundle")
        if int(self.manifest.get("format_version", 0)) > FORMAT_VERSION:
            raise LabledgerError(
                f"{folder} has export format {self.manifest['format_version']}; "
                "this labledger reads up to {FORMAT_VERSION}: upgrade labledger"
            )
        self.runs = pa.parquet.read_table(self.folder / "runs.parquet").to_pylist()
        self._points = _group(pa.parquet.read_table(self.folder / "metrics.parquet"))
        self._outputs = _group(pa.parquet.read_table(self.folder / "outputs.parquet"))

    def target_id(self, source_id: str) -> str:
        return source_id  # runs keep their IDs

    def run_ids(self) -> Iterator[tuple[str, Any, Any]]:
        for row in sorted(self.runs, key=lambda r: r["created_at"]):
            yield row["run_id"], row, None

    def load(self, source_id: str, row: Any, handle: Any, scratch: Path) -> ImportedRun:
        fields = {name: row[name] for name in RUN_FIELDS}
        fields["status"] = RunStatus(fields["status"])
        record = RunRecord(
            **fields,
            tags=json.loads(row["tags"]),
            config=json.loads(row["config"]),
            summary=json.loads(row["summary"]),
        )
        run = ImportedRun(
            source=self.name,
            source_id=source_id,
            record=record,
            keep_id=True,
            captures=json.loads(row["captures"]),
            details={"bundle": str(self.folder.absolute())},
        )
        for key, rows in _by(self._points.get(source_id, []), "key").items():
            run.metrics[key] = (
                [r["step"] for r in rows],
                [r["value"] for r in rows],
                [r["time"] for r in rows],
            )
        run.outputs = [
            (r["stream"], r["time"], r["text"]) for r in self._outputs.get(source_id, [])
        ]
        for index, version in enumerate(self.manifest["artifacts"]):
            if version["run_id"] == source_id and not version["reference"]:
                path = self._materialize(version, scratch / f"artifact-{index}")
                run.artifacts.append(
                    ImportedArtifact(path, version["name"], version["type"], version["metadata"])
                )
        return run

    def _materialize(self, version: dict[str, Any], folder: Path) -> Path:
        for entry in version["manifest"]:
            target = folder / entry["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.folder / "blobs" / entry["digest"], target)
        entries = version["manifest"]
        if len(entries) == 1 and entries[0].get("kind") == "file":
            return folder / str(entries[0]["path"])
        return folder

    def finish(self, api: Api) -> None:
        """Aliases and consumers, once every run and version is in."""
        registry = api.store.artifacts
        for version in self.manifest["artifacts"]:
            matches = [
                v for v in registry.list_versions(version["name"]) if v.digest == version["digest"]
            ]
            if not matches:
                continue
            number = matches[0].version
            for alias in version["aliases"]:
                if alias != "latest":
                    registry.set_alias(version["name"], alias, number)
            for consumer in version["consumers"]:
                registry.record_use(consumer, version["name"], number)


def _group(table: Any) -> dict[str, list[dict[str, Any]]]:
    return _by(table.to_pylist(), "run_id")


def _by(rows: list[dict[str, Any]], key: str) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row[key], []).append(row)
    return groups
