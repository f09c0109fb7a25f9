"""One malformed message sent to one RR pod by the crafted client, and what followed.

The order of a probe (DESIGN pattern 5, adapted to a message that may end the session):
1. the session is Established at both ends (a precondition);
2. a valid version of the route, when the rule is about what happens to it, is announced and
   awaited at every receiver through that RR (a precondition);
3. the invariants' baseline (`invariants.baseline`), the wire witnesses' cursors;
4. the malformed message; once the RR has processed it and kept the session (`processed`), a
   valid sentinel on the same session (in the other family when the rule allows the whole
   family to be disabled: it must still get through);
5. the outcome: the session ended (a NOTIFICATION from the RR, or the connection closed), or
   the sentinel reached every receiver through that RR, so whatever the malformed message
   changed has reached them too; neither by the deadline is undecided (`PreconditionFailed`);
6. after a reset the speaker connects again at once, and the session must come back.

What the receivers hold afterwards is read by `holders` (one query per receiver); `WireLog`
reads what the crafted receivers got on the wire since a mark, every UPDATE of it decoded.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.backends.base import Lab, unready_sessions
from harness.drivers.route_server import driver_for
from harness.errors import CommandError, DaemonError, PreconditionFailed, WaitTimeout
from harness.expect import Reflector, evpn_clients
from harness.inject import Fresh, Injector, Nlri, attributes_for, key_of
from harness.model.base import Family
from harness.model.topology import Node, Role
from harness.observe import frr
from harness.observe.refusals import notification_code
from harness.observe.route import Route
from harness.observe.sessions import SessionLife
from harness.observe.wait import wait_until
from harness.observe.wire import decode_update
from harness.robustness import invariants
from harness.robustness.cases import AFI_SAFI, EVPN, IPV4, RESET, TAW, Case, Parts

RECONNECT_TIMEOUT = 10.0  # seconds for a reset session to be Established again
STEP_TIMEOUT = 5.0  # seconds for the RR to process one message (or end the session)


@dataclass
class Setting:
    """Who takes part: the crafted client sending, the RR pod it sends to, the receivers
    (every router, observer and configured non-client: each gets the client's routes)."""

    lab: Lab
    sender: Node
    rr: Reflector
    receivers: list[Node]
    timeout: float
    fresh: Fresh
    injector: Injector

    @property
    def speaker(self) -> Any:
        return self.lab.speaker(self.sender.name)

    @property
    def session(self) -> invariants.SessionKey:
        """The session under test, as the RR pod knows it."""
        return (self.rr.name, str(self.sender.interfaces[0].addresses[0].ip))

    @property
    def rr_pods(self) -> list[str]:
        return [n.name for n in self.lab.plan.route_reflectors]


def receivers_of(lab: Lab, sender: Node) -> list[Node]:
    """Everyone who gets a client's routes from the RRs (RFC 4456 §6): routers, observers,
    configured non-clients; not the sender."""
    non_clients = {n.name for rr in lab.plan.route_reflectors for n in lab.plan.non_clients(rr)}
    out = [*evpn_clients(lab), *(p for p in lab.plan.peers if p.name in non_clients)]
    return [n for n in out if n.name != sender.name and n.name not in lab.unrealised]


def holders(lab: Lab, nodes: Iterable[Node], family: Family, key: str) -> dict[str, list[Route]]:
    """The paths each node holds for one route now: one query per FRR router (the prefix's
    own detail for IPv4, the EVPN table otherwise); a harness peer's table as recorded."""
    out = {}
    for node in nodes:
        if node.role is Role.ROUTER:
            instance = lab.frr(node.name)
            if family is EVPN:
                got = frr.evpn_routes(instance.query(frr.EVPN_DETAIL), node.name)
            else:
                detail = instance.query(frr.unicast_detail(family, key))
                got = frr.unicast_routes(detail, family, node.name)
        else:
            got = [r for r in lab.peer(node.name).rib.routes() if r.family is family]
        out[node.name] = [r for r in got if r.key == key]
    return out


def missing_via(held: dict[str, list[Route]], rr: Reflector, key: str) -> list[str]:
    return [f"{key} not at {n} via {rr.name}" for n, p in held.items() if not _via(p, rr)]


def present_via(held: dict[str, list[Route]], rr: Reflector, key: str) -> list[str]:
    return [f"{key} still at {n} via {rr.name}" for n, p in held.items() if _via(p, rr)]


def _via(paths: list[Route], rr: Reflector) -> list[Route]:
    return [p for p in paths if p.peer == rr.address]


# What the harness's codec refuses but BGP does not: an RR passes these on as they are (RFC
# 4364 §4.2 defines three RD types, and an RD is opaque to a route reflector; RFC 7432 and its
# successors define EVPN route types the codec does not decode).
NOT_MALFORMED = ("route distinguisher type", "is not supported (only 2, 3 and 5)")


def codec_only(error: str) -> bool:
    """Whether the codec refused an UPDATE for a reason that is no BGP error (`NOT_MALFORMED`)."""
    return any(reason in error for reason in NOT_MALFORMED)


class WireLog:
    """What each crafted receiver recorded on the wire since the last `mark`: every UPDATE,
    decoded by the harness's strict codec (one that does not decode is kept as malformed,
    unless the codec's reason is no BGP error: `codec_only`)."""

    def __init__(self, lab: Lab, receivers: Iterable[Node]) -> None:
        self.ribs = {n.name: lab.peer(n.name).rib for n in receivers if n.role is Role.SPEAKER}
        self.offsets = {name: 0 for name in self.ribs}
        self.mark()

    def mark(self) -> None:
        for name, rib in self.ribs.items():
            self.offsets[name] += len(rib.read_since(self.offsets[name]))

    def since(self) -> tuple[dict[str, set[str]], list[str]]:
        """(receiver -> keys announced to it, malformed UPDATEs received) since the mark."""
        announced: dict[str, set[str]] = {}
        malformed = []
        for name, rib in self.ribs.items():
            text = rib.read_since(self.offsets[name]).decode(errors="replace")
            for line in text.splitlines():
                entry = _entry(line)
                if entry is None or entry.get("kind") != "update":
                    continue
                try:
                    routes, _ = decode_update(
                        bytes.fromhex(entry["hex"]), peer=entry["peer"], observed_at=name
                    )
                except ValueError as exc:
                    if not codec_only(str(exc)):
                        malformed.append(f"{name} received a malformed UPDATE: {exc}")
                    continue
                announced.setdefault(name, set()).update(r.key for r in routes)
        return announced, malformed


def _entry(line: str) -> dict[str, Any] | None:
    try:
        entry = json.loads(line)
    except ValueError:  # the last line, still being written
        return None
    return entry if isinstance(entry, dict) else None


@dataclass
class Outcome:
    """What one probe saw. `ended`: the session ended after the message (the entries the
    speaker recorded); `notifications`: (code, subcode) the RR sent; `sentinel`: the sentinel
    reached every receiver through the RR without the session ending."""

    case: Case
    route: Nlri
    key: str
    notifications: list[tuple[int, int] | None] = field(default_factory=list)
    ended: bool = False
    closed_reason: str = ""
    came_back: bool | None = None  # after an end: the session Established again
    restore_seen: str = ""  # when it did not: what the wait saw last
    sentinel: bool = False
    elapsed_ms: float = 0.0
    violations: list[str] = field(default_factory=list)  # a daemon dying while observed
    undecided: str = ""  # neither an end nor the sentinel by the deadline (and why)
    sentinel_route: tuple[Family, Nlri] | None = None
    rr_log: list[str] = field(default_factory=list)
    baseline: invariants.Baseline | None = None  # the invariants' state before the message

    seen: str = "session-kept"  # what the RR did with a kept session (`verdict` says)

    @property
    def observed(self) -> str:
        """The action seen, in RFC 7606's words (or what happened instead)."""
        if self.ended:
            codes = [f"{c[0]}/{c[1]}" for c in self.notifications if c]
            return f"session-reset {'/'.join(codes)}".strip() if codes else "session-closed"
        return self.seen


def sentinel_family(case: Case) -> Family:
    """The sentinel's family: the case's, unless the rule allows disabling the whole family
    (RFC 7606 §7.11): then the other one, which must still get through."""
    if AFI_SAFI in case.allowed:
        return IPV4 if case.family is EVPN else EVPN
    return case.family


def _listed(setting: Setting) -> str | None:
    """The session under test as the RR pod lists it (None: not listed)."""
    pod, address = setting.session
    return driver_for(setting.lab.plan).sessions(setting.lab.frr(pod)).get(address)


def _states(setting: Setting) -> tuple[str | None, str | None]:
    """The session under test as the sender sees it, and as the RR pod lists it."""
    return setting.speaker.rib.refresh().sessions.get(setting.rr.address), _listed(setting)


def await_established(setting: Setting, what: str) -> None:
    """The session under test Established at both ends (RFC 4271 §8.2.2); a precondition."""
    pod = setting.session[0]
    try:
        wait_until(
            lambda: _states(setting),
            lambda states: states == ("up", "Established"),
            timeout=RECONNECT_TIMEOUT,
            what=what,
            describe=lambda s: f"{setting.sender.name} sees {s[0]}, {pod} sees {s[1]}",
        )
    except WaitTimeout as exc:
        raise PreconditionFailed(str(exc)) from None


def await_whole(setting: Setting) -> None:
    """Every session the plan implies Established (a precondition of each case: one that
    flapped in the case before has had its time to come back)."""
    try:
        wait_until(
            lambda: unready_sessions(setting.lab),
            lambda missing: not missing,
            timeout=setting.timeout,
            what="every session of the lab to be Established before the case",
            describe=lambda missing: missing,
        )
    except WaitTimeout as exc:
        raise PreconditionFailed(str(exc)) from None
    await_established(setting, f"{setting.sender.name}'s session with {setting.rr.name}")


def withdraw(setting: Setting, outcome: Outcome) -> None:
    """Withdraw what the case announced, at once (a route an RR passed on malformed would go on
    resetting its receivers' sessions), then wait until the RR processed those UPDATEs on the
    same connection: the next case counts the UPDATEs the RR processes from its own message on
    (`processed`), and a withdrawal counted late would pass for it. `Injector.withdraw_all`
    waits for the routes to be gone at the end."""
    routes = [(outcome.case.family, outcome.route)]
    if outcome.sentinel_route is not None:
        routes.append(outcome.sentinel_route)
    driver, (pod, peer) = driver_for(setting.lab.plan), setting.session

    def life() -> SessionLife | None:
        try:
            return driver.session_lives(setting.lab.frr(pod)).get(peer)
        except CommandError:
            return None

    before, sent = life(), 0
    for family, route in routes:
        with contextlib.suppress(DaemonError):
            setting.speaker.withdraw(family, [route], peer=setting.rr.name)
            sent += 1
    if before is None or before.state != "Established" or not sent:
        return

    def counted(now: SessionLife | None) -> bool:
        return (
            now is None
            or now.connection != before.connection
            or now.updates >= before.updates + sent
        )

    with contextlib.suppress(WaitTimeout):  # the next case's own preconditions say what is left
        wait_until(life, counted, timeout=STEP_TIMEOUT, interval=0.005, what="withdrawals counted")


def announce_valid(setting: Setting, case: Case, route: Nlri) -> None:
    """The valid version of the route through the RR under test, held by every receiver."""
    attributes = attributes_for(setting.lab, setting.sender, case.family)
    setting.injector.announce(
        setting.sender.name, case.family, [route], attributes, peer=setting.rr.name
    )
    key = key_of(route)
    try:
        wait_until(
            lambda: missing_via(
                holders(setting.lab, setting.receivers, case.family, key), setting.rr, key
            ),
            lambda missing: not missing,
            timeout=setting.timeout,
            what=f"the valid version of {key} to reach every receiver via {setting.rr.name}",
            describe=lambda missing: "; ".join(missing[:6]),
        )
    except WaitTimeout as exc:
        raise PreconditionFailed(str(exc)) from None


def probe(setting: Setting, case: Case, wire: WireLog) -> Outcome:
    """Send the case's message (steps 1-6 above). A daemon of the lab dying meanwhile is a
    finding (`violations`), not an error of the harness; the invariants are judged by
    `verdict.problems`, after the routes, against `Outcome.baseline`."""
    lab, speaker, rr = setting.lab, setting.speaker, setting.rr
    await_whole(setting)
    route = setting.fresh.route(case.family)
    outcome = Outcome(case, route, key_of(route))
    if case.action in (TAW, RESET) and not case.notification:
        announce_valid(setting, case, route)
    before = invariants.baseline(lab, setting.rr_pods)
    wire.mark()
    log_mark = len(lab.frr(rr.name).log_text())
    events = len(speaker.rib.refresh().events)
    message = case.build(
        Parts(case.family, route, attributes_for(lab, setting.sender, case.family))
    )
    started = time.monotonic()
    life = before.lives.get(setting.session)
    speaker.send(message, peer=rr.name, oversize=case.oversize)
    family = sentinel_family(case)
    sentinel = setting.fresh.route(family)
    outcome.sentinel_route = (family, sentinel)
    try:
        if processed(lab, setting.session, life, lambda: _ends(setting, events)):
            setting.injector.announce(  # only now: into a closing connection, it would be
                setting.sender.name,  # answered with a reset that can take the RR's
                family,  # NOTIFICATION with it
                [sentinel],
                attributes_for(lab, setting.sender, family),
                peer=rr.name,
            )
        _await_outcome(setting, outcome, events, family, key_of(sentinel))
    except DaemonError as exc:
        outcome.violations.append(f"a daemon of the lab died: {exc}")
    except WaitTimeout as exc:  # judged with the invariants: a flap is why, or nothing is
        outcome.undecided = f"{case.name}: the message's effect is undecided: {exc}"
    outcome.elapsed_ms = round((time.monotonic() - started) * 1000, 1)
    if outcome.ended and not outcome.violations:
        outcome.came_back = _restore(setting, outcome)
    outcome.baseline = before
    outcome.rr_log = _new_lines(lab.frr(rr.name).log_text()[log_mark:])
    return outcome


def processed(
    lab: Lab,
    session: invariants.SessionKey,
    before: SessionLife | None,
    ended: Callable[[], bool],
    timeout: float = STEP_TIMEOUT,
) -> bool:
    """Whether the RR pod processed the message just sent on `session` and kept the session
    (the same connection, one UPDATE more counted: bgpd counts it as it processes it, and
    answers its vty only between two such steps), rather than ended it (`ended()`: the sender
    saw the end; or the RR shows the session down, gone, or another connection). The caller
    sends its sentinel only after this: sent into a connection the RR is closing, it would be
    answered with a TCP reset, which can take the RR's NOTIFICATION with it unread."""
    driver = driver_for(lab.plan)
    pod, peer = session

    def look() -> bool | None:
        if ended():
            return False
        try:
            now = driver.session_lives(lab.frr(pod)).get(peer)
        except CommandError:  # a daemon that died meanwhile is said as such
            lab.frr(pod).check_alive()
            raise
        if before is None or now is None or now.state != "Established":
            return False
        if now.connection != before.connection:
            return False
        return True if now.updates > before.updates else None

    return bool(
        wait_until(
            look,
            lambda seen: seen is not None,
            timeout=timeout,
            interval=0.005,
            what=f"{pod} to process the message, or to end the session with {peer}",
            describe=lambda _: "neither",
            fail_fast=lab.frr(pod).check_alive,
        )
    )


def _ends(setting: Setting, events: int) -> bool:
    """The sender recorded a NOTIFICATION from the RR or the session's end since `events`."""
    return any(
        e["peer"] == setting.rr.address
        and (e["kind"] == "notification" or e.get("state") == "down")
        for e in setting.speaker.rib.refresh().events[events:]
    )


def _await_outcome(
    setting: Setting, outcome: Outcome, events: int, family: Family, sentinel: str
) -> None:
    speaker, rr = setting.speaker, setting.rr

    def look() -> tuple[list[dict[str, Any]], list[str]]:
        ended = [
            e
            for e in speaker.rib.refresh().events[events:]
            if e["peer"] == rr.address and (e["kind"] == "notification" or e.get("state") == "down")
        ]
        if ended:
            return ended, []
        return [], missing_via(
            holders(setting.lab, setting.receivers, family, sentinel), rr, sentinel
        )

    ended, _ = wait_until(
        look,
        lambda seen: bool(seen[0]) or not seen[1],
        timeout=setting.timeout,
        what=f"{rr.name} to end the session, or the sentinel {sentinel} to reach every "
        f"receiver through it",
        describe=lambda seen: "; ".join(seen[1][:6]) or seen[0],
        fail_fast=lambda: setting.lab.frr(rr.name).check_alive(),
    )
    if not ended:
        outcome.sentinel = True
        return
    outcome.ended = True
    wait_until(  # the end of the connection follows its NOTIFICATION (RFC 4271 §4.5)
        lambda: [
            e
            for e in speaker.rib.refresh().events[events:]
            if e["peer"] == rr.address and e.get("state") == "down"
        ],
        timeout=setting.timeout,
        what=f"{setting.sender.name} to record the end of its session with {rr.name}",
    )
    for entry in speaker.rib.events[events:]:
        if entry["peer"] != rr.address:
            continue
        if entry["kind"] == "notification":
            outcome.notifications.append(notification_code(bytes.fromhex(entry["hex"])))
        elif entry.get("state") == "down" and not outcome.closed_reason:
            outcome.closed_reason = f"{entry.get('closed_by')}: {entry.get('reason')}"


def _restore(setting: Setting, outcome: Outcome) -> bool:
    """Connect again once the RR pod has let go of the ended session (a peer's ConnectRetry
    would wait longer; reconnecting 1 ms after the NOTIFICATION, while bgpd was still
    deleting the dynamic peer, once left the new session out of its listing), then await
    Established at both ends: whether it came back. What was last seen is kept as evidence."""
    with contextlib.suppress(WaitTimeout):  # still listed as Established: try anyway
        wait_until(
            lambda: _listed(setting),
            lambda listed: listed != "Established",
            timeout=RECONNECT_TIMEOUT,
            what=f"{setting.rr.name} to end its session with {setting.sender.name}",
        )
    with contextlib.suppress(DaemonError):  # already connecting, or up
        setting.speaker.reconnect(setting.rr.name)
    try:
        await_established(
            setting, f"{setting.sender.name}'s session with {setting.rr.name} to come back"
        )
    except PreconditionFailed as exc:
        outcome.restore_seen = str(exc)
        return False
    return True


def _new_lines(text: str, limit: int = 4) -> list[str]:
    """The RR's own account of the message: its error and NOTIFICATION lines."""
    words = ("error", "malformed", "notification", "attribute", "length", "withdraw")
    lines = [line.strip() for line in text.splitlines() if any(w in line.lower() for w in words)]
    return lines[:limit]
