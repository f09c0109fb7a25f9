"""Bench results: every figure with its unit, shown as a table and written as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Figure:
    scenario: str
    name: str
    value: float | int | str | None
    unit: str
    params: dict[str, Any] = field(default_factory=dict)  # e.g. {"routes": 100000}
    note: str = ""  # why a result is invalid, what limited it


@dataclass
class Results:
    figures: list[Figure] = field(default_factory=list)

    def add(
        self, scenario: str, name: str, value: Any, unit: str, note: str = "", **params: Any
    ) -> None:
        if isinstance(value, float):
            value = round(value, 3)
        self.figures.append(Figure(scenario, name, value, unit, params, note))

    def write(
        self, path: Path, machine: dict[str, Any], software: dict[str, Any] | None = None
    ) -> Path:
        """`software`: what was measured (`implementation`, `frr_version`, `frr_source`)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {
            **(software or {}),
            "machine": machine,
            "figures": [asdict(f) for f in self.figures],
        }
        path.write_text(json.dumps(body, indent=1) + "\n")
        return path

    def table(self) -> str:
        """One line per figure: scenario, parameters, name, value and unit, and any note."""
        rows = [("scenario", "parameters", "figure", "value", "")]
        for f in self.figures:
            params = " ".join(f"{k}={v}" for k, v in f.params.items())
            value = f"{f.value:,}" if isinstance(f.value, int) else str(f.value)
            rows.append((f.scenario, params, f.name, f"{value} {f.unit}".strip(), f.note))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = []
        for r in rows:
            cells = [r[i].ljust(widths[i]) if i != 3 else r[i].rjust(widths[i]) for i in range(4)]
            lines.append("  ".join(cells) + (f"  {r[4]}" if r[4] else ""))
        return "\n".join(lines)
