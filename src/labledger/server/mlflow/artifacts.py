"""The artifact proxy ``/api/2.0/mlflow-artifacts/artifacts/...``: upload (PUT), download
(GET) and list (GET ``?path=``), so ``mlflow.log_artifact``, ``log_dict``, ``log_model`` and
``mlflow.artifacts.download_artifacts`` work against labledger's content-addressed store.

A run's MLflow artifacts are the artifact ``mlflow-<run id>`` (the name ``labledger import
mlflow`` uses): each uploaded file is a blob stored by SHA-256 and a new version whose
manifest is the previous one with that file added (or replaced); ``latest`` is the run's
current artifact tree. Paths are ``<experiment id>/<run id>/artifacts/<path in the run>``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from labledger.artifacts.manifest import content_digest
from labledger.artifacts.names import validate_manifest_path
from labledger.errors import ArtifactError, LabledgerError
from labledger.server.mlflow.common import Ctx, context
from labledger.server.mlflow.errors import does_not_exist, error_response, invalid
from labledger.store.base import ArtifactVersion

PREFIX = "/api/2.0/mlflow-artifacts/artifacts"
router = APIRouter(include_in_schema=False)
LOGGED_SECTION = "logged_artifacts"


def artifact_name(run_id: str) -> str:
    return f"mlflow-{run_id}"


def _split(path: str) -> tuple[str, str]:
    """(run id, path inside the run's artifacts) of ``<exp>/<run>/artifacts[/<rel>]``."""
    parts = [p for p in path.strip("/").split("/") if p]
    if len(parts) < 3 or parts[2] != "artifacts":
        raise invalid(f"artifact path {path!r} is not '<experiment id>/<run id>/artifacts/...'")
    rel = "/".join(parts[3:])
    if rel:
        try:
            validate_manifest_path(rel)
        except ArtifactError as exc:
            raise invalid(str(exc)) from None
    return parts[1], rel


def _latest(ctx: Ctx, run_id: str) -> ArtifactVersion | None:
    try:
        return ctx.store.artifacts.get_version(artifact_name(run_id))
    except LabledgerError:
        return None


def _store_file(ctx: Ctx, run_id: str, rel: str, source: Path, digest: str, size: int) -> None:
    ctx.artifacts.blobs.put_file(digest, source)
    with ctx.run_lock(f"artifacts:{run_id}"):
        latest = _latest(ctx, run_id)
        manifest = [e for e in (latest.manifest if latest else []) if e["path"] != rel]
        manifest = [e for e in manifest if not e["path"].startswith(rel + "/")]
        manifest = [e for e in manifest if not rel.startswith(e["path"] + "/")]
        manifest.append({"path": rel, "digest": digest, "size": size})
        manifest.sort(key=lambda e: e["path"])
        version = ctx.store.artifacts.add_version(
            ArtifactVersion(
                name=artifact_name(run_id),
                version=0,
                type="mlflow-artifacts",
                digest=content_digest(manifest),  # entries carry no kind: a folder digest
                size=sum(int(e["size"]) for e in manifest),
                manifest=manifest,
                metadata={"source": "mlflow"},
                run_id=run_id,
                created_at=time.time(),
            )
        )
        section = dict(ctx.store.get_captures(run_id).get(LOGGED_SECTION, {}))
        section[version.name] = {"digest": version.digest, "version": version.version}
        ctx.store.put_captures(run_id, {LOGGED_SECTION: section})


@router.put(PREFIX + "/{path:path}")
async def upload(path: str, request: Request) -> Response:
    try:
        ctx = await run_in_threadpool(context, request)
        run_id, rel = _split(path)
        if not rel:
            raise invalid("an upload needs a file path under the run's artifacts")
        await run_in_threadpool(ctx.run, run_id, "writer")
        handle, name = tempfile.mkstemp(prefix="labledger-mlflow-")
        hasher, size = hashlib.sha256(), 0
        try:
            with os.fdopen(handle, "wb") as out:
                async for chunk in request.stream():
                    hasher.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            await run_in_threadpool(
                _store_file, ctx, run_id, rel, Path(name), hasher.hexdigest(), size
            )
        finally:
            os.unlink(name)
    except Exception as exc:
        return error_response(exc)
    return Response(b"{}", media_type="application/json")


def _entries(ctx: Ctx, run_id: str) -> list[dict[str, Any]]:
    ctx.run(run_id)
    latest = _latest(ctx, run_id)
    return list(latest.manifest) if latest else []


def _listing(ctx: Ctx, path: str) -> dict[str, Any]:
    run_id, rel = _split(path)
    entries = _entries(ctx, run_id)
    exact = [e for e in entries if e["path"] == rel]
    if exact:  # a file: MLflow lists it as itself
        name = rel.rsplit("/", 1)[-1]
        return {"files": [{"path": name, "is_dir": False, "file_size": int(exact[0]["size"])}]}
    prefix = rel + "/" if rel else ""
    files: dict[str, dict[str, Any]] = {}
    for entry in entries:
        if not entry["path"].startswith(prefix):
            continue
        head, _, rest = entry["path"][len(prefix) :].partition("/")
        if rest:
            files.setdefault(head, {"path": head, "is_dir": True})
        else:
            files[head] = {"path": head, "is_dir": False, "file_size": int(entry["size"])}
    return {"files": [files[k] for k in sorted(files)]}


@router.get(PREFIX)
async def list_artifacts(request: Request) -> Response:
    try:
        ctx = await run_in_threadpool(context, request)
        path = request.query_params.get("path") or ""
        if not path:
            return Response(b"{}", media_type="application/json")
        answer = await run_in_threadpool(_listing, ctx, path)
    except Exception as exc:
        return error_response(exc)
    return Response(msgspec.json.encode(answer), media_type="application/json")


@router.get(PREFIX + "/{path:path}")
async def download(path: str, request: Request) -> Response:
    try:
        ctx = await run_in_threadpool(context, request)
        run_id, rel = _split(path)
        entries = await run_in_threadpool(_entries, ctx, run_id)
        entry = next((e for e in entries if e["path"] == rel), None)
        if entry is None:
            raise does_not_exist(f"no artifact {rel!r} in run {run_id}")
        blobs = ctx.artifacts.blobs
        chunks: Iterator[bytes] = await run_in_threadpool(blobs.iter_bytes, entry["digest"])
    except Exception as exc:
        return error_response(exc)
    return StreamingResponse(
        chunks,
        media_type="application/octet-stream",
        headers={"Content-Length": str(entry["size"])},
    )
