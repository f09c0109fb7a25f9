"""The conformance suites by name: `suites/test_allowas_in.py` is `allowas-in`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.errors import InputError
from harness.paths import SUITES_DIR


def known_suites() -> dict[str, Path]:
    """Suite name -> file (`allowas_in` is accepted for `allowas-in` too)."""
    return {
        p.stem.removeprefix("test_").replace("_", "-"): p
        for p in sorted(SUITES_DIR.glob("test_*.py"))
    }


def resolve_suites(names: Sequence[str]) -> list[Path]:
    """Suite names or test files -> files (every suite when `names` is empty)."""
    suites = known_suites()
    if not names:
        return list(suites.values())
    chosen = []
    for name in names:
        path = Path(name)
        if name.replace("_", "-") in suites:
            chosen.append(suites[name.replace("_", "-")])
        elif path.suffix == ".py" and path.is_file():
            chosen.append(path.resolve())
        else:
            raise InputError(f"unknown suite {name!r} (known: {', '.join(suites)})")
    return chosen


def project_suites_only(suites: Sequence[Path]) -> bool:
    """Whether every file of a run is one of the project's suites (not a test file of the
    user's): `rr-harness run` gives those a lean pytest (harness.cli.pytest_args)."""
    return all(s.is_relative_to(SUITES_DIR) for s in suites)
