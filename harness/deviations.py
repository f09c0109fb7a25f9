"""Known deviations of named implementations and versions from an RFC: each is an expected
failure with its evidence, and a strict one.

A check that meets a known deviation of the SUT's implementation and version reports it as an
expected failure (xfail) only when everything it found is that deviation; anything else is an
ordinary failure. When the deviation is declared for the SUT's version but no longer seen, the
check fails, saying so: the table below must follow the software, not the other way round.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from harness.backends.base import Lab, implementation


@dataclass(frozen=True)
class Deviation:
    name: str
    implementation: str  # the driver's name (sut.yaml `implementation`)
    versions: tuple[str, ...]  # version prefixes it was measured on ("8.4" covers 8.4.4)
    rule: str  # what the RFC asks
    evidence: str  # what was measured, and where

    def applies(self, name: str, version: str) -> bool:
        return name == self.implementation and version.startswith(self.versions)


KNOWN: tuple[Deviation, ...] = (
    Deviation(
        "med-zero-added",
        "frr",
        ("8.4",),
        "RFC 4456 §10: a reflected route keeps its attributes; one sent without MED arrives "
        "without MED",
        "FRR 8.4.4 reflects a route sent without MED with MED 0: measured on the wire at a "
        "non-client and in the clients' tables (tests/data/frr-reflected-attributes.hex)",
    ),
)


def judge(
    lab: Lab,
    name: str,
    problems: list[str],
    deviant: Callable[[str], bool],
    *,
    exposed: bool = True,
) -> None:
    """The final verdict of a check whose `problems` may be known deviation `name` (`deviant`
    tells its problems apart): xfail when they all are and it applies to the SUT, a failure
    for anything else, and a failure when it applies but was not seen. `exposed`: whether what
    the check sent could show the deviation at all (e.g. a route sent without MED); when not,
    the check is judged as any other."""
    deviation = next(d for d in KNOWN if d.name == name)
    impl, version = implementation(lab)
    if exposed and deviation.applies(impl, version):
        assert problems, (
            f"known deviation {name} of {impl} {version} no longer seen ({deviation.rule}): "
            "remove it from harness/deviations.py"
        )
        seen = [p for p in problems if deviant(p)]
        if len(seen) == len(problems):
            pytest.xfail(
                f"known deviation of {impl} {version}: {deviation.evidence}; "
                f"{deviation.rule}. Seen: {seen[0]}"
                + (f" (and {len(seen) - 1} more)" if len(seen) > 1 else "")
            )
    assert not problems, "\n".join(problems)
