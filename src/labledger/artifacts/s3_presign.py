"""Direct uploads and downloads between clients and S3 through presigned URLs.

The server never relays the bytes: it signs URLs, and the client PUTs or GETs the object
itself. An upload goes to a staging key (``<prefix>uploads/<digest>/<nonce>``); on
``finish_upload`` the server reads the staged object back as a stream, checks its SHA-256, and
only then copies it to the blob's key. So a blob key only ever holds bytes that match its
digest, whoever uploaded them, and a half-finished upload is never visible.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from labledger.artifacts.hashing import CHUNK_SIZE
from labledger.artifacts.s3 import MULTIPART_CHUNK, S3BlobStore, s3_errors, transfer_config
from labledger.errors import ArtifactError

MAX_PARTS = 10_000
NONCE = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class UploadPlan:
    """How a client sends one blob: one PUT (``urls`` has one entry) or a multipart upload
    of ``part_size`` parts (the last one shorter), then ``finish_upload(nonce, upload_id)``."""

    nonce: str
    upload_id: str | None
    part_size: int
    urls: list[str]

    def as_json(self) -> dict[str, Any]:
        return {
            "method": "multipart" if self.upload_id else "single",
            "nonce": self.nonce,
            "upload_id": self.upload_id,
            "part_size": self.part_size,
            "urls": self.urls,
        }


def part_size_for(size: int, minimum: int = MULTIPART_CHUNK) -> int:
    """Parts of at least ``minimum`` bytes, few enough for S3's 10,000-part limit."""
    return max(minimum, -(-size // MAX_PARTS))


def _staging_key(blobs: S3BlobStore, digest: str, nonce: str) -> str:
    if not NONCE.match(nonce):
        raise ArtifactError(f"invalid upload id {nonce!r}")
    blobs.key(digest)  # validates the digest
    return f"{blobs.prefix}uploads/{digest}/{nonce}"


def plan_upload(
    blobs: S3BlobStore,
    digest: str,
    size: int,
    *,
    expires: int,
    part_size: int | None = None,
    signer: Any = None,
) -> UploadPlan:
    """Presigned URLs for uploading ``size`` bytes of blob ``digest``. ``signer`` is a client
    for the endpoint clients reach, when it differs from the server's (signing is offline)."""
    if size < 0:
        raise ArtifactError(f"invalid blob size {size}")
    nonce = secrets.token_hex(16)
    key = _staging_key(blobs, digest, nonce)
    client, bucket = blobs.client, blobs.bucket
    sign = signer or client
    chunk = part_size or part_size_for(size)
    with s3_errors(f"preparing an upload to s3://{bucket}/{key}"):
        if size <= chunk:
            url = sign.generate_presigned_url(
                "put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires
            )
            return UploadPlan(nonce, None, chunk, [url])
        upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        parts = -(-size // chunk)
        urls = [
            sign.generate_presigned_url(
                "upload_part",
                Params={"Bucket": bucket, "Key": key, "UploadId": upload_id, "PartNumber": n},
                ExpiresIn=expires,
            )
            for n in range(1, parts + 1)
        ]
    return UploadPlan(nonce, upload_id, chunk, urls)


def finish_upload(
    blobs: S3BlobStore,
    digest: str,
    nonce: str,
    *,
    upload_id: str | None = None,
    etags: list[str] | None = None,
) -> bool:
    """Complete a staged upload, verify it, and move it to the blob's key.

    True when the blob was stored, False when it was already there. ArtifactError (and the
    staged object deleted) when the bytes do not hash to ``digest``."""
    key = _staging_key(blobs, digest, nonce)
    client, bucket = blobs.client, blobs.bucket
    with s3_errors(f"completing the upload of s3://{bucket}/{key}"):
        if upload_id is not None:
            parts: list[Any] = [
                {"ETag": tag, "PartNumber": n} for n, tag in enumerate(etags or [], 1)
            ]
            client.complete_multipart_upload(
                Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
    try:
        if blobs.exists(digest):
            return False
        hasher = hashlib.sha256()
        with s3_errors(f"reading back s3://{bucket}/{key}"):
            body = client.get_object(Bucket=bucket, Key=key)["Body"]
            for chunk in body.iter_chunks(CHUNK_SIZE):
                hasher.update(chunk)
        if hasher.hexdigest() != digest:
            raise ArtifactError(f"the uploaded bytes do not match digest {digest[:12]}")
        with s3_errors(f"storing blob {digest[:12]}"):
            client.copy(
                {"Bucket": bucket, "Key": key},
                bucket,
                blobs.key(digest),
                ExtraArgs={"Metadata": {"sha256": digest}, "MetadataDirective": "REPLACE"},
                Config=transfer_config(),
            )
        return True
    finally:
        with s3_errors(f"deleting s3://{bucket}/{key}"):
            client.delete_object(Bucket=bucket, Key=key)


def abort_upload(blobs: S3BlobStore, digest: str, nonce: str, upload_id: str | None) -> None:
    key = _staging_key(blobs, digest, nonce)
    with s3_errors(f"aborting the upload of s3://{blobs.bucket}/{key}"):
        if upload_id is not None:
            blobs.client.abort_multipart_upload(Bucket=blobs.bucket, Key=key, UploadId=upload_id)
        blobs.client.delete_object(Bucket=blobs.bucket, Key=key)


def presigned_download(blobs: S3BlobStore, digest: str, *, expires: int, signer: Any = None) -> str:
    key = blobs.key(digest)
    with s3_errors(f"signing a download of s3://{blobs.bucket}/{key}"):
        return (signer or blobs.client).generate_presigned_url(
            "get_object", Params={"Bucket": blobs.bucket, "Key": key}, ExpiresIn=expires
        )
