"""Artifact bytes through the server (``/api/blobs/{digest}``).

With a local folder the server streams blobs both ways (never whole in memory). With S3 it
signs URLs and the client moves the bytes itself: ``POST .../uploads`` returns one presigned
PUT or a presigned multipart upload, ``POST .../uploads/{nonce}`` completes it (the server
checks the SHA-256 before the blob becomes visible), and ``GET`` redirects to a presigned URL.

Dedup by digest works across clients: ``HEAD`` (or the upload plan) says a blob is already
there and it is not sent again. Authorisation: uploading needs the writer role in some project
(or in ``X-Labledger-Project`` when sent); reading needs to see a project with a run whose
stored artifact contains the blob (server admins see all).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from labledger.artifacts.blobstore import BlobStore, check_digest
from labledger.errors import ArtifactError, Forbidden, NotFound
from labledger.server.auth import AuthStoreDep, is_server_admin
from labledger.server.deps import ROLE_RANK, Access, AccessDep, require

router = APIRouter(prefix="/api/blobs", tags=["blobs"])

ProjectHeader = Annotated[str | None, Header(alias="X-Labledger-Project")]


class UploadRequest(BaseModel):
    size: int = Field(ge=0, description="Size of the blob in bytes.")


class UploadDone(BaseModel):
    upload_id: str | None = Field(default=None, max_length=1024)
    etags: list[str] = Field(default_factory=list, max_length=10_000)


def _blobs(request: Request) -> BlobStore:
    blobs: BlobStore | None = request.app.state.blobs
    if blobs is None:
        raise NotFound("this server stores no artifact blobs")
    return blobs


def _s3(blobs: BlobStore) -> Any:
    from labledger.artifacts.s3 import S3BlobStore

    return blobs if isinstance(blobs, S3BlobStore) else None


def _signer(request: Request) -> Any:
    return getattr(request.app.state, "s3_signer", None)


def _expires(request: Request) -> int:
    settings = getattr(request.app.state, "server_settings", None)
    return int(getattr(settings, "presign_seconds", 3600))


def check_upload(access: Access, project: str | None) -> None:
    """Writer in ``project``, or (without one) in at least one project."""
    if project:
        require(access, project, "writer")
        return
    visible = access.visible_projects()
    if visible is None:
        return
    if not any(ROLE_RANK[access.role(p) or "viewer"] >= ROLE_RANK["writer"] for p in visible):
        raise Forbidden(f"{access.user} needs the writer role in a project to upload artifacts")


def check_read(access: Access, auth: Any, digest: str) -> None:
    """The caller sees a project whose runs' artifacts hold ``digest``; else 404."""
    if is_server_admin(access):
        return
    projects = auth.blob_projects(digest)
    if not any(p is not None and access.role(p) is not None for p in projects):
        raise NotFound(f"no blob {digest[:12]}")


def _may_upload(access: Access) -> bool:
    try:
        check_upload(access, None)
    except Forbidden:
        return False
    return True


@router.head("/{digest}")
def head_blob(digest: str, request: Request, access: AccessDep, auth: AuthStoreDep) -> Response:
    """200 with the size when the blob is there (for uploaders: dedup), else 404."""
    check_digest(digest)
    blobs = _blobs(request)
    if not _may_upload(access):
        check_read(access, auth, digest)
    info = blobs.info(digest)
    if info is None:
        return Response(status_code=404)
    headers = {
        "Content-Length": str(info.size),
        "Last-Modified": formatdate(info.modified, usegmt=True),
        "ETag": f'"{digest}"',
    }
    return Response(status_code=200, headers=headers)


@router.get("/{digest}", response_model=None)
def get_blob(digest: str, request: Request, access: AccessDep, auth: AuthStoreDep) -> Response:
    """The blob's bytes, streamed (a folder) or by redirect to a presigned URL (S3)."""
    check_digest(digest)
    check_read(access, auth, digest)
    blobs = _blobs(request)
    s3 = _s3(blobs)
    if s3 is not None:
        from labledger.artifacts.s3_presign import presigned_download

        if not blobs.exists(digest):
            raise NotFound(f"no blob {digest[:12]}")
        url = presigned_download(s3, digest, expires=_expires(request), signer=_signer(request))
        return RedirectResponse(url, 307)
    info = blobs.info(digest)
    if info is None:
        raise NotFound(f"no blob {digest[:12]}")
    chunks: Iterator[bytes] = blobs.iter_bytes(digest)
    headers = {"Content-Length": str(info.size), "ETag": f'"{digest}"'}
    return StreamingResponse(chunks, media_type="application/octet-stream", headers=headers)


@router.put("/{digest}")
async def put_blob(
    digest: str, request: Request, access: AccessDep, project: ProjectHeader = None
) -> dict[str, Any]:
    """Upload a blob's bytes as the request body (streamed to a temporary file, checked
    against the digest, then stored). ``stored`` is false when it was already there."""
    check_digest(digest)
    check_upload(access, project)
    blobs = _blobs(request)
    if await run_in_threadpool(blobs.exists, digest):
        return {"digest": digest, "stored": False}
    tmp_dir = getattr(blobs, "root", None)
    if tmp_dir is not None:
        tmp_dir = Path(tmp_dir) / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=tmp_dir, prefix=".upload.", suffix=".tmp")
    path = Path(name)
    try:
        hasher = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                hasher.update(chunk)
                out.write(chunk)
        if hasher.hexdigest() != digest:
            raise ArtifactError(f"the uploaded bytes do not match digest {digest[:12]}")
        stored = await run_in_threadpool(blobs.put_file, digest, path)
    finally:
        path.unlink(missing_ok=True)
    return {"digest": digest, "stored": stored}


@router.post("/{digest}/uploads")
def start_upload(
    digest: str,
    body: UploadRequest,
    request: Request,
    access: AccessDep,
    project: ProjectHeader = None,
) -> dict[str, Any]:
    """How to upload this blob: ``exists`` (nothing to send), ``server`` (PUT the body to
    this URL), or ``single``/``multipart`` presigned S3 URLs."""
    check_digest(digest)
    check_upload(access, project)
    blobs = _blobs(request)
    if blobs.exists(digest):
        return {"method": "exists"}
    s3 = _s3(blobs)
    if s3 is None:
        return {"method": "server", "url": f"/api/blobs/{digest}"}
    from labledger.artifacts.s3_presign import plan_upload

    plan = plan_upload(s3, digest, body.size, expires=_expires(request), signer=_signer(request))
    return plan.as_json()


@router.post("/{digest}/uploads/{nonce}")
def finish_upload(
    digest: str,
    nonce: str,
    body: UploadDone,
    request: Request,
    access: AccessDep,
    project: ProjectHeader = None,
) -> dict[str, Any]:
    """Complete a presigned upload; the blob becomes visible once its bytes are verified."""
    check_digest(digest)
    check_upload(access, project)
    s3 = _s3(_blobs(request))
    if s3 is None:
        raise NotFound("this server takes uploads directly: PUT /api/blobs/{digest}")
    from labledger.artifacts.s3_presign import finish_upload as finish

    stored = finish(s3, digest, nonce, upload_id=body.upload_id, etags=body.etags)
    return {"digest": digest, "stored": stored}


@router.delete("/{digest}/uploads/{nonce}")
def abort_upload(
    digest: str,
    nonce: str,
    request: Request,
    access: AccessDep,
    upload_id: str | None = None,
    project: ProjectHeader = None,
) -> dict[str, Any]:
    check_digest(digest)
    check_upload(access, project)
    s3 = _s3(_blobs(request))
    if s3 is not None:
        from labledger.artifacts.s3_presign import abort_upload as abort

        abort(s3, digest, nonce, upload_id)
    return {"aborted": True}
