"""The check that closes every suite: the SUT's daemons survived it (issue: crash detection).

A suite can pass while a daemon of the SUT crashed and came back in between (watchfrr does that
inside a container, and the pod's restart count stays 0): every conformance suite therefore
ends with one more check, `sut_daemons_survived`, which fails naming each daemon that died or
left a crash record during the suite, with the record as evidence (the lab's
`daemon_crashes()`, harness/runtime/crashes.py). Each record is reported once, by the suite
during which it appeared.
"""

from __future__ import annotations

import pytest

from harness.backends.base import Lab
from harness.paths import SUITES_DIR

CHECK = "sut_daemons_survived"
_SEEN = pytest.StashKey[set[str]]()


def sut_daemons_survived(lab: Lab, pytestconfig: pytest.Config) -> None:
    """After the suite: every daemon of the SUT runs with the PID it started with (or the
    harness ended it, as a drill does), and none left a crash record."""
    seen = pytestconfig.stash.setdefault(_SEEN, set())
    new = [problem for problem in lab.daemon_crashes() if problem not in seen]
    seen.update(new)
    assert not new, "a daemon of the SUT died or crashed during this suite:\n" + "\n".join(new)


def close_every_suite(items: list[pytest.Item]) -> None:
    """Append the check after the last test of each suite module (in the order they run)."""
    last: dict[pytest.Module, int] = {}
    for index, item in enumerate(items):
        module = item.getparent(pytest.Module)
        if module is not None and module.path.is_relative_to(SUITES_DIR):
            last[module] = index
    for module, index in sorted(last.items(), key=lambda m: m[1], reverse=True):
        check = pytest.Function.from_parent(module, name=CHECK, callobj=sut_daemons_survived)
        items.insert(index + 1, check)
