"""The HTML report of one run: `<junit stem>.html` beside its JUnit file, one self-contained
page (CSS inline, figures as `data:` URIs, no external URL) a reviewer opens from a CI artifact.

Rendered by Jinja2 from `templates/run.html.j2` (autoescaped): the run's facts at the top (the
JUnit run properties), the topology picture (`harness.report.topology`), each suite's checks
with the RFC section or design sentence they enforce (the test's docstring), their outcome,
duration, evidence and failure text, then the failover measures and figures, and the mutation
and bench tables where the run produced them.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from harness.model.plan import LabPlan
from harness.report import tables
from harness.report.results import Check, RunResult, read

TEMPLATES = Path(__file__).parent / "templates"
FACTS = (  # (label, run property), in the order of the top of the page
    ("SUT profile", "sut"),
    ("SUT directory", "sut_dir"),
    ("FRR version", "frr_version"),
    ("FRR source", "frr_source"),
    ("implementation", "implementation"),
    ("implementation version", "implementation_version"),
    ("backend", "backend"),
    ("topology", "topology"),
    ("run id", "run_id"),
    ("sessions at start-up", "sessions"),
    ("lab up (ms)", "lab_up_ms"),
    ("harness version", "harness_version"),
)


def harness_version() -> str:
    try:
        return metadata.version("rr-harness")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def anchor(check_id: str) -> str:
    """The HTML id of a check's row: the same in every report, so a matrix links to it."""
    return "check-" + re.sub(r"[^A-Za-z0-9_-]+", "-", check_id).strip("-")


def _link(value: str, base: Path) -> str:
    """A value naming a file of the run (a bounded property's file, a log folder), as a path
    relative to the report; "" when it is no such file."""
    if not value or len(value) > 1000 or "\n" in value:
        return ""
    path = Path(value)
    target = path if path.is_absolute() else base / path
    try:
        if target.exists() and target.resolve().is_relative_to(base.resolve()):
            return target.resolve().relative_to(base.resolve()).as_posix()
    except (OSError, ValueError):
        return ""
    return ""


@dataclass
class CheckView:
    check: Check
    doc: str
    anchor: str
    properties: list[tuple[str, str, str]]  # name, value, link ("" when none)
    denied: list[str] = field(default_factory=list)


@dataclass
class Page:
    """Everything the template shows."""

    title: str
    result: RunResult
    facts: list[tuple[str, str]]
    suites: list[tuple[str, dict[str, int], list[CheckView]]]
    topology_svg: str = ""
    topology_note: str = ""
    drills: list[tables.Drill] = field(default_factory=list)
    failover_note: str = ""
    mutations: tables.MutationTable | None = None
    bench: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    generated: str = ""


def views(result: RunResult, docs: dict[str, str], base: Path) -> list[Any]:
    out = []
    for suite, checks in result.suites().items():
        counts = {o: sum(1 for c in checks if c.outcome == o) for o in result.counts}
        rows = []
        for c in checks:
            props = [(n, v, _link(v, base)) for n, v in c.properties]
            denied = [
                line.strip()
                for _, v, _ in props
                for line in re.split(r" \| |\n", v)
                if "DENIED" in line
            ]
            doc = docs.get(c.check_id) or docs.get(c.check_id.split("[", 1)[0]) or ""
            rows.append(CheckView(c, doc, anchor(c.check_id), props, denied[:20]))
        out.append((suite, counts, rows))
    return out


def build(
    junit: Path,
    *,
    plan: LabPlan | None = None,
    unready: dict[str, dict[str, str]] | None = None,
    docs: dict[str, str] | None = None,
    drawn: tuple[str, str] | None = None,
) -> Page:
    """The page of a run from its JUnit file and, when the run is this process, its plan (the
    topology picture, or the picture already `drawn`: run_end.draw_early) and its checks'
    docstrings."""
    result = read(junit)
    props = result.properties
    base = junit.parent
    facts = [(label, props[key]) for label, key in FACTS if props.get(key)]
    if "harness_version" not in props:
        facts.append(("harness version", harness_version()))
    facts += [
        ("date", result.timestamp.replace("T", " ")[:19] + " UTC" if result.timestamp else ""),
        ("duration", f"{result.seconds:.1f} s"),
    ]
    page = Page(
        title=f"rr-harness: {result.label}",
        result=result,
        facts=facts,
        suites=views(result, docs or {}, base),
        generated=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    )
    if drawn is not None:
        page.topology_svg, page.topology_note = drawn
    elif plan is not None:
        from harness.report.topology import topology_svg

        page.topology_svg, page.topology_note = topology_svg(plan, unready)
    else:
        page.topology_note = "no topology picture: the run's plan is not known here"
    page.drills, page.failover_note = tables.failover(junit, props.get("run_id", ""))
    for name, key in (("run log", "log"), ("kept configs and daemon logs", "logs")):
        if link := _link(props.get(key, ""), base):
            page.links.append((name, link))
    return page


def render(template: str, **context: Any) -> str:
    import jinja2

    from harness.model.template_cache import template_cache

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        bytecode_cache=template_cache(),
    )
    environment.filters["ms"] = _number
    return environment.get_template(template).render(**context)


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    return "" if value is None else str(value)


def html_path(junit: Path) -> Path:
    return junit.with_suffix(".html")


def write(junit: Path, page: Page) -> Path:
    from markupsafe import Markup

    out = html_path(junit)
    body = render("run.html.j2", page=page, svg=Markup(page.topology_svg))
    out.write_text(body, encoding="utf-8")
    return out


def write_tables(out: Path, title: str, *, mutations: Path | None = None,
                 bench: Path | None = None) -> Path:  # fmt: skip
    """A page of the mutation table or the bench figures alone (`rr-harness mutate`, `bench`)."""
    page = Page(title=title, result=RunResult(out), facts=[], suites=[])
    page.topology_note = ""
    page.mutations = tables.mutations(mutations) if mutations else None
    page.bench = tables.bench(bench) if bench else []
    page.generated = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    out.write_text(render("run.html.j2", page=page, svg=""), encoding="utf-8")
    return out
