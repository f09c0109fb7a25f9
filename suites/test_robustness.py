"""RFC 7606 error handling at the route reflector: one malformed UPDATE from one client must not
crash the RR, reset another session, or reach any other client (issue 15).

Each case (harness/robustness/cases.py: a valid UPDATE changed in one place, the RFC section it
breaks, the action that section asks for) is sent by the crafted client over iBGP to one RR pod,
then a valid sentinel on the same session. Every consequence is checked
(harness/robustness/verdict.py):
- the action: treat-as-withdraw (a valid version sent before is withdrawn at every receiver,
  the session kept), attribute discard (reflected without the attribute), pass-on (an
  unrecognised optional transitive attribute reflected with Partial set, RFC 4271 §9),
  session reset (the NOTIFICATION's code/subcode recorded, JUnit property `notification`, and
  the session back), or AFI/SAFI disable where RFC 7606 §7.11 allows it;
- the malformed route reaches no receiver (routers, observer, non-clients: tables, wire, the
  RR's Adj-RIB-Out), and no receiver gets an UPDATE that does not decode;
- every daemon of the RR pods runs with the PID it had, with no crash record; every other
  session of the RR pods is the same Established session as before.

A known deviation of the SUT's implementation and version (harness/deviations.py: FRR 8.4
resets iBGP sessions where RFC 7606 asks for treat-as-withdraw or attribute discard) is a
strict expected failure with its evidence. Each case uses fresh routes; a reset session is
Established again before the next case (a precondition).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.deviations import for_case, judge
from harness.expect import reflectors, require_node
from harness.inject import Fresh, Injector
from harness.model.actors import Actor
from harness.robustness.cases import CASES, DISCARD, PASS, RESET, TAW, Case
from harness.robustness.probe import Setting, WireLog, probe, receivers_of, withdraw
from harness.robustness.verdict import RESET_INSTEAD, problems

pytestmark = [
    pytest.mark.actors(Actor.CLIENT, Actor.OBSERVER),
    pytest.mark.sut_kind("standalone-rr"),
    pytest.mark.requires("daemon-pids"),
]


def _reset_instead(problem: str) -> bool:
    return problem.startswith(RESET_INSTEAD)


# How a deviation's problems read (harness/deviations.py), when not a session reset instead of
# the rule's action.
DEVIANT = {
    "partial-bit-not-set": lambda problem: problem.endswith(": Partial not set"),
    "evpn-treat-as-withdraw-keeps-the-route": lambda problem: (
        " still at " in problem or "Adj-RIB-Out" in problem
    ),
    "unrecognised-well-known-treated-as-withdraw": lambda problem: problem.startswith(
        "the session was kept"
    ),
    "closes-without-notification": lambda problem: problem.startswith(
        "the RR ended the session without a NOTIFICATION"
    ),
}


def _cases(*actions: object) -> list[Case]:
    return [c for c in CASES if c.action in actions]


@pytest.fixture(scope="module")
def rig(lab, convergence_timeout) -> Iterator[tuple[Setting, WireLog]]:
    """The crafted client sending to the first RR pod, every receiver of its routes, and the
    wire of the crafted receivers; what the cases announced is withdrawn at the end."""
    client = require_node(lab, "client", "a crafted iBGP client of the route reflectors")
    injector = Injector(lab)
    setting = Setting(
        lab=lab,
        sender=client,
        rr=reflectors(lab)[0],
        receivers=receivers_of(lab, client),
        timeout=convergence_timeout,
        fresh=Fresh.of(lab, client),
        injector=injector,
    )
    yield setting, WireLog(lab, setting.receivers)
    injector.withdraw_all(convergence_timeout)


def _run(rig: tuple[Setting, WireLog], case: Case, record_property) -> None:
    setting, wire = rig
    outcome = probe(setting, case, wire)
    try:
        found = problems(setting, outcome, wire)
    finally:
        withdraw(setting, outcome)
    codes = [f"{c[0]}/{c[1]}" for c in outcome.notifications if c]
    for name, value in {
        "rfc": case.rfc,
        "malformed": case.what,
        "expected": " or ".join(case.allowed),
        "observed": outcome.observed,
        "notification": " ".join(codes) or "none",
        "elapsed_ms": outcome.elapsed_ms,
        "evidence": " | ".join(outcome.rr_log) or "(no line in the RR's log)",
    }.items():
        record_property(name, value)
    deviation = for_case(setting.lab, case.name)
    if deviation is not None:
        judge(setting.lab, deviation.name, found, DEVIANT.get(deviation.name, _reset_instead))
    assert not found, "\n".join(found)


@pytest.mark.parametrize("case", _cases(TAW), ids=lambda c: c.name)
def test_treat_as_withdraw(rig, case, record_property):
    """RFC 7606 §2 "treat-as-withdraw" (§3 c-d, §4, §7.1-§7.5, §7.8-§7.10, §7.14, RFC 8092
    §5): the routes of the UPDATE are withdrawn, a valid version sent before included, at every
    receiver; the session stays up; nothing else moves."""
    _run(rig, case, record_property)


@pytest.mark.parametrize("case", _cases(DISCARD), ids=lambda c: c.name)
def test_attribute_discard(rig, case, record_property):
    """RFC 7606 §2 "attribute discard" (§3 g, §7.6, §7.7; RFC 4271 §5 for an unrecognised
    optional non-transitive attribute): the route is reflected to every receiver without the
    attribute (of a repeated one, the first kept); the session stays up."""
    _run(rig, case, record_property)


@pytest.mark.parametrize("case", _cases(PASS), ids=lambda c: c.name)
def test_passed_on_with_partial(rig, case, record_property):
    """RFC 4271 §5, §9: an unrecognised optional transitive attribute is passed on, its
    Partial bit set (judged on the wire at the non-clients)."""
    _run(rig, case, record_property)


@pytest.mark.parametrize("case", _cases(RESET), ids=lambda c: c.name)
def test_session_reset(rig, case, record_property):
    """RFC 7606 §3 g, §5.3, §7.11; RFC 4271 §6.1, §6.3; RFC 8654 §4: what cannot be parsed
    reliably ends the session with a NOTIFICATION (its code/subcode where the rule names one;
    MP_REACH_NLRI errors may disable the family instead), and the session comes back."""
    _run(rig, case, record_property)
