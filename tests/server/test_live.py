"""Live events over a real socket: points and output logged after the stream opened arrive,
and a run whose process died turns crashed by itself."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import numpy as np
import uvicorn
from fastapi import FastAPI

from labledger.config import Settings
from labledger.entities import RunStatus
from labledger.server.app import create_app
from labledger.server.routes.live import open_cursor
from labledger.store.base import MetricColumns, Store
from tests.server.helpers import make_run


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port in a thread; yields its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def events(response: httpx.Response) -> Iterator[tuple[str, Any]]:
    name = None
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: ") and name:
            yield name, json.loads(line.removeprefix("data: "))
            name = None


def test_points_output_and_status_arrive_as_stored(store: Store, server_settings: Settings) -> None:
    record = make_run(store, status=RunStatus.RUNNING, metrics={"loss": [1.0, 0.5]})
    store.update_run(record.run_id, {"heartbeat_at": time.time(), "host": "elsewhere"})
    seen: list[tuple[str, Any]] = []
    with serve(create_app(store, settings=server_settings)) as base:
        url = f"{base}/api/live/runs/{record.run_id}"
        with httpx.stream("GET", url, params={"interval": 0.05}, timeout=20) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            stream = events(response)
            first = next(stream)
            assert first[0] == "status" and first[1]["last_steps"] == {"loss": 1}
            steps = np.array([2, 3])
            store.write_metrics(
                record.run_id,
                {"loss": MetricColumns(steps, np.array([0.25, 0.125]), np.full(2, time.time()))},
            )
            store.append_output(record.run_id, [("stdout", time.time(), "step 3\n")])
            for item in stream:
                seen.append(item)
                if item[0] == "points" and item[1]["steps"][-1] == 3:
                    break
            store.update_run(record.run_id, {"status": "finished", "ended_at": time.time()})
            seen.extend(stream)
    points = [data for name, data in seen if name == "points"]
    assert points[0] == {
        "key": "loss",
        "steps": [2, 3],
        "values": [0.25, 0.125],
        "times": points[0]["times"],
    }
    assert sum(len(data["steps"]) for data in points) == 2  # nothing sent twice
    output = [line["text"] for name, data in seen if name == "output" for line in data["lines"]]
    assert output == ["step 3"]
    assert [data["status"] for name, data in seen if name == "status"][-1] == "finished"
    assert seen[-1][0] == "end"


def test_a_dead_run_turns_crashed_on_the_stream(store: Store, server_settings: Settings) -> None:
    settings = server_settings.with_overrides(crash_after=1.0)
    record = make_run(store, status=RunStatus.RUNNING, host="elsewhere", heartbeat_at=time.time())
    with serve(create_app(store, settings=settings)) as base:
        url = f"{base}/api/live/runs/{record.run_id}"
        with httpx.stream("GET", url, params={"interval": 0.1}, timeout=20) as response:
            names = [(name, data.get("status")) for name, data in events(response)]
    assert names[0][0] == "status"  # running, unless the 1 s passed before the stream opened
    assert ("status", "crashed") in names and names[-1] == ("end", "crashed")


def test_live_stream_of_a_finished_run_ends_at_once(client: Any, store: Store) -> None:
    record = make_run(store)
    body = client.get(f"/api/live/runs/{record.run_id}").text
    assert "event: status" in body and "event: end" in body
    assert client.get("/api/live/runs/nosuchrun").status_code == 404


def test_since_steps_sends_what_the_page_missed(client: Any, store: Store) -> None:
    record = make_run(
        store, status=RunStatus.RUNNING, metrics={"loss": [1.0, 0.5, 0.25], "acc": [0.1]}
    )
    api = client.app.state.api
    cursor, first = open_cursor(api, record.run_id, None, {"loss": 0})
    assert '"last_steps": {"acc": 0, "loss": 2}' in first or '"loss": 2' in first
    events, _ = cursor.poll(api)
    points = [json.loads(e.split("data: ", 1)[1]) for e in events if e.startswith("event: points")]
    assert {p["key"]: p["steps"] for p in points} == {"acc": [0], "loss": [1, 2]}
    assert cursor.poll(api)[0] == []  # nothing new, nothing sent
    bad = client.get(f"/api/live/runs/{record.run_id}", params={"since_steps": "[1]"})
    assert bad.status_code == 400
