"""Store failures are one line naming the URI (password masked) and the cause."""

from __future__ import annotations

import socket

import pytest

from tests.cli.conftest import invoke


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_database_that_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("psycopg")
    uri = f"postgresql://postgres:s3cret@127.0.0.1:{_free_port()}/test"
    monkeypatch.setenv("LABLEDGER_URI", uri)
    result = invoke("runs", "ls")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "cannot open the store postgresql://postgres:***@127.0.0.1" in lines[0]
    assert "refused" in lines[0] and "s3cret" not in result.output


@pytest.mark.postgres
def test_a_database_that_does_not_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("psycopg")
    monkeypatch.setenv("LABLEDGER_URI", "postgresql://postgres@127.0.0.1:5432/labledger_no_such_db")
    result = invoke("runs", "ls")
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert 'database "labledger_no_such_db" does not exist' in result.output
