"""The CI job summary: when `GITHUB_STEP_SUMMARY` names a file, a run appends its verdict, its
counts per suite, each failure (and error) with a one-line reason, and the failover p50/p95
table, in GitHub-flavoured Markdown."""

from __future__ import annotations

import html
import os
from pathlib import Path

from harness.report import tables
from harness.report.results import RunResult

ENV = "GITHUB_STEP_SUMMARY"
ICONS = {"passed": "✅", "failed": "❌", "error": "⚠️"}
FAILOVER_MEASURES = ("detection_ms", "loss_window_ms", "established_ms", "full_redundancy_ms")


def _cell(text: str) -> str:
    """Text in a table cell of GitHub's Markdown, as code: its HTML sanitiser would drop what
    looks like a tag (`<Route ...>`), and `*`/`_` would turn into emphasis."""
    if not text:
        return ""
    return "<code>" + html.escape(text).replace("|", "&#124;").replace("\n", " ") + "</code>"


def markdown(result: RunResult, junit: Path, html: Path | None = None) -> str:
    c = result.counts
    lines = [
        f"## {ICONS.get(result.verdict, '')} rr-harness: {result.label}: {result.verdict}",
        "",
        f"{c['passed']} passed, {c['failed'] + c['xpass']} failed, {c['error']} errors, "
        f"{c['xfail']} expected failures, {c['skipped']} skipped in {result.seconds:.1f} s "
        f"(run {result.properties.get('run_id', '?')}, `{junit}`"
        + (f", report `{html}`" if html else "")
        + ")",
        "",
    ]
    if startup := result.properties.get("startup_failure"):
        lines += [f"**Stopped at start-up:** {_cell(startup)}", ""]
    lines += [
        "| suite | passed | failed | errors | expected failures | skipped |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for suite, checks in result.suites().items():
        n = {o: sum(1 for k in checks if k.outcome == o) for o in c}
        lines.append(
            f"| {suite} | {n['passed']} | {n['failed'] + n['xpass']} | {n['error']} | "
            f"{n['xfail']} | {n['skipped']} |"
        )
    bad = [k for k in result.checks if k.outcome in ("failed", "xpass", "error")]
    if bad:
        lines += ["", "**Failures and errors**", ""]
        lines += [f"- {k.outcome}: `{k.check_id}`: {_cell(k.reason)}" for k in bad]
    drills, _ = tables.failover(junit, result.properties.get("run_id", ""), figures=False)
    if drills:
        head = " | ".join(f"{m.removesuffix('_ms')} p50 / p95" for m in FAILOVER_MEASURES)
        lines += ["", "**Failover (ms)**", "", f"| drill | {head} |"]
        lines.append("|---|" + "---:|" * len(FAILOVER_MEASURES))
        for d in drills:
            values = {name: (p50, p95) for name, p50, p95, _ in d.rows}
            cells = [
                f"{_fmt(values[m][0])} / {_fmt(values[m][1])}" if m in values else ""
                for m in FAILOVER_MEASURES
            ]
            lines.append(f"| `{d.test}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\n"


def _fmt(value: object) -> str:
    return f"{value:.0f}" if isinstance(value, float) else str(value)


def append(result: RunResult, junit: Path, html: Path | None = None) -> Path | None:
    """Append the run's summary to the file `GITHUB_STEP_SUMMARY` names; None when unset."""
    target = os.environ.get(ENV)
    if not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as out:
        out.write(markdown(result, junit, html))
    return path
