"""The artifact registry (versions, aliases, lineage) over the server's ``/api/store`` routes.

Every call is synchronous: registry writes are rare (one per ``log_artifact``) and their
answers (the version number) are needed at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labledger.store import wire
from labledger.store.base import ArtifactVersion

Call = Callable[..., bytes]


class HttpArtifactRegistry:
    """``ArtifactRegistry`` backed by an ``HttpStore``'s connection."""

    def __init__(self, call: Call, sync_writes: Callable[[], None]) -> None:
        self._call = call
        self._sync_writes = sync_writes  # the run a version points at must have arrived

    def _request(self, method: str, path: str, **kwargs: Any) -> bytes:
        from labledger.store.http import ServerUnreachable
        from labledger.store.sender import Retry

        self._sync_writes()
        try:
            return self._call(method, f"/api/store/artifacts{path}", **kwargs)
        except Retry as exc:
            raise ServerUnreachable(f"cannot reach the labledger server: {exc}") from None

    def add_version(self, version: ArtifactVersion) -> ArtifactVersion:
        answer = self._request("POST", "/versions", body=wire.encode_version(version))
        return wire.decode(answer, ArtifactVersion)

    def get_version(self, name: str, selector: str | None = None) -> ArtifactVersion:
        params = {"name": name} if selector is None else {"name": name, "selector": selector}
        return wire.decode(self._request("GET", "/version", params=params), ArtifactVersion)

    def list_versions(self, name: str | None = None) -> list[ArtifactVersion]:
        params = {} if name is None else {"name": name}
        answer = self._request("GET", "/versions", params=params)
        return wire.decode(answer, list[ArtifactVersion])

    def set_alias(self, name: str, alias: str, version: int) -> None:
        body = wire.encode({"name": name, "alias": alias, "version": version})
        self._request("POST", "/aliases", body=body)

    def delete_version(self, name: str, version: int) -> ArtifactVersion:
        params = {"name": name, "version": version}
        return wire.decode(self._request("DELETE", "/versions", params=params), ArtifactVersion)

    def record_use(self, run_id: str, name: str, version: int) -> None:
        body = wire.encode({"run_id": run_id, "name": name, "version": version})
        self._request("POST", "/uses", body=body)

    def consumers(self, name: str, version: int) -> list[str]:
        params = {"name": name, "version": version}
        return wire.decode(self._request("GET", "/consumers", params=params), list[str])

    def produced_by(self, run_id: str) -> list[ArtifactVersion]:
        answer = self._request("GET", "/produced", params={"run_id": run_id})
        return wire.decode(answer, list[ArtifactVersion])

    def used_by(self, run_id: str) -> list[ArtifactVersion]:
        answer = self._request("GET", "/used", params={"run_id": run_id})
        return wire.decode(answer, list[ArtifactVersion])

    def referenced_digests(self) -> set[str]:
        return set(wire.decode(self._request("GET", "/digests"), list[str]))
