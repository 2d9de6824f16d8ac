"""``GET /api/live/runs/{id}``: server-sent events for a running run.

Each poll reads only what is new: the run row and its metric summaries (which say which keys
have points past the last step sent), the points after that step (chunks before it are not
read), and the output stored after the last line sent. The read path's crash detection
applies, so a run whose process died turns ``crashed`` on the open page by itself.

Events: ``status`` (first, and on every change), ``points`` (one per key with new points),
``output`` (new lines), ``end`` (the run is no longer running; the stream closes).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from labledger.entities import RunRecord, RunStatus
from labledger.errors import LabledgerError
from labledger.sdk.api import Api
from labledger.server.deps import AccessDep, ApiDep
from labledger.server.routes.output import split_lines
from labledger.server.routes.runs import visible_run
from labledger.server.views import clean, float_list

router = APIRouter(prefix="/api", tags=["live"])

KEEPALIVE_SECONDS = 15.0


def event(name: str, data: Any) -> str:
    return f"event: {name}\ndata: {json.dumps(clean(data), allow_nan=False)}\n\n"


def _status(record: RunRecord) -> dict[str, Any]:
    return {
        "status": str(record.status),
        "error": record.error,
        "exit_code": record.exit_code,
        "ended_at": record.ended_at,
        "heartbeat_at": record.heartbeat_at,
        "runtime": record.runtime,
    }


@dataclass
class LiveCursor:
    """What one stream has sent so far."""

    run_id: str
    steps: dict[str, int] = field(default_factory=dict)  # key -> last step sent
    output_since: float | None = None
    status: dict[str, Any] | None = None

    def poll(self, api: Api) -> tuple[list[str], bool]:
        """Events for everything stored since the last poll, and whether the run ended."""
        record = api.run(self.run_id).record
        events = []
        for key, summary in sorted(record.metrics.items()):
            if summary.count == 0 or summary.last_step is None:
                continue
            sent = self.steps.get(key)
            if sent is not None and summary.last_step <= sent:
                continue
            start = None if sent is None else sent + 1
            series = api.store.read_metric(self.run_id, key, start=start)
            if len(series):
                self.steps[key] = max(
                    sent if sent is not None else -(2**62), int(series.steps.max())
                )
                payload = {
                    "key": key,
                    "steps": series.steps.tolist(),
                    "values": float_list(series.values),
                    "times": series.times.tolist(),
                }
                events.append(event("points", payload))
        lines = api.store.read_output(self.run_id, since=self.output_since)
        if lines:
            self.output_since = max(t for _, t, _ in lines)
            events.append(event("output", {"lines": split_lines(lines)}))
        status = _status(record)
        if status != self.status:
            self.status = status
            events.append(event("status", status))
        return events, record.status is not RunStatus.RUNNING


def open_cursor(
    api: Api, run_id: str, output_since: float | None, since_steps: dict[str, int] | None
) -> tuple[LiveCursor, str]:
    """A cursor past what the page has (``since_steps``: each key's last step it holds; keys
    it does not list are sent whole), or by default past everything stored now; and the
    first ``status`` event, which also lists each key's last step stored."""
    record = api.run(run_id).record
    cursor = LiveCursor(record.run_id)
    if since_steps is not None:
        cursor.steps = dict(since_steps)
    for key, summary in record.metrics.items():
        if since_steps is None and summary.count and summary.last_step is not None:
            cursor.steps[key] = summary.last_step
    if output_since is None:
        lines = api.store.read_output(record.run_id)
        output_since = max((t for _, t, _ in lines), default=None)
    cursor.output_since = output_since
    cursor.status = _status(record)
    last_steps = {
        k: m.last_step for k, m in record.metrics.items() if m.count and m.last_step is not None
    }
    first = {**cursor.status, "last_steps": last_steps, "output_since": output_since}
    return cursor, event("status", first)


def _since_steps(text: str | None) -> dict[str, int] | None:
    if text is None:
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    valid = isinstance(parsed, dict) and all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
        for k, v in parsed.items()
    )
    if not valid:
        raise LabledgerError('since_steps must be a JSON object of key -> step: {"loss": 99}')
    return dict(parsed)


@router.get("/live/runs/{run_id}")
async def live(
    run_id: str,
    request: Request,
    access: AccessDep,
    api: ApiDep,
    interval: Annotated[float, Query(ge=0.05, le=10.0)] = 0.25,
    output_since: float | None = None,
    since_steps: str | None = None,
) -> StreamingResponse:
    """Server-sent events for a run (see the module docs). ``interval``: seconds between
    polls of the store; ``output_since``: send output stored after this time (default: only
    output stored after the stream opened); ``since_steps``: a JSON object of each key's
    last step the page holds (``{"loss": 99}``), so points stored between its fetch and the
    stream's start are sent too (default: points after each key's last step at opening)."""
    steps = _since_steps(since_steps)
    run = await anyio.to_thread.run_sync(visible_run, api, access, run_id)
    cursor, first = await anyio.to_thread.run_sync(
        lambda: open_cursor(api, run.id, output_since, steps)
    )

    async def stream() -> AsyncIterator[str]:
        yield "retry: 2000\n\n" + first
        if run.status is not RunStatus.RUNNING:
            yield event("end", {"status": str(run.status)})
            return
        quiet_since = time.monotonic()
        while not await request.is_disconnected():
            await anyio.sleep(interval)
            events, ended = await anyio.to_thread.run_sync(cursor.poll, api)
            for item in events:
                yield item
            if ended:
                yield event("end", {"status": cursor.status and cursor.status["status"]})
                return
            if events:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > KEEPALIVE_SECONDS:
                quiet_since = time.monotonic()
                yield ": keep-alive\n\n"

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
