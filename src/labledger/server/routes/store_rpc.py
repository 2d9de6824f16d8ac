"""``/api/store/...``: the ``Store`` protocol over HTTP, for ``HttpStore`` clients.

Bodies and answers are msgpack (``labledger.store.wire``), request bodies optionally zstd or
gzip. A batch with an ``Idempotency-Key`` is applied once: the key is stored with the batch in
one transaction. Every route is authorised through ``deps.require``: writer for writes, viewer
for reads, on the project of the run involved.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import msgspec
from fastapi import APIRouter, Header, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from labledger.entities import RunRecord
from labledger.errors import Forbidden, LabledgerError, NotFound
from labledger.server.bodies import read_body
from labledger.server.deps import AccessDep, StoreDep, require
from labledger.store import wire
from labledger.store.base import ArtifactVersion, Store

router = APIRouter(prefix="/api/store", tags=["store"], include_in_schema=False)

T = TypeVar("T")
_PROJECT_CACHE_SIZE = 100_000


class _Search(msgspec.Struct):
    project: str | None = None
    filter: str | None = None
    order_by: list[str] = []
    limit: int | None = None
    offset: int = 0


class _Alias(msgspec.Struct):
    name: str
    alias: str
    version: int


class _Use(msgspec.Struct):
    run_id: str
    name: str
    version: int


def _packed(value: Any) -> Response:
    return Response(content=wire.encode(value), media_type=wire.WIRE_CONTENT_TYPE)


def _decode(body: bytes, type: type[T]) -> T:
    try:
        result: T = wire.decode(body, type)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise LabledgerError(f"invalid request body: {exc}") from None
    return result


def _project_of(request: Request, store: Store, run_id: str) -> str:
    """The run's project (runs never change project, so it is cached per app)."""
    cache: dict[str, str] = request.app.state.__dict__.setdefault("run_projects", {})
    project = cache.get(run_id)
    if project is None:
        record = store.get_run(run_id)
        if record.run_id != run_id:  # a prefix or a name is not a write target
            raise NotFound(f"no run with ID {run_id!r}")
        if len(cache) >= _PROJECT_CACHE_SIZE:
            cache.clear()
        project = cache[run_id] = record.project
    return project


async def _in_thread(fn: Callable[..., T], *args: Any) -> T:
    return await run_in_threadpool(fn, *args)


# --- runs: write side ----------------------------------------------------------------------
@router.post("/runs")
async def create_run(request: Request, access: AccessDep, store: StoreDep) -> Response:
    run = _decode(await read_body(request), RunRecord)
    require(access, run.project, "writer")
    await _in_thread(store.create_run, run)
    return _packed(None)


@router.post("/runs/{run_id}/batches")
async def write_batch(
    run_id: str,
    request: Request,
    access: AccessDep,
    store: StoreDep,
    idempotency_key: Annotated[str | None, Header(max_length=16_000)] = None,
) -> Response:
    body = await read_body(request)
    try:
        batch = wire.decode_batch(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise LabledgerError(f"invalid batch: {exc}") from None

    def apply() -> bool:
        require(access, _project_of(request, store, run_id), "writer")
        if idempotency_key is None:
            store.write_batch(run_id, batch)
            return True
        # One key, or several for batches merged into one request (comma-separated).
        keys = [k.strip() for k in idempotency_key.split(",")]
        if not all(k.startswith(f"{run_id}:") and 0 < len(k) <= 200 for k in keys):
            raise LabledgerError("Idempotency-Key must be '<run_id>:<sequence>[, ...]'")
        return store.write_batch_once(run_id, keys[0] if len(keys) == 1 else keys, batch)

    return _packed({"applied": await _in_thread(apply)})


@router.delete("/runs/{run_id}")
async def delete_run(run_id: str, request: Request, access: AccessDep, store: StoreDep) -> Response:
    """Delete a run and the artifact versions it produced: a writer (or admin) of its project."""

    def remove() -> list[ArtifactVersion]:
        require(access, _project_of(request, store, run_id), "writer")
        gone = store.delete_run(run_id)
        request.app.state.__dict__.get("run_projects", {}).pop(run_id, None)
        return gone

    return _packed(await _in_thread(remove))


# --- runs: read side -----------------------------------------------------------------------
@router.get("/run")
def get_run(
    ref: Annotated[str, Query(max_length=200)], access: AccessDep, store: StoreDep
) -> Response:
    record = store.get_run(ref)
    require(access, record.project)
    return _packed(record)


def _visible_filter(access: Any, project: str | None, text: str | None) -> str | None:
    """Restrict a search across projects to the projects the caller can see."""
    if project is not None:
        require(access, project)
        return text
    visible = access.visible_projects()
    if visible is None:
        return text
    quoted = ", ".join(
        "'" + p.replace("\\", "\\\\").replace("'", "\\'") + "'" for p in sorted(visible)
    )
    scope = f"project in ({quoted})"
    return scope if not text else f"({text}) and {scope}"


@router.post("/search")
async def search_runs(request: Request, access: AccessDep, store: StoreDep) -> Response:
    query = _decode(await read_body(request), _Search)
    if (query.limit is not None and query.limit < 0) or query.offset < 0:
        raise LabledgerError("limit and offset must not be negative")
    visible = access.visible_projects()
    if query.project is None and visible is not None and not visible:
        return _packed([])
    text = _visible_filter(access, query.project, query.filter)
    records = await _in_thread(
        lambda: store.search_runs(query.project, text, query.order_by, query.limit, query.offset)
    )
    return _packed(records)


@router.post("/count")
async def count_runs(request: Request, access: AccessDep, store: StoreDep) -> Response:
    query = _decode(await read_body(request), _Search)
    visible = access.visible_projects()
    if query.project is None and visible is not None and not visible:
        return _packed(0)
    text = _visible_filter(access, query.project, query.filter)
    return _packed(await _in_thread(store.count_runs, query.project, text))


@router.get("/projects")
def list_projects(access: AccessDep, store: StoreDep) -> Response:
    visible = access.visible_projects()
    projects = store.list_projects()
    return _packed([p for p in projects if visible is None or p in visible])


def _readable(request: Request, access: Any, store: Store, run_id: str) -> None:
    require(access, _project_of(request, store, run_id))


@router.get("/runs/{run_id}/captures")
def get_captures(run_id: str, request: Request, access: AccessDep, store: StoreDep) -> Response:
    _readable(request, access, store, run_id)
    return _packed(store.get_captures(run_id))


@router.get("/runs/{run_id}/keys")
def metric_keys(run_id: str, request: Request, access: AccessDep, store: StoreDep) -> Response:
    _readable(request, access, store, run_id)
    return _packed(store.metric_keys(run_id))


@router.get("/runs/{run_id}/series")
def read_metric(
    run_id: str,
    key: Annotated[str, Query(max_length=250)],
    request: Request,
    access: AccessDep,
    store: StoreDep,
    times: bool = True,
    start: int | None = None,
    end: int | None = None,
) -> Response:
    _readable(request, access, store, run_id)
    series = store.read_metric(run_id, key, times=times, start=start, end=end)
    return Response(content=wire.encode_series(series), media_type=wire.WIRE_CONTENT_TYPE)


class _Envelopes(msgspec.Struct):
    series: list[tuple[str, str]]
    points: int
    start: int | None = None
    end: int | None = None


MAX_ENVELOPES = 1000
MAX_ENVELOPE_POINTS = 100_000


@router.post("/envelopes")
async def read_envelopes(request: Request, access: AccessDep, store: StoreDep) -> Response:
    """``Store.read_envelopes``: chart views of many series from the server's rollups."""
    query = _decode(await read_body(request), _Envelopes)
    if not 1 <= query.points <= MAX_ENVELOPE_POINTS or len(query.series) > MAX_ENVELOPES:
        raise LabledgerError(
            f"points must be 1 to {MAX_ENVELOPE_POINTS}, at most {MAX_ENVELOPES} series"
        )
    for run_id in {run_id for run_id, _ in query.series}:
        _readable(request, access, store, run_id)
    envelopes = await _in_thread(
        lambda: store.read_envelopes(query.series, query.points, start=query.start, end=query.end)
    )
    return Response(content=wire.encode_envelopes(envelopes), media_type=wire.WIRE_CONTENT_TYPE)


@router.get("/runs/{run_id}/output")
def read_output(
    run_id: str, request: Request, access: AccessDep, store: StoreDep, since: float | None = None
) -> Response:
    _readable(request, access, store, run_id)
    return _packed(store.read_output(run_id, since=since))


# --- artifact registry ---------------------------------------------------------------------
def _may_see(request: Request, access: Any, store: Store, version: ArtifactVersion) -> bool:
    if version.run_id is None:
        return True
    try:
        return access.role(_project_of(request, store, version.run_id)) is not None
    except NotFound:
        return True  # its run was deleted: the version is unowned


def _visible(
    request: Request, access: Any, store: Store, versions: list[ArtifactVersion]
) -> list[ArtifactVersion]:
    return [v for v in versions if _may_see(request, access, store, v)]


@router.post("/artifacts/versions")
async def add_version(request: Request, access: AccessDep, store: StoreDep) -> Response:
    version = _decode(await read_body(request), ArtifactVersion)

    def add() -> ArtifactVersion:
        if version.run_id is not None:
            require(access, _project_of(request, store, version.run_id), "writer")
        return store.artifacts.add_version(version)

    return _packed(await _in_thread(add))


@router.get("/artifacts/version")
def get_version(
    name: str, request: Request, access: AccessDep, store: StoreDep, selector: str | None = None
) -> Response:
    version = store.artifacts.get_version(name, selector)
    if not _may_see(request, access, store, version):
        raise NotFound(f"no artifact {name!r}")
    return _packed(version)


@router.get("/artifacts/versions")
def list_versions(
    request: Request, access: AccessDep, store: StoreDep, name: str | None = None
) -> Response:
    return _packed(_visible(request, access, store, store.artifacts.list_versions(name)))


def _owner_check(
    request: Request, access: Any, store: Store, name: str, version: int, role: Any
) -> None:
    found = store.artifacts.get_version(name, f"v{version}")
    if found.run_id is not None:
        require(access, _project_of(request, store, found.run_id), role)


@router.delete("/artifacts/versions")
async def delete_version(
    name: str, version: int, request: Request, access: AccessDep, store: StoreDep
) -> Response:
    """Delete one version: a writer (or admin) of its run's project; a server admin for a
    version no run owns."""

    def remove() -> ArtifactVersion:
        found = store.artifacts.get_version(name, f"v{version}")
        if found.run_id is not None:
            require(access, _project_of(request, store, found.run_id), "writer")
        elif access.visible_projects() is not None:
            raise Forbidden(f"only a server admin deletes {found.ref}: no run owns it")
        return store.artifacts.delete_version(name, version)

    return _packed(await _in_thread(remove))


@router.post("/artifacts/aliases")
async def set_alias(request: Request, access: AccessDep, store: StoreDep) -> Response:
    alias = _decode(await read_body(request), _Alias)

    def move() -> None:
        _owner_check(request, access, store, alias.name, alias.version, "writer")
        store.artifacts.set_alias(alias.name, alias.alias, alias.version)

    await _in_thread(move)
    return _packed(None)


@router.post("/artifacts/uses")
async def record_use(request: Request, access: AccessDep, store: StoreDep) -> Response:
    use = _decode(await read_body(request), _Use)

    def record() -> None:
        require(access, _project_of(request, store, use.run_id), "writer")
        _owner_check(request, access, store, use.name, use.version, "viewer")
        store.artifacts.record_use(use.run_id, use.name, use.version)

    await _in_thread(record)
    return _packed(None)


@router.get("/artifacts/consumers")
def consumers(
    name: str, version: int, request: Request, access: AccessDep, store: StoreDep
) -> Response:
    _owner_check(request, access, store, name, version, "viewer")
    runs = store.artifacts.consumers(name, version)
    return _packed([r for r in runs if access.role(_project_of(request, store, r)) is not None])


@router.get("/artifacts/produced")
def produced_by(run_id: str, request: Request, access: AccessDep, store: StoreDep) -> Response:
    _readable(request, access, store, run_id)
    return _packed(store.artifacts.produced_by(run_id))


@router.get("/artifacts/used")
def used_by(run_id: str, request: Request, access: AccessDep, store: StoreDep) -> Response:
    _readable(request, access, store, run_id)
    return _packed(_visible(request, access, store, store.artifacts.used_by(run_id)))


@router.get("/artifacts/digests")
def referenced_digests(access: AccessDep, store: StoreDep) -> Response:
    if access.visible_projects() is not None:  # garbage collection is a server-admin job
        raise NotFound("no such resource")
    return _packed(sorted(store.artifacts.referenced_digests()))
