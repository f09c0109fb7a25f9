"""The bench's scenarios, run one by one into one set of figures (`Results`), each compared
with the target the project set for this kind of machine where there is one (issue 7)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.bench import overhead as oh
from harness.bench import yardstick as ys
from harness.bench.failover_scale import failover_at
from harness.bench.figures import Results
from harness.bench.memory import per_route
from harness.bench.throughput import GENERATOR_SHARE, reflect
from harness.model.plan import LabPlan
from harness.suite_names import known_suites

MIB = 1 << 20
REFLECT_TARGET_S = 10.0  # 100k routes to 3 clients
RESOLUTION_TARGET_MS = 10.0
WIRE_RESOLUTION_MS = 0.001  # SO_TIMESTAMPNS: nanosecond stamps, reported to the µs
UP_TARGET_S, DOWN_TARGET_S, SUITES_TARGET_S = 2.0, 0.5, 120.0


@dataclass
class Settings:
    plan: LabPlan  # the conformance lab (failover, overhead)
    sut_dir: Path
    topology: Path
    reports: Path
    clients: int
    timeout: float
    sizes: Sequence[int] | None  # --routes; None: each scenario's own sizes
    repeat: int
    suites: Sequence[str] | None = None  # overhead: which suites (None: every non-scale one)
    topotests: Path | None = None  # yardstick: FRR's tests/topotests (checked by the CLI)
    topotest_python: str = "python3"  # yardstick: the interpreter FRR's topotests run with


def _target(met: bool, target: str) -> str:
    return f"target {target}: {'met' if met else 'MISSED'}"


def throughput(s: Settings, out: Results) -> None:
    for n in s.sizes or (10_000, 50_000, 100_000):
        r = reflect(s.plan.sut, n, s.clients, s.timeout)
        p = {"routes": n, "clients": s.clients}
        out.add("throughput", "encoding (before the clock)", r.encode_s, "s", **p)
        gen = "" if r.valid else f"INVALID: generator over 1/{GENERATOR_SHARE} of the SUT's time"
        out.add("throughput", "generator complete", r.generator_s * 1000, "ms", gen, **p)
        for client, seconds in sorted(r.client_s.items()):
            out.add("throughput", f"{client} complete", seconds, "s", **p)
        note = (
            _target(r.sut_s <= REFLECT_TARGET_S, "100k to 3 clients <= 10 s")
            if (n == 100_000 and s.clients == 3)
            else ""
        )
        out.add("throughput", "last client complete", r.sut_s, "s", note, **p)
        out.add("throughput", "throughput", round(r.throughput), "routes/s", **p)
        out.add(
            "throughput",
            "generator speed-up over the SUT",
            r.sut_s / r.generator_s if r.generator_s else None,
            "x",
            _target(r.valid, f">= {GENERATOR_SHARE}x"),
            **p,
        )
        out.add("throughput", "withdraw-all", r.withdraw_s, "s", **p)


def memory(s: Settings, out: Results) -> None:
    points: list[tuple[int, int]] = []
    for n in s.sizes or (10_000, 50_000, 100_000):
        r = reflect(s.plan.sut, n, s.clients, s.timeout)
        for rr in sorted(r.rss_after):
            out.add("memory", f"{rr} bgpd RSS, empty", r.rss_before[rr] / MIB, "MiB", routes=n)
            out.add("memory", f"{rr} bgpd RSS, holding", r.rss_after[rr] / MIB, "MiB", routes=n)
            points += [(0, r.rss_before[rr]), (n, r.rss_after[rr])]
    slope, fixed = per_route(points)
    out.add("memory", "per route (least squares)", round(slope), "bytes/route")
    out.add("memory", "fixed part (intercept)", fixed / MIB, "MiB")


def failover(s: Settings, out: Results) -> None:
    for n in s.sizes or (1_000, 10_000, 100_000):
        runs = [failover_at(s.plan, n, s.timeout) for _ in range(s.repeat)]
        p = {"routes": n, "repeats": s.repeat}
        r = runs[0]
        out.add("failover", "hosts added (bridge -batch)", r.hosts_added_s, "s", **p)
        out.add("failover", "routes held per RR, before", min(r.held.values()), "routes", **p)
        _median(out, p, "detection", [x.detection_ms for x in runs], "ms")
        _median(out, p, "full redundancy", [x.full_redundancy_ms for x in runs], "ms")
        _median(
            out,
            p,
            "session to the deleted pod closed, on the wire",
            [x.wire_detection_ms for x in runs],
            "ms",
        )
        _median(
            out,
            p,
            "replacement's UPDATEs complete, on the wire",
            [x.wire_complete_ms for x in runs],
            "ms",
        )
        sizes = {x.wire_max_message for x in runs}
        size = sizes.pop() if len(sizes) == 1 else None
        out.add(
            "failover",
            "largest UPDATE from the replacement, on the wire",
            max(x.wire_largest_update for x in runs),
            "octets",
            "session maximum unknown (OPENs not captured, or sessions differ)"
            if size is None
            else f"session maximum {size} octets, from both OPENs (RFC 8654 §4)",
            **p,
        )
        low = min(x.min_held for x in runs)
        lost = "" if low >= min(r.held.values()) else "LOSS: fewer routes than before"
        out.add("failover", "fewest routes held from the best RR", low, "routes", lost, **p)
        worst = max(x.resolution_ms for x in runs)
        out.add(
            "failover",
            "resolution of bgpd's counts (largest gap between samples)",
            worst,
            "ms",
            _target(worst <= RESOLUTION_TARGET_MS, "<= 10 ms")
            + ("" if worst <= RESOLUTION_TARGET_MS else " (bgpd answers late while busy)"),
            **p,
        )
        out.add(
            "failover",
            "resolution on the wire (kernel arrival stamps)",
            WIRE_RESOLUTION_MS,
            "ms",
            _target(True, "<= 10 ms"),
            **p,
        )
        out.add("failover", "sampler lateness", max(x.lateness_ms for x in runs), "ms", **p)


def _median(
    out: Results, params: dict[str, int], name: str, values: list[float | None], unit: str
) -> None:
    got = [v for v in values if v is not None]
    value = statistics.median(got) if got else None
    note = "" if len(got) == len(values) else f"not reached in {len(values) - len(got)} run(s)"
    out.add("failover", f"{name} (median)", value, unit, note, **params)


def overhead(s: Settings, out: Results) -> None:
    o = oh.lab_cycles(s.plan, max(3, s.repeat))
    up, down = statistics.median(o.up_s), statistics.median(o.down_s)
    out.add("overhead", "lab up (median)", up, "s", _target(up <= UP_TARGET_S, "<= 2 s"))
    out.add("overhead", "lab down (median)", down, "s", _target(down <= DOWN_TARGET_S, "<= 0.5 s"))
    out.add("overhead", "observer query (median)", o.observer_query_ms, "ms")
    out.add("overhead", "RR vty query (median)", o.frr_query_ms, "ms")
    names = s.suites or [n for n in known_suites() if n not in oh.SCALE_SUITES]
    wall, waited, tests = oh.suites(
        s.sut_dir, s.topology, s.reports / "bench-suites.xml", names, s.plan.sut.values.frr
    )
    note = _target(wall <= SUITES_TARGET_S, "<= 120 s") if s.suites is None else "some suites"
    out.add("overhead", "conformance suites wall time", wall, "s", note, tests=tests)
    out.add("overhead", "waiting for daemons", waited, "s", tests=tests)
    out.add("overhead", "share waiting for daemons", 100 * waited / wall, "%", tests=tests)
    out.add("overhead", "share in the harness", 100 * (wall - waited) / wall, "%", tests=tests)
    for step, ms in oh.startup_steps(s.reports / "bench-suites.xml").items():  # issue 18
        out.add("overhead", f"start-up: {step.replace('_', ' ')}", ms, "ms", tests=tests)


def yardstick(s: Settings, out: Results) -> None:
    """Issue 18: the reflection run against FRR's bgp_rr_ibgp topotest, paired (A B A B ...):
    each one's median wall time, the median of the pairs' ratios, and the reflection runs'
    start-up steps (medians)."""
    assert s.topotests is not None, "the CLI checks --topotests"
    forwarded = ["--sut", str(s.sut_dir), "--topology", str(s.topology)]
    forwarded += ["--frr", s.plan.sut.values.frr]
    runs = ys.paired(
        s.topotests,
        s.topotest_python,
        s.reports,
        forwarded,
        pairs=max(3, s.repeat),
        timeout=s.timeout,
    )
    params = {"pairs": len(runs.ratios)}
    invalid = "; ".join(runs.failed)
    note = f"INVALID: {invalid}" if invalid else ""
    harness = statistics.median(r.wall_s for r in runs.harness)
    topotest = statistics.median(r.wall_s for r in runs.topotest)
    out.add("yardstick", "rr-harness run reflection wall (median)", harness, "s", note, **params)
    out.add(
        "yardstick", f"topotest {ys.TOPOTEST.parent} wall (median)", topotest, "s", note, **params
    )
    ratio = statistics.median(runs.ratios)
    met = _target(ratio <= ys.TARGET_RATIO, f"<= {ys.TARGET_RATIO}")
    out.add("yardstick", "reflection / topotest, paired (median)", ratio, "", note or met, **params)
    steps: dict[str, list[int]] = {}
    for i in range(len(runs.harness)):
        report = s.reports / f"yardstick-{i}.xml"
        for step, ms in (oh.startup_steps(report) if report.is_file() else {}).items():
            steps.setdefault(step, []).append(ms)
    for step, values in steps.items():
        name = f"reflection start-up: {step.replace('_', ' ')} (median)"
        out.add("yardstick", name, statistics.median(values), "ms", **params)


SCENARIOS: dict[str, Callable[[Settings, Results], None]] = {
    "throughput": throughput,
    "failover": failover,
    "memory": memory,
    "overhead": overhead,
    "yardstick": yardstick,
}
BY_DEFAULT = ("throughput", "failover", "memory", "overhead")  # the yardstick needs FRR's tests
