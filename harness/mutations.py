"""Broken SUT variants, made from a SUT profile by named edits: how a check is shown able to fail.

A conformance check that passes against everything proves nothing. Each mutation breaks one
thing the design or an RFC requires; the project's own tests run the suites against the
mutated profile and expect the matching checks to fail.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from harness.errors import InputError
from harness.model.sut import RR_TEMPLATE


@dataclass(frozen=True)
class Mutation:
    """Replace `old` (which must occur in `file`) by `new` in a copy of the profile."""

    name: str
    breaks: str  # the rule the variant violates
    file: str
    old: str
    new: str

    def apply(self, profile: Path, target: Path) -> Path:
        shutil.copytree(profile, target)
        path = target / self.file
        text = path.read_text()
        if self.old not in text:
            raise InputError(
                f"mutation {self.name}: {profile / self.file} does not contain {self.old!r}; "
                "the profile no longer has the shape this mutation edits"
            )
        path.write_text(text.replace(self.old, self.new))
        return target


CATALOGUE: tuple[Mutation, ...] = (
    Mutation(
        name="rr-without-route-reflector-client",
        breaks="RFC 4456 §6 / design 'RR FRR Configuration': clients' routes are reflected",
        file=RR_TEMPLATE,
        old="  neighbor CLIENTS route-reflector-client\n",
        new="",
    ),
)


def mutation(name: str) -> Mutation:
    for m in CATALOGUE:
        if m.name == name:
            return m
    raise InputError(f"unknown mutation {name!r} (known: {', '.join(m.name for m in CATALOGUE)})")
