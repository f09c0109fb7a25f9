"""Failover figures for reviewers: per drill, the measures of every repeat, their p50/p95/max,
a JSON file beside the JUnit report (`<report>-failover.json`), and the timeline figure of the
first repeat (`<report>-failover/<test>.png`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.failover import measures as m
from harness.failover.drills import DrillRun
from harness.failover.figure import draw

MEASURES = (
    "detection_ms",
    "loss_window_ms",
    "wire_loss_window_ms",
    "replacement_ready_ms",
    "established_ms",
    "full_redundancy_ms",
    "harness_done_ms",
    "sut_full_redundancy_ms",
    "resolution_ms",
)
MAX_LOSSES_KEPT = 20


@dataclass
class FailoverReport:
    junit: Path  # the JUnit report; the JSON file and the figures go beside it
    run_id: str = ""  # the run's: a report beside another run's JUnit file is told apart
    routes_added: int = 0
    drills: dict[str, Any] = field(default_factory=dict)
    software: dict[str, str] = field(default_factory=dict)  # implementation, frr_version, ...

    def add(self, test_id: str, runs: list[DrillRun]) -> dict[str, Any]:
        """Record one test's repeats; returns the JUnit properties for it."""
        first = runs[0]
        summary = {k: m.percentiles(getattr(o.measures, k) for o in runs) for k in MEASURES}
        figure = draw(
            first, self.junit.with_name(f"{self.junit.stem}-failover") / f"{_slug(test_id)}.png"
        )
        self.drills[test_id] = {
            "scenario": first.scenario,
            "variant": first.variant,
            "repeats": [
                {
                    **o.measures.as_dict(),
                    "problems": o.problems,
                    "losses": [str(loss) for loss in o.losses[:MAX_LOSSES_KEPT]],
                    "losses_total": len(o.losses),
                    "stale_routes_seen": o.stale_kept,
                    "wire_losses": [str(loss) for loss in o.wire_losses[:MAX_LOSSES_KEPT]],
                    "wire_losses_total": len(o.wire_losses),
                    "witnesses_agree": (not o.disagreements) if o.wire else None,
                    "disagreements": o.disagreements[:MAX_LOSSES_KEPT],
                    "harness_ms": o.harness_ms,
                }
                for o in runs
            ],
            "summary": summary,
            "figure": str(figure),
        }
        self.write()
        properties: dict[str, Any] = {"repeats": len(runs), "figure": str(figure)}
        for measure, stats in summary.items():
            for stat in ("p50", "p95", "max"):
                properties[f"{measure.removesuffix('_ms')}_{stat}_ms"] = stats[stat]
        properties["sampler_lateness_max_ms"] = max(o.measures.sampler_lateness_ms for o in runs)
        disagreements = [f"run {i + 1}: {d}" for i, o in enumerate(runs) for d in o.disagreements]
        if not all(o.wire for o in runs):
            properties["witnesses_agree"] = "n/a: no wire capture on this backend (samples only)"
        else:
            properties["witnesses_agree"] = "true" if not disagreements else "false"
        if disagreements:
            properties["witnesses_disagreement"] = "; ".join(disagreements[:MAX_LOSSES_KEPT])
        for step in sorted({k for o in runs for k in o.harness_ms}):
            properties[f"harness_{step.replace('-', '_')}_max_ms"] = max(
                o.harness_ms.get(step, 0.0) for o in runs
            )
        self.drills[test_id]["witnesses_agree"] = not disagreements
        self.write()
        return properties

    def write(self) -> Path:
        path = self.junit.with_name(f"{self.junit.stem}-failover.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {
            "run_id": self.run_id,
            **self.software,
            "unit": "ms",
            "routes_added": self.routes_added,
            "drills": self.drills,
        }
        path.write_text(json.dumps(body, indent=1) + "\n")
        return path


def _slug(test_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in test_id).strip("-")
