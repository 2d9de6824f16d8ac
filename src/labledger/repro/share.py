"""``labledger share RUN``: a short summary to paste next to a reported number."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from labledger.capture.redact import strip_url_credentials
from labledger.repro.check import CheckReport
from labledger.sdk.api import RunView
from labledger.sdk.fingerprint import short

__all__ = ["ShareSummary", "render_markdown", "render_text", "summarize"]

MAX_METRICS = 8
SYSTEM_PREFIX = "system/"


@dataclass(frozen=True)
class ShareSummary:
    run_id: str
    name: str
    project: str
    status: str
    metrics: tuple[tuple[str, Any], ...]
    commit: str | None
    dirty: bool
    remote: str | None
    verdict: str  # check verdict and the items that did not pass
    fingerprint: str
    reproduces: str | None
    link: str | None


def _key_metrics(run: RunView) -> tuple[tuple[str, Any], ...]:
    """The user's summary values first, then other final metrics; ``system/*`` left out."""
    finals = {k: v for k, v in run.metrics.items() if not k.startswith(SYSTEM_PREFIX)}
    ordered = [k for k in run.summary if k in finals]
    ordered += sorted(k for k in finals if k not in run.summary)
    return tuple((k, finals[k]) for k in ordered[:MAX_METRICS])


def _verdict(report: CheckReport) -> str:
    not_passed = [f"{i.name} ({i.status})" for i in report.items if i.status != "pass"]
    counts = f"{report.count('pass')}/{len(report.items)} checks pass"
    return f"{report.verdict}: {counts}" + (f"; {', '.join(not_passed)}" if not_passed else "")


def summarize(run: RunView, report: CheckReport, server_url: str | None = None) -> ShareSummary:
    git = run.captures().get("git", {})
    base = strip_url_credentials(server_url).rstrip("/") if server_url else None
    link = f"{base}/runs/{run.id}" if base else None
    return ShareSummary(
        run_id=run.id,
        name=run.name,
        project=run.project,
        status=str(run.status),
        metrics=_key_metrics(run),
        commit=git.get("commit"),
        dirty=bool(git.get("dirty")),
        remote=strip_url_credentials(git["remote_url"]) if git.get("remote_url") else None,
        verdict=_verdict(report),
        fingerprint=short(run.record.fingerprint),
        reproduces=run.record.reproduces,
        link=link,
    )


def _value(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.6g}"
    return str(value)


def _commit(summary: ShareSummary) -> str:
    if not summary.commit:
        return "not recorded"
    text = summary.commit[:12] + (" + uncommitted changes" if summary.dirty else "")
    return text + (f" ({summary.remote})" if summary.remote else "")


def render_text(summary: ShareSummary) -> str:
    metrics = ", ".join(f"{k}={_value(v)}" for k, v in summary.metrics) or "none"
    lines = [
        f"Run {summary.run_id} '{summary.name}' ({summary.project}, {summary.status})",
        f"Metrics: {metrics}",
        f"Commit: {_commit(summary)}",
        f"Check: {summary.verdict}",
        f"Fingerprint: {summary.fingerprint}",
    ]
    if summary.reproduces:
        lines.append(f"Reproduces: {summary.reproduces}")
    if summary.link:
        lines.append(f"Link: {summary.link}")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(summary: ShareSummary) -> str:
    title = f"[{summary.run_id}]({summary.link})" if summary.link else f"`{summary.run_id}`"
    lines = [
        f"**Run {title}** {_cell(summary.name)} ({_cell(summary.project)}, {summary.status})",
        "",
        "| Metric | Value |",
        "|---|---|",
        *(f"| {_cell(k)} | {_cell(_value(v))} |" for k, v in summary.metrics),
        "",
        f"- Commit: `{_commit(summary)}`",
        f"- Check: {_cell(summary.verdict)}",
        f"- Fingerprint: `{summary.fingerprint}`",
    ]
    if summary.reproduces:
        lines.append(f"- Reproduces: `{summary.reproduces}`")
    return "\n".join(lines)
