"""Cost of token auth on the team server.

    python bench/team_auth.py [--requests 2000] [--postgres postgresql://...]

Measures ``AuthStore.authenticate`` (one indexed lookup, salted SHA-256, constant-time compare)
on SQLite and, when given, PostgreSQL; and requests/s of ``GET /api/auth/whoami`` through
real ``labledger server`` processes with a token versus ``--no-auth`` (one keep-alive client).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

CLI = "from labledger.cli.main import main; main()"


def time_authenticate(uri: str, n: int) -> float:
    from labledger.store import auth_store, open_store

    store = open_store(uri)
    auth = auth_store(store)
    name = f"bench{int(time.time() * 1000) % 10**8}"
    auth.add_user(name)
    token, _ = auth.create_token(name, "bench")
    auth.authenticate(token)
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        assert auth.authenticate(token) is not None
        samples.append(time.perf_counter() - start)
    store.close()
    return statistics.median(samples) * 1e6


def serve(args: list[str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-c", CLI, "server", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        found = re.search(r"listening on (http://[0-9.]+:\d+)", line)
        if found:
            url = found.group(1)
            break
    for _ in range(200):
        try:
            if httpx.get(f"{url}/api/health").status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit("server did not start")


def requests_per_second(url: str, token: str | None, n: int) -> float:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=url, headers=headers) as client:
        for _ in range(20):
            client.get("/api/auth/whoami")
        start = time.perf_counter()
        for _ in range(n):
            assert client.get("/api/auth/whoami").status_code == 200
        return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--postgres", help="also measure on this PostgreSQL database")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ll-bench-auth-"))
    db = f"sqlite:///{folder / 'labledger.db'}"
    print(f"authenticate, SQLite: {time_authenticate(db, options.requests):.0f} µs (median)")
    if options.postgres:
        us = time_authenticate(options.postgres, options.requests)
        print(f"authenticate, PostgreSQL: {us:.0f} µs (median)")

    from labledger.store import auth_store, open_store

    store = open_store(db)
    auth_store(store).add_user("root", admin=True)
    token, _ = auth_store(store).create_token("root", "bench")
    store.close()
    for label, args, sent in (
        ("token auth", ["--db", db], token),
        ("--no-auth", ["--db", db, "--no-auth"], None),
    ):
        process, url = serve(args)
        try:
            rate = requests_per_second(url, sent, options.requests)
        finally:
            process.terminate()
            process.wait()
        print(f"GET /api/auth/whoami, {label}: {rate:.0f} requests/s (one client, SQLite)")


if __name__ == "__main__":
    main()
