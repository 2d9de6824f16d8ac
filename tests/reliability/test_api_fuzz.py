"""Issue 10, bad input over HTTP: every operation of the server's OpenAPI schema, driven by
schemathesis with generated (valid and invalid) parameters and bodies against a store with
real runs and an artifact. No request may produce a 5xx. Bounded by default (a few examples
per operation, derandomized); ``LABLEDGER_FUZZ=N`` for N seeded random examples each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, seed, settings  # noqa: E402

import labledger as ll  # noqa: E402
from tests.reliability.fuzz import LONG, SEED  # noqa: E402


@pytest.fixture
def api_schema(tmp_path: Path) -> Any:
    from labledger.config import load_settings
    from labledger.server.app import create_app
    from labledger.store import open_store

    (tmp_path / "w.bin").write_bytes(b"weights")
    for i in range(2):
        with ll.init(project="p", name=f"r{i}", config={"lr": 0.1 * i}, tags=["t"]) as run:
            for step in range(5):
                run.log({"loss": 1.0 / (step + 1), "acc": 0.1 * step}, step=step)
            run.log_artifact(tmp_path / "w.bin", name="model", aliases=["best"])
            print(f"line {i}")
    store = open_store(f"sqlite:///{tmp_path / 'store' / 'labledger.db'}")
    app_settings = load_settings(
        env={
            "LABLEDGER_URI": store.uri,
            "LABLEDGER_ARTIFACTS": str(tmp_path / "store" / "artifacts"),
        },
        cwd=tmp_path,
    )
    app = create_app(store, settings=app_settings)
    return schemathesis.openapi.from_asgi("/api/openapi.json", app).exclude(
        path_regex=r"^/api/live/"  # a server-sent event stream: never ends by itself
    )


_settings: dict[str, Any] = {
    "deadline": None,
    "database": None,
    "suppress_health_check": list(HealthCheck),
}
if LONG:
    _settings.update(max_examples=LONG, derandomize=False)
else:
    _settings.update(max_examples=6, derandomize=True)


def fuzz_operation(operation: Any, errors: list[str]) -> int:
    """Send generated requests to ``operation``; record each 5xx; return how many were sent."""
    sent = 0

    @given(case=operation.as_strategy())
    @settings(**_settings)
    def check(case: Any) -> None:
        nonlocal sent
        sent += 1
        try:
            response = case.call()
        except Exception as exc:  # the app raised: a 500 for a real client
            errors.append(f"{operation.label}: {exc!r} {case.as_curl_command()}")
            return
        if response.status_code >= 500:
            errors.append(f"{operation.label}: {response.status_code} {case.as_curl_command()}")

    if LONG:
        check = seed(SEED)(check)
    check()
    return sent


@pytest.mark.slow
def test_no_request_is_a_server_error(api_schema: Any, record_property: Any) -> None:
    if LONG:
        print(f"LABLEDGER_TEST_SEED={SEED}")
    errors: list[str] = []
    tried = {r.ok().label: fuzz_operation(r.ok(), errors) for r in api_schema.get_all_operations()}
    print(f"schemathesis: {sum(tried.values())} requests over {len(tried)} operations")
    record_property("examples", sum(tried.values()))
    record_property("errors", len(errors))
    assert len(tried) >= 30 and all(tried.values()), tried
    assert not errors, "\n".join(sorted(set(errors))[:20])
