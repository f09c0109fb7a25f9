"""Every consequence of one malformed message, judged as a list of problems (none: it was
handled as its rule asks).

- the action (RFC 7606 §2): treat-as-withdraw (the valid version sent earlier is withdrawn at
  every receiver, the session kept), attribute discard (the route reflected without the
  attribute), pass-on (reflected with the attribute, Partial set: RFC 4271 §9), session reset
  (a NOTIFICATION, with the code/subcode the rule names, and the session back), or AFI/SAFI
  disable where the rule allows it (the session kept, the family's routes withdrawn);
- nothing malformed reflected: a route the rule says must not be installed reaches no receiver
  (the crafted receivers' wire since the message, every receiver's table, the RR's Adj-RIB-Out
  towards each), and no receiver got an UPDATE that does not decode;
- the invariants (`invariants.violations`): the RR pods' daemons alive with the same PID and
  no crash record, every other session of the RR pods the same Established session.

A problem that says `session reset` where the rule asks for another action starts with
`RESET_INSTEAD`, so a known deviation of the SUT's version can tell it apart.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.backends.base import advertised
from harness.bgp.attribute_codes import AGGREGATOR, ATOMIC_AGGREGATE, MED, PARTIAL
from harness.errors import CommandError, PreconditionFailed, WaitTimeout
from harness.model.topology import Role
from harness.observe.route import Route
from harness.observe.wait import wait_until
from harness.robustness import invariants
from harness.robustness.cases import AFI_SAFI, DISCARD, FIRST_MED, PASS, RESET, TAW, Case
from harness.robustness.probe import (
    Outcome,
    Setting,
    WireLog,
    holders,
    missing_via,
    present_via,
)

RESET_INSTEAD = "session reset"


def problems(setting: Setting, outcome: Outcome, wire: WireLog) -> list[str]:
    """Every problem of the case's outcome: the action, leaks, the invariants."""
    case = outcome.case
    out = list(outcome.violations)
    if outcome.undecided:  # broken invariants say why; without any, nothing was decided
        found = out + _invariants(setting, outcome) + wire.since()[1]
        if not found:
            raise PreconditionFailed(outcome.undecided)
        return [*found, outcome.undecided]
    if not out:  # a daemon that died leaves nothing else to judge
        action = _action(setting, outcome)
        out += action
        if not outcome.ended:
            outcome.seen = _seen(case, action)
    announced, malformed = wire.since()
    if case.action not in (DISCARD, PASS):
        out += [
            f"{outcome.key} was announced to {name} after the malformed message"
            for name, keys in sorted(announced.items())
            if outcome.key in keys
        ]
    return out + malformed + _invariants(setting, outcome)


def _invariants(setting: Setting, outcome: Outcome) -> list[str]:
    if outcome.baseline is None:
        return []
    return invariants.violations(setting.lab, outcome.baseline, exempt=[setting.session])


def _action(setting: Setting, outcome: Outcome) -> list[str]:
    case = outcome.case
    if case.action in (DISCARD, PASS):
        return _ended(outcome) if outcome.ended else _reflected(setting, outcome)
    gone = _gone(setting, outcome)  # whatever ended it, the route is nowhere afterwards
    if outcome.ended:
        return _ended(outcome) + gone
    if case.action is TAW:
        return gone
    if AFI_SAFI in case.also:  # kept: the family disabled, its routes from the client gone
        if gone:
            return [
                f"the session was kept, where {case.rfc} asks for a session reset or AFI/SAFI "
                f"disable (the family's routes withdrawn): {'; '.join(gone[:4])}"
            ]
        return []
    want = "/".join(map(str, case.notification)) if case.notification else "any"
    return [f"the session was kept, where {case.rfc} asks for a session reset ({want})"]


def _seen(case: Case, action: list[str]) -> str:
    """The action the RR took, in RFC 7606's words, when it kept the session."""
    if action:
        return f"session kept: {action[0]}"
    return str(AFI_SAFI if case.action is RESET else case.action)


def _ended(outcome: Outcome) -> list[str]:
    case = outcome.case
    out = []
    if outcome.came_back is False:
        out.append(f"the session did not come back after its reset ({outcome.restore_seen})")
    codes = [c for c in outcome.notifications if c is not None]
    if not codes and "reset" in outcome.closed_reason.lower():
        raise PreconditionFailed(  # RFC 793: a reset discards what the receiver had not read
            f"{case.name}: the RR's end of the session came as a TCP reset "
            f"({outcome.closed_reason}), which may have discarded its NOTIFICATION unread: "
            "what it sent is undecided"
        )
    if not codes:
        out.append(
            f"the RR ended the session without a NOTIFICATION ({outcome.closed_reason}); "
            "RFC 4271 §6: an error is reported by NOTIFICATION before closing"
        )
        return out
    got = "/".join(map(str, codes[0]))
    if RESET not in case.allowed:
        out.insert(
            0,
            f"{RESET_INSTEAD} by NOTIFICATION {got} where {case.rfc} asks for "
            f"{case.action} ({case.what})",
        )
    elif case.notification and codes[0] != case.notification:
        want = "/".join(map(str, case.notification))
        out.append(f"NOTIFICATION {got}, where {case.rfc} names {want} ({case.what})")
    return out


def _gone(setting: Setting, outcome: Outcome) -> list[str]:
    """The route (a valid version sent earlier, the malformed one) is at no receiver and in
    the RR's Adj-RIB-Out towards none (RFC 7606 §2), by the deadline: the withdrawal is the
    rule's, so a miss is a failure."""
    lab, rr, key = setting.lab, setting.rr, outcome.key
    family = outcome.case.family
    addresses = {n.name: str(lab.plan.cluster_ip(n)) for n in setting.receivers}

    def still() -> list[str]:
        held = present_via(holders(lab, setting.receivers, family, key), rr, key)
        for name, address in addresses.items():
            try:
                out = advertised(lab, rr.name, address, family)
            except CommandError:  # no such neighbor (now): nothing advertised to it
                continue
            if out is not None and key in out:
                held.append(f"{key} in {rr.name}'s Adj-RIB-Out towards {name}")
        return held

    return _poll(still, f"{key} to be withdrawn at every receiver", setting.timeout)


def _reflected(setting: Setting, outcome: Outcome) -> list[str]:
    """Attribute discard, pass-on: reflected to every receiver, the attribute as the rule
    says, by the deadline."""
    case = outcome.case
    check = _ATTRIBUTE_CHECKS.get((case.action, case.attribute)) or _unknown_check(case)
    roles = {n.name: n.role for n in setting.receivers}

    def wrong(held: dict[str, list[Route]]) -> list[str]:
        out = missing_via(held, setting.rr, outcome.key)
        for node, paths in held.items():
            for path in paths:
                if path.peer == setting.rr.address:
                    out += [f"at {node}: {p}" for p in check(case, path, roles[node])]
        return out

    family = case.family
    return _poll(
        lambda: wrong(holders(setting.lab, setting.receivers, family, outcome.key)),
        f"{outcome.key} reflected as {case.rfc} asks",
        setting.timeout,
    )


def _poll(look: Callable[[], list[str]], what: str, timeout: float) -> list[str]:
    """Poll until `look` finds no problem; the problems left at the deadline."""
    try:
        wait_until(look, lambda found: not found, timeout=timeout, what=what, describe=list)
    except WaitTimeout as exc:
        return list(exc.last)  # type: ignore[call-overload]
    return []


# (case, the reflected path, the receiver's role: a crafted speaker shows the wire, flags and
# all; ExaBGP unknown attributes without their Partial bit; FRR no unknown attribute at all)
AttributeCheck = Callable[[Case, Route, Role], list[str]]


def _lacks(name: str, get: Callable[[Route], object]) -> AttributeCheck:
    def check(case: Case, route: Route, _role: Role) -> list[str]:
        value = get(route)
        return [f"{name} {value!r} reflected, where {case.rfc} discards it"] if value else []

    return check


def _first_med(case: Case, route: Route, _role: Role) -> list[str]:
    if route.med == FIRST_MED:
        return []
    return [f"MED {route.med}, where {case.rfc} keeps the first ({FIRST_MED}) of two"]


def _unknown_dropped(case: Case, route: Route, _role: Role) -> list[str]:
    kept = [u for u in route.unknown if u[1] == case.attribute]
    return (
        [f"attribute {case.attribute} reflected {kept}, where {case.rfc} drops it"] if kept else []
    )


def _unknown_passed_on(case: Case, route: Route, role: Role) -> list[str]:
    """Reflected with the attribute; on the wire, its Partial bit set (RFC 4271 §9). FRR
    shows no unknown attribute at all (`Route.unknown` empty): judged where it is seen."""
    kept = [u for u in route.unknown if u[1] == case.attribute]
    if role is Role.ROUTER:
        return []
    if not kept:
        return [f"attribute {case.attribute} missing, where {case.rfc} passes it on"]
    if role is Role.SPEAKER and not kept[0][0] & PARTIAL:
        return [f"attribute {case.attribute} with flags {kept[0][0]:#04x}: Partial not set"]
    return []


_ATTRIBUTE_CHECKS: dict[tuple[object, int | None], AttributeCheck] = {
    (DISCARD, ATOMIC_AGGREGATE): _lacks("ATOMIC_AGGREGATE", lambda r: r.atomic_aggregate),
    (DISCARD, AGGREGATOR): _lacks("AGGREGATOR", lambda r: r.aggregator),
    (DISCARD, MED): _first_med,
}


def _unknown_check(case: Case) -> AttributeCheck:
    return _unknown_passed_on if case.action is PASS else _unknown_dropped
