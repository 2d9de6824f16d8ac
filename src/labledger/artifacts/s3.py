"""``S3BlobStore``: blobs as objects ``<prefix>/sha256/<2 hex>/<digest>`` on S3 or any
S3-compatible server (MinIO, Ceph, moto). boto3 is an extra (``labledger[s3]``), imported only
when an ``s3://`` URI is used. Credentials come from boto3's usual chain (environment, profile,
instance role); ``Settings.s3_endpoint_url`` points at a non-AWS server.

Uploads use boto3's managed transfer (multipart above 8 MB, a few parts in flight), downloads
stream the body in 1 MB chunks while hashing, so memory stays flat whatever the object size.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labledger.artifacts.blobstore import DIGEST_PATTERN, BlobInfo, check_digest
from labledger.artifacts.hashing import CHUNK_SIZE, FileStat
from labledger.errors import ArtifactError, ConfigError, MissingExtra

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

TRANSFER_CONCURRENCY = 4
MULTIPART_CHUNK = 8 * 1024 * 1024


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` → ``("bucket", "some/prefix")`` (no leading slash)."""
    if not uri.startswith("s3://"):
        raise ConfigError(f"not an S3 URI: {uri!r} (expected s3://bucket/prefix)")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket:
        raise ConfigError(f"S3 URI {uri!r} has no bucket name")
    return bucket, key


def make_client(endpoint_url: str | None = None) -> S3Client:
    """A boto3 S3 client; path-style addressing when an explicit endpoint is given."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise MissingExtra("boto3", "s3") from None
    config = Config(
        retries={"max_attempts": 5, "mode": "standard"},
        s3={"addressing_style": "path"} if endpoint_url else {},
    )
    return boto3.client("s3", endpoint_url=endpoint_url, config=config)


def _error_code(exc: Exception) -> str:
    response: Any = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def is_not_found(exc: Exception) -> bool:
    return _error_code(exc) in ("404", "NoSuchKey", "NotFound")


@contextmanager
def s3_errors(what: str) -> Iterator[None]:
    """Turn botocore failures into one-line ArtifactErrors naming what was being done."""
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        raise MissingExtra("boto3", "s3") from None
    try:
        yield
    except ClientError as exc:
        code = _error_code(exc)
        message = exc.response.get("Error", {}).get("Message", "") or str(exc)
        raise ArtifactError(f"S3 error while {what}: {code} {message}".strip()) from exc
    except BotoCoreError as exc:
        raise ArtifactError(f"S3 error while {what}: {exc}") from exc


def transfer_config() -> Any:
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(
        multipart_threshold=MULTIPART_CHUNK,
        multipart_chunksize=MULTIPART_CHUNK,
        max_concurrency=TRANSFER_CONCURRENCY,
    )


def download_object(
    client: S3Client,
    bucket: str,
    key: str,
    dest: Path,
    *,
    digest: str | None = None,
    etag: str | None = None,
) -> None:
    """Stream one object to ``dest`` atomically; check its SHA-256 and/or that its ETag is
    still ``etag`` (S3 refuses the GET with 412 when it changed)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name[:40]}.", suffix=".tmp")
    tmp = Path(tmp_name)
    uri = f"s3://{bucket}/{key}"
    try:
        hasher = hashlib.sha256()
        with open(fd, "wb") as out, s3_errors(f"downloading {uri}"):
            extra: dict[str, Any] = {"IfMatch": etag} if etag else {}
            try:
                body = client.get_object(Bucket=bucket, Key=key, **extra)["Body"]
            except Exception as exc:
                if _error_code(exc) in ("412", "PreconditionFailed"):
                    raise ArtifactError(f"{uri} changed since it was logged") from exc
                raise
            for chunk in body.iter_chunks(CHUNK_SIZE):
                hasher.update(chunk)
                out.write(chunk)
        if digest is not None and hasher.hexdigest() != digest:
            raise ArtifactError(f"{uri} does not match its digest {digest[:12]}")
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class S3BlobStore:
    """Content-addressed objects under ``s3://bucket/prefix``."""

    def __init__(
        self, uri: str, *, endpoint_url: str | None = None, client: S3Client | None = None
    ) -> None:
        self.bucket, prefix = parse_s3_uri(uri)
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.uri = f"s3://{self.bucket}/{self.prefix}"
        self.endpoint_url = endpoint_url
        self._client = client

    def __repr__(self) -> str:
        return f"S3BlobStore({self.uri!r})"

    @property
    def client(self) -> S3Client:
        if self._client is None:
            self._client = make_client(self.endpoint_url)
        return self._client

    def key(self, digest: str) -> str:
        check_digest(digest)
        return f"{self.prefix}sha256/{digest[:2]}/{digest}"

    def put_file(self, digest: str, path: Path) -> bool:
        if self.exists(digest):
            return False
        key = self.key(digest)
        try:
            before = FileStat.of(path)
        except OSError as exc:
            raise ArtifactError(f"cannot read {path}: {exc.strerror or exc}") from exc
        with s3_errors(f"uploading {path} to s3://{self.bucket}/{key}"):
            self.client.upload_file(
                str(path),
                self.bucket,
                key,
                ExtraArgs={"Metadata": {"sha256": digest}},
                Config=transfer_config(),
            )
        try:
            changed = FileStat.of(path) != before
        except OSError:
            changed = True
        if changed:
            self.delete(digest)
            raise ArtifactError(f"{path} changed while it was being uploaded; log it again")
        return True

    def get_to(self, digest: str, dest: Path) -> None:
        download_object(self.client, self.bucket, self.key(digest), dest, digest=digest)

    def iter_bytes(self, digest: str) -> Iterator[bytes]:
        key = self.key(digest)
        with s3_errors(f"reading s3://{self.bucket}/{key}"):
            try:
                body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            except Exception as exc:
                if is_not_found(exc):
                    raise ArtifactError(f"blob {digest[:12]} is missing from {self.uri}") from exc
                raise
            yield from body.iter_chunks(CHUNK_SIZE)

    def info(self, digest: str) -> BlobInfo | None:
        key = self.key(digest)
        with s3_errors(f"checking s3://{self.bucket}/{key}"):
            try:
                head = self.client.head_object(Bucket=self.bucket, Key=key)
            except Exception as exc:
                if is_not_found(exc):
                    return None
                raise
        return BlobInfo(digest, int(head["ContentLength"]), head["LastModified"].timestamp())

    def exists(self, digest: str) -> bool:
        return self.info(digest) is not None

    def size(self, digest: str) -> int:
        info = self.info(digest)
        if info is None:
            raise ArtifactError(f"blob {digest[:12]} is missing from {self.uri}")
        return info.size

    def delete(self, digest: str) -> None:
        key = self.key(digest)
        with s3_errors(f"deleting s3://{self.bucket}/{key}"):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def iter_blobs(self) -> Iterator[BlobInfo]:
        prefix = f"{self.prefix}sha256/"
        with s3_errors(f"listing {self.uri}"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            for page in pages:
                for obj in page.get("Contents", []):
                    name = obj["Key"].rsplit("/", 1)[-1]
                    if DIGEST_PATTERN.match(name):
                        yield BlobInfo(name, int(obj["Size"]), obj["LastModified"].timestamp())

    def iter_digests(self) -> Iterator[str]:
        return (blob.digest for blob in self.iter_blobs())
