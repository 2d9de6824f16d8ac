"""Plumbing shared by the endpoint modules: request messages (JSON body or query string, as
the MLflow client sends them), the per-request context, and the endpoint registry the
routers are built from."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import Request

from labledger.errors import RunNotFound
from labledger.server.deps import Access, Role, require
from labledger.server.mlflow.errors import BAD_REQUEST, MlflowError, does_not_exist, invalid
from labledger.store import experiment_store
from labledger.store.base import Store
from labledger.store.experiments import Experiment, ExperimentStore

if TYPE_CHECKING:
    from labledger.entities import RunRecord
    from labledger.sdk.artifacts import Artifacts

MAX_REQUEST_BYTES = 16 * 1024 * 1024


class Message:
    """One request's fields: a JSON body (POST) or query parameters (GET, where a repeated
    field is a repeated parameter)."""

    def __init__(self, data: Mapping[str, Any], repeated: Mapping[str, list[str]] | None = None):
        self.data = data
        self.repeated = repeated
        self.size = 0

    @classmethod
    async def read(cls, request: Request) -> Message:
        if request.method == "GET":
            query = request.query_params
            repeated = {key: query.getlist(key) for key in query}
            return cls({key: values[-1] for key, values in repeated.items()}, repeated)
        body = await request.body()
        if len(body) > MAX_REQUEST_BYTES:
            raise MlflowError(f"the request is larger than {MAX_REQUEST_BYTES} bytes", BAD_REQUEST)
        if not body.strip():
            message = cls({})
        else:
            try:
                data = json.loads(body)
            except ValueError as exc:
                raise MlflowError(f"the request body is not JSON: {exc}", BAD_REQUEST) from None
            if not isinstance(data, dict):
                raise MlflowError("the request body must be a JSON object", BAD_REQUEST)
            message = cls(data)
        message.size = len(body)
        return message

    def get(self, name: str) -> Any:
        return self.data.get(name)

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                raise invalid(f"Missing value for required parameter '{name}'.")
            return None
        if not isinstance(value, str):
            raise invalid(f"Invalid value {value!r} for parameter '{name}': expected a string")
        return value

    def required(self, name: str) -> str:
        value = self.text(name, required=True)
        assert value is not None
        return value

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.data.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            raise invalid(f"Invalid value {value!r} for parameter '{name}': expected an integer")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise invalid(
                f"Invalid value {value!r} for parameter '{name}': expected an integer"
            ) from None

    def items(self, name: str) -> list[Any]:
        if self.repeated is not None:
            return list(self.repeated.get(name, []))
        value = self.data.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise invalid(f"Invalid value {value!r} for parameter '{name}': expected a list")
        return value


@dataclass
class Ctx:
    """What a handler works with: the store, the experiments beside it, who is asking."""

    request: Request
    store: Store
    access: Access
    experiments: ExperimentStore
    _by_name: dict[str, Experiment] = field(default_factory=dict)

    @property
    def artifacts(self) -> Artifacts:
        artifacts: Artifacts = self.request.app.state.artifacts
        return artifacts

    def require(self, project: str, role: Role = "viewer") -> None:
        require(self.access, project, role)

    def experiment(self, experiment_id: Any) -> Experiment:
        """The experiment ``experiment_id`` names (visible to the caller)."""
        number = parse_experiment_id(experiment_id)
        from labledger.errors import NotFound

        try:
            found = self.experiments.get(number)
        except NotFound:
            raise does_not_exist(f"No Experiment with id={experiment_id} exists") from None
        if self.access.role(found.name) is None:
            raise does_not_exist(f"No Experiment with id={experiment_id} exists")
        return found

    def experiment_of(self, project: str) -> Experiment:
        """The experiment of ``project`` (registered on first sight)."""
        found = self._by_name.get(project)
        if found is None:
            from labledger.errors import NotFound

            try:
                found = self.experiments.get_by_name(project)
            except NotFound:
                self.experiments.ensure([project])
                found = self.experiments.get_by_name(project)
            self._by_name[project] = found
        return found

    def run(self, run_id: str | None, role: Role = "viewer") -> RunRecord:
        """The run with exactly ``run_id`` (no prefixes), checked against ``role``."""
        if not run_id:
            raise invalid("Missing value for required parameter 'run_id'.")
        try:
            record = self.store.get_run(run_id)
        except RunNotFound:
            record = None
        if record is None or record.run_id != run_id or self.access.role(record.project) is None:
            raise does_not_exist(f"Run with id={run_id} not found")
        self.require(record.project, role)
        return record

    @contextmanager
    def run_lock(self, run_id: str) -> Iterator[None]:
        """Serialises read-modify-write updates of one run's tags within this process."""
        state = self.request.app.state
        guard: threading.Lock = state.__dict__.setdefault("mlflow_locks_guard", threading.Lock())
        with guard:
            locks: dict[str, threading.Lock] = state.__dict__.setdefault("mlflow_locks", {})
            if len(locks) > 10_000:
                locks.clear()
            lock = locks.setdefault(run_id, threading.Lock())
        with lock:
            yield


def parse_experiment_id(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise invalid(
            f"Invalid experiment ID '{value}'. Experiment ID must be a valid integer."
        ) from None
    if number < 0:
        raise invalid(f"Invalid experiment ID '{value}'.")
    return number


def context(request: Request) -> Ctx:
    store: Store = request.app.state.store
    access: Access = request.app.state.authenticator(request)
    return Ctx(request, store, access, experiment_store(store))


Handler = Callable[[Ctx, Message], dict[str, Any]]


@dataclass(frozen=True)
class Endpoint:
    path: str
    methods: tuple[str, ...]
    handler: Handler


ENDPOINTS: list[Endpoint] = []


def endpoint(path: str, *methods: str) -> Callable[[Handler], Handler]:
    """Register ``handler`` for ``path`` under every MLflow prefix (POST unless told)."""

    def register(handler: Handler) -> Handler:
        ENDPOINTS.append(Endpoint(path, methods or ("POST",), handler))
        return handler

    return register
