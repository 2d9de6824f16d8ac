"""``HttpBlobStore``: artifact blobs through a team server (``http(s)://host:port``).

Asks the server first (``HEAD``, then an upload plan), so a blob the server already has is
never sent again. With a local folder on the server the bytes are streamed to and from it;
with S3 they go straight to the bucket over presigned URLs (multipart for large files, parts
read from the file as they are sent), so neither side holds a whole blob in memory.
Garbage collection is the server's job: listing and deleting are refused here.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labledger.artifacts.blobstore import BlobInfo, check_digest
from labledger.artifacts.hashing import CHUNK_SIZE
from labledger.errors import ArtifactError

if TYPE_CHECKING:
    import httpx

PART_CONCURRENCY = 4
TIMEOUT = 300.0


def _file_slice(path: Path, offset: int, length: int) -> Iterator[bytes]:
    with open(path, "rb") as stream:
        stream.seek(offset)
        left = length
        while left > 0:
            chunk = stream.read(min(CHUNK_SIZE, left))
            if not chunk:
                raise ArtifactError(f"{path} shrank while it was being uploaded")
            left -= len(chunk)
            yield chunk


class HttpBlobStore:
    """Content-addressed blobs on a labledger team server."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        project: str | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        import httpx

        self.uri = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if project:
            headers["X-Labledger-Project"] = project
        self._client = client or httpx.Client(timeout=TIMEOUT, follow_redirects=False)
        self._headers = headers
        self._s3 = httpx.Client(timeout=TIMEOUT)  # presigned URLs: never our token

    def __repr__(self) -> str:
        return f"HttpBlobStore({self.uri!r})"

    def close(self) -> None:
        self._client.close()
        self._s3.close()

    # --- plumbing ---------------------------------------------------------------------
    def _url(self, digest: str, suffix: str = "") -> str:
        return f"{self.uri}/api/blobs/{check_digest(digest)}{suffix}"

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        import httpx

        headers = {**self._headers, **kwargs.pop("headers", {})}
        try:
            return self._client.request(method, url, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise ArtifactError(f"cannot reach {self.uri}: {exc}") from exc

    @staticmethod
    def _fail(response: httpx.Response, what: str) -> ArtifactError:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.reason_phrase
        return ArtifactError(f"{what}: server said {response.status_code} {message}")

    def _json(self, response: httpx.Response, what: str) -> dict[str, Any]:
        if response.status_code >= 400:
            raise self._fail(response, what)
        result: dict[str, Any] = response.json()
        return result

    # --- BlobStore --------------------------------------------------------------------
    def info(self, digest: str) -> BlobInfo | None:
        response = self._request("HEAD", self._url(digest))
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise self._fail(response, f"checking blob {digest[:12]}")
        modified = response.headers.get("last-modified")
        stamp = parsedate_to_datetime(modified).timestamp() if modified else 0.0
        return BlobInfo(digest, int(response.headers.get("content-length", 0)), stamp)

    def exists(self, digest: str) -> bool:
        return self.info(digest) is not None

    def size(self, digest: str) -> int:
        info = self.info(digest)
        if info is None:
            raise ArtifactError(f"blob {digest[:12]} is missing from {self.uri}")
        return info.size

    def put_file(self, digest: str, path: Path) -> bool:
        if self.exists(digest):
            return False
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise ArtifactError(f"cannot read {path}: {exc.strerror or exc}") from exc
        what = f"uploading {path.name}"
        plan = self._json(
            self._request("POST", self._url(digest, "/uploads"), json={"size": size}), what
        )
        method = plan["method"]
        if method == "exists":
            return False
        if method == "server":
            response = self._request(
                "PUT",
                self._url(digest),
                content=_file_slice(path, 0, size),
                headers={"Content-Length": str(size)},
            )
            return bool(self._json(response, what)["stored"])
        etags = self._send_parts(path, size, plan)
        done = {"upload_id": plan["upload_id"], "etags": etags}
        finish = self._url(digest, f"/uploads/{plan['nonce']}")
        return bool(self._json(self._request("POST", finish, json=done), what)["stored"])

    def _send_parts(self, path: Path, size: int, plan: dict[str, Any]) -> list[str]:
        import httpx

        part_size = int(plan["part_size"])
        urls: list[str] = plan["urls"]

        def send(index: int) -> str:
            offset = index * part_size
            length = min(part_size, size - offset) if urls[1:] else size
            try:
                response = self._s3.put(
                    urls[index],
                    content=_file_slice(path, offset, length),
                    headers={"Content-Length": str(length)},
                )
            except httpx.HTTPError as exc:
                raise ArtifactError(f"uploading {path.name} to storage: {exc}") from exc
            if response.status_code >= 300:
                raise ArtifactError(
                    f"uploading {path.name}: storage said {response.status_code} "
                    f"{response.text[:200]}"
                )
            return str(response.headers.get("etag", ""))

        if len(urls) == 1:
            return [send(0)]
        with ThreadPoolExecutor(PART_CONCURRENCY) as pool:
            return list(pool.map(send, range(len(urls))))

    def _open_stream(self, digest: str) -> Any:
        import httpx

        try:
            request = self._client.build_request("GET", self._url(digest), headers=self._headers)
            response = self._client.send(request, stream=True, follow_redirects=False)
            if response.status_code in (301, 302, 303, 307, 308):
                response.close()
                location = response.headers["location"]
                response = self._s3.send(self._s3.build_request("GET", location), stream=True)
        except httpx.HTTPError as exc:
            raise ArtifactError(f"cannot reach {self.uri}: {exc}") from exc
        if response.status_code >= 400:
            response.read()
            response.close()
            if response.status_code == 404:
                raise ArtifactError(f"blob {digest[:12]} is missing from {self.uri}")
            raise self._fail(response, f"downloading blob {digest[:12]}")
        return response

    def iter_bytes(self, digest: str) -> Iterator[bytes]:
        response = self._open_stream(digest)
        try:
            yield from response.iter_bytes(CHUNK_SIZE)
        finally:
            response.close()

    def get_to(self, digest: str, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name[:40]}.", suffix=".tmp")
        tmp = Path(name)
        try:
            hasher = hashlib.sha256()
            with os.fdopen(fd, "wb") as out:
                for chunk in self.iter_bytes(digest):
                    hasher.update(chunk)
                    out.write(chunk)
            if hasher.hexdigest() != digest:
                raise ArtifactError(f"blob {digest[:12]} from {self.uri} does not match its digest")
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def delete(self, digest: str) -> None:
        raise ArtifactError("blobs on a team server are deleted by `labledger gc` on the server")

    def iter_blobs(self) -> Iterator[BlobInfo]:
        raise ArtifactError("blobs on a team server are listed by `labledger gc` on the server")

    def iter_digests(self) -> Iterator[str]:
        return (blob.digest for blob in self.iter_blobs())
