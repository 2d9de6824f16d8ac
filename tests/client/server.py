"""A real labledger server process on loopback for end-to-end tests and benchmarks.

The listening socket is bound by the parent (port 0: the OS picks a free port) and handed to
uvicorn by file descriptor, so there is no race for the port; a restart binds the same port
again. The server runs ``create_app`` over the store at ``uri`` with the local (no-auth)
authenticator.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

SERVE = """
import sys
import uvicorn
from labledger.server.app import create_app
from labledger.store import open_store

uri, fd, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if workers > 1:
    uvicorn.run("tests.client.server:app_from_env", factory=True, fd=fd, workers=workers,
                log_level="warning", access_log=False)
else:
    uvicorn.run(create_app(open_store(uri)), fd=fd, log_level="warning", access_log=False)
"""


def app_from_env() -> object:
    from labledger.server.app import create_app
    from labledger.store import open_store

    return create_app(open_store(os.environ["LABLEDGER_TEST_SERVER_URI"]))


class ServerProcess:
    """``start()``, ``kill()`` (SIGKILL), ``start()`` again on the same port, ``stop()``."""

    def __init__(self, uri: str, log_path: Path, *, workers: int = 1) -> None:
        self.store_uri = uri
        self.workers = workers
        self.log_path = log_path
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _socket(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # uvicorn treats a socket passed by fd as a UNIX socket and never sets TCP_NODELAY;
        # accepted connections inherit it from here (else ~40 ms delayed-ACK stalls).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(512)
        self.port = sock.getsockname()[1]
        return sock

    def start(self, timeout: float = 30.0) -> ServerProcess:
        sock = self._socket()
        env = dict(os.environ, LABLEDGER_TEST_SERVER_URI=self.store_uri)
        root = str(Path(__file__).parents[2])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    SERVE,
                    self.store_uri,
                    str(sock.fileno()),
                    str(self.workers),
                ],
                pass_fds=[sock.fileno()],
                stdout=log,
                stderr=log,
                env=env,
                start_new_session=True,
            )
        sock.close()  # the child holds it now; after a kill, connections are refused
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not start: {self.log_path.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL the server (and its workers)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
