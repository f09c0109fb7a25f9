"""A drill taken `--repeat` times, an undecided attempt taken again.

An attempt whose sampled witness could not corroborate the wire (`WitnessUndecided`: a sample
with an error, or a gap wider than `witness.GAP_BOUND`, inside the fault window) is no evidence
either way: it is neither a pass nor a failure of the SUT. It is taken again, at most
UNDECIDED_RETAKES times per check, every retake on the record; past that the check is an error
of the harness (issue 13: "a sampling gap ... inside a failover fault window" is an error).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from harness.errors import WitnessUndecided
from harness.log import logger

UNDECIDED_RETAKES = 2

_log = logger("failover")
Run = TypeVar("Run")


@dataclass
class Attempts(Generic[Run]):
    runs: list[Run] = field(default_factory=list)
    undecided: list[str] = field(default_factory=list)  # "attempt N: why", in order


def take(
    drill: Callable[[], Run], repeat: int, what: str, retakes: int = UNDECIDED_RETAKES
) -> Attempts[Run]:
    """`repeat` decided runs of `drill`; WitnessUndecided, naming every undecided attempt,
    once more than `retakes` were undecided."""
    out: Attempts[Run] = Attempts()
    while len(out.runs) < repeat:
        try:
            out.runs.append(drill())
        except WitnessUndecided as exc:
            out.undecided.append(f"attempt {len(out.runs) + len(out.undecided) + 1}: {exc}")
            if len(out.undecided) > retakes:
                raise WitnessUndecided(
                    f"{len(out.undecided)} attempts undecided: " + "; ".join(out.undecided)
                ) from exc
            _log.warning("%s: an attempt undecided, taken again: %s", what, exc)
    return out
