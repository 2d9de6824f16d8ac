"""``GET /api/runs/{id}/output``: the run's console output as lines, searchable."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from labledger.server.deps import AccessDep, ApiDep
from labledger.server.routes.runs import visible_run

router = APIRouter(prefix="/api", tags=["output"])

MAX_LINES = 100_000


def split_lines(chunks: list[tuple[str, float, str]]) -> list[dict[str, Any]]:
    """Stored output chunks as lines (a chunk may hold several lines or a partial one; a
    line continued by a later chunk of the same stream is joined)."""
    lines: list[dict[str, Any]] = []
    open_line: dict[str, dict[str, Any]] = {}
    for stream, time, text in chunks:
        for part in text.splitlines(keepends=True):
            pending = open_line.pop(stream, None)
            if pending is not None:
                pending["text"] += part
                line = pending
            else:
                line = {"stream": stream, "time": time, "text": part}
                lines.append(line)
            if not part.endswith(("\n", "\r")):
                open_line[stream] = line
    for line in lines:
        line["text"] = line["text"].rstrip("\r\n")
    return lines


@router.get("/runs/{run_id}/output")
def get_output(
    run_id: str,
    access: AccessDep,
    api: ApiDep,
    tail: Annotated[int | None, Query(ge=1, le=MAX_LINES)] = None,
    q: str | None = None,
) -> list[dict[str, Any]]:
    """Console lines ``{"stream", "time", "text"}`` (text keeps ANSI escapes): the last
    ``tail`` lines, or those containing ``q`` (case-insensitive), at most 100,000."""
    run = visible_run(api, access, run_id)
    lines = split_lines(api.store.read_output(run.id))
    if q:
        needle = q.casefold()
        lines = [line for line in lines if needle in line["text"].casefold()]
    return lines[-(tail or MAX_LINES) :]
