"""What a run does with its JUnit file once pytest has written it: bound its property values
(`limits`), write the HTML report beside it (`page`), append the CI job summary (`summary`).

A report that cannot be written never changes the run's verdict: the reason is said in one
line, and the JUnit file stays what the run decided.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from harness.model.plan import LabPlan


def docstrings(items: Iterable[Any]) -> dict[str, str]:
    """{check id: its docstring, on one line} of the collected tests: the RFC section or design
    sentence each enforces (`suites.test_x::test_y[p]` -> `x::test_y[p]`, as in the JUnit)."""
    from harness.report.results import suite_of

    out: dict[str, str] = {}
    for item in items:
        function = getattr(item, "function", None)
        doc = inspect.getdoc(function) if function is not None else None
        if not doc:
            continue
        path, *rest = item.nodeid.split("::")
        classname = ".".join([path.removesuffix(".py").replace("/", "."), *rest[:-1]])
        out[f"{suite_of(classname)}::{item.name}"] = " ".join(doc.split())
    return out


def draw_early(plan: LabPlan, unready: dict[str, dict[str, str]]) -> Future[tuple[str, str]]:
    """The topology picture (`topology.topology_svg`) started now, on its own thread: it is
    known once the lab is up, and `dot` then draws it on the other core while the checks wait
    for routes (issue 18: 60 ms less after the last check). The report's modules are loaded
    there too, for the same reason."""

    def draw() -> tuple[str, str]:
        from harness.report import limits, page, summary  # noqa: F401 (loaded ahead)
        from harness.report.topology import topology_svg

        return topology_svg(plan, unready)

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="topology")
    drawing = pool.submit(draw)
    pool.shutdown(wait=False)  # the thread ends with its one task
    return drawing


def after_run(
    junit: Path,
    *,
    plan: LabPlan | None,
    unready: dict[str, dict[str, str]] | None,
    docs: dict[str, str],
    say: Callable[[str], None],
    drawn: Future[tuple[str, str]] | None = None,
) -> Path | None:
    """Bound, render, summarise; returns the HTML report's path (None when not written)."""
    from harness.report import limits, page, summary

    page.html_path(junit).unlink(missing_ok=True)  # never an earlier run's page beside this one
    try:
        moved = limits.bound_properties(junit)
        if moved:
            say(f"rr-harness: {len(moved)} long property value(s) moved to {moved[0].parent}")
        picture = drawn.result() if drawn is not None else None
        built = page.build(junit, plan=plan, unready=unready, docs=docs, drawn=picture)
        html = page.write(junit, built)
        say(f"rr-harness: HTML report written to {html}")
        if written := summary.append(built.result, junit, html):
            say(f"rr-harness: job summary appended to {written}")
        return html
    except Exception as exc:  # the report never changes the run's verdict nor its exit status
        say(f"rr-harness: no HTML report ({type(exc).__name__}: {exc})")
        return None
