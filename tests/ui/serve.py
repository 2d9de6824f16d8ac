"""Serve ``create_app`` over a store URI on 127.0.0.1, on a port the OS picks; prints the URL."""

from __future__ import annotations

import asyncio
import socket
import sys

import uvicorn

from labledger.server.app import create_app
from labledger.store import open_store


def main(uri: str) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    app = create_app(open_store(uri))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    print(f"http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    asyncio.run(server.serve(sockets=[sock]))


if __name__ == "__main__":
    main(sys.argv[1])
