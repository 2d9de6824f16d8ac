"""Artifact routes: a run's inputs and outputs, versions with aliases, lineage graphs, and
file downloads that can never run as active content in the UI's origin."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from labledger.errors import ArtifactError, NotFound, RunNotFound
from labledger.sdk.api import Api
from labledger.sdk.artifacts import Artifacts
from labledger.server.deps import Access, AccessDep, ApiDep
from labledger.server.routes.runs import visible_run
from labledger.server.views import artifact_json
from labledger.store.base import ArtifactVersion

router = APIRouter(prefix="/api", tags=["artifacts"])

MAX_LINEAGE_NODES = 200
# A download is data: never rendered, sniffed or scripted, whatever its name or bytes.
DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "Cache-Control": "private, max-age=3600",
}


def _artifacts(request: Request) -> Artifacts:
    artifacts: Artifacts = request.app.state.artifacts
    return artifacts


def _run_project(api: Api, run_id: str | None) -> str | None:
    if run_id is None:
        return None
    try:
        return api.store.get_run(run_id).project
    except RunNotFound:
        return None


def _visible(api: Api, access: Access, version: ArtifactVersion) -> bool:
    """An artifact belongs to its producing run's project; one without a run (logged
    outside a run, or its run deleted) is visible to callers who see every project."""
    project = _run_project(api, version.run_id)
    if project is None:
        return access.visible_projects() is None
    return access.role(project) is not None


def _version(api: Api, access: Access, artifacts: Artifacts, ref: str) -> ArtifactVersion:
    version = artifacts.get(ref)
    if not _visible(api, access, version):
        raise NotFound(f"no artifact matches {ref!r}")
    return version


@router.get("/runs/{run_id}/artifacts")
def run_artifacts(run_id: str, request: Request, access: AccessDep, api: ApiDep) -> dict[str, Any]:
    """The artifact versions the run logged (``produced``) and used (``used``)."""
    run = visible_run(api, access, run_id)
    lineage = _artifacts(request).run_lineage(run.id)
    return {
        "produced": [artifact_json(v) for v in lineage.outputs],
        "used": [artifact_json(v) for v in lineage.inputs],
    }


@router.get("/artifacts")
def list_artifacts(
    request: Request, access: AccessDep, api: ApiDep, project: str | None = None
) -> list[dict[str, Any]]:
    """Every visible artifact version with its aliases (``project``: made by its runs)."""
    result = []
    projects: dict[str | None, str | None] = {}
    for version in _artifacts(request).versions():
        if version.run_id not in projects:
            projects[version.run_id] = _run_project(api, version.run_id)
        owner = projects[version.run_id]
        if project is not None and owner != project:
            continue
        visible = access.visible_projects() is None if owner is None else access.role(owner)
        if visible:
            result.append({**artifact_json(version), "project": owner})
    return result


def _run_node(api: Api, access: Access, run_id: str) -> dict[str, Any] | None:
    try:
        record = api.store.get_run(run_id)
    except RunNotFound:
        return None
    if access.role(record.project) is None:
        return None
    return {
        "id": f"run:{run_id}",
        "kind": "run",
        "run": run_id,
        "label": record.name,
        "status": str(record.status),
        "project": record.project,
    }


def _artifact_node(version: ArtifactVersion) -> dict[str, Any]:
    return {
        "id": f"artifact:{version.ref}",
        "kind": "artifact",
        "ref": version.ref,
        "label": version.ref,
        "type": version.type,
        "aliases": list(version.aliases),
    }


@router.get("/artifacts/{name}/lineage")
def lineage(
    name: str, request: Request, access: AccessDep, api: ApiDep, version: str | None = None
) -> dict[str, Any]:
    """The graph around one version (``version``: ``vN`` or an alias; default ``latest``):
    runs that produced what it was made from, the version, and the runs that used it and
    what they produced. Edges are ``produced`` (run → artifact) and ``used`` (artifact → run)."""
    artifacts = _artifacts(request)
    ref = name if version is None else f"{name}:{version}"
    root = _version(api, access, artifacts, ref)
    nodes: dict[str, dict[str, Any]] = {}
    edges: set[tuple[str, str, str]] = set()
    registry = artifacts.registry

    def add_artifact(v: ArtifactVersion) -> str:
        node = _artifact_node(v)
        nodes.setdefault(node["id"], node)
        return str(node["id"])

    def add_run(run_id: str) -> str | None:
        if f"run:{run_id}" in nodes:
            return f"run:{run_id}"
        node = _run_node(api, access, run_id)
        if node is None:
            return None
        nodes[node["id"]] = node
        return str(node["id"])

    root_id = add_artifact(root)
    if root.run_id and (producer := add_run(root.run_id)):  # upstream: producer and its inputs
        edges.add((producer, root_id, "produced"))
        for used in registry.used_by(root.run_id):
            edges.add((add_artifact(used), producer, "used"))
    for consumer in registry.consumers(root.name, root.version):  # downstream
        if len(nodes) >= MAX_LINEAGE_NODES:
            break
        run_node = add_run(consumer)
        if run_node is None:
            continue
        edges.add((root_id, run_node, "used"))
        for made in registry.produced_by(consumer):
            edges.add((run_node, add_artifact(made), "produced"))
    return {
        "root": root_id,
        "nodes": list(nodes.values()),
        "edges": [{"from": a, "to": b, "kind": k} for a, b, k in sorted(edges)],
    }


def _entry(version: ArtifactVersion, path: str) -> dict[str, Any]:
    for entry in version.manifest:
        if entry.get("path") == path:
            return entry
    raise NotFound(f"{version.ref} has no file {path!r}")


@router.get("/artifacts/{name}/v{number}/files/{path:path}")
def download(
    name: str, number: int, path: str, request: Request, access: AccessDep, api: ApiDep
) -> StreamingResponse:
    """One file of a stored artifact version, always as an attachment: never rendered in
    the UI's origin (``nosniff``, ``sandbox`` CSP, ``application/octet-stream``)."""
    artifacts = _artifacts(request)
    version = _version(api, access, artifacts, f"{name}:v{number}")
    entry = _entry(version, path)
    digest = entry.get("digest")
    if version.reference or not isinstance(digest, str):
        raise ArtifactError(f"{version.ref} is a reference: its files are at {version.uri}")
    blobs = artifacts.blobs
    if not blobs.exists(digest):
        raise NotFound(f"the bytes of {path!r} in {version.ref} are missing from the blob store")
    filename = path.rsplit("/", 1)[-1] or "download"
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    headers = {
        **DOWNLOAD_HEADERS,
        "Content-Disposition": (
            f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
        ),
        "Content-Length": str(entry.get("size", blobs.size(digest))),
    }

    def chunks() -> Iterator[bytes]:
        yield from blobs.iter_bytes(digest)

    return StreamingResponse(chunks(), media_type="application/octet-stream", headers=headers)
