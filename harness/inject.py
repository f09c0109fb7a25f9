"""Routes the suites inject through crafted speakers, and the sentinel that proves absence.

DESIGN pattern 5 (FRR's RFC 7606 tests): to show that a route was *not* propagated, send it,
then send a sentinel route on the same session; the receiver processes UPDATEs of a session in
order, so once the sentinel has arrived the route under test was processed too, and its absence
is a fact rather than a timeout. `Injector` remembers what a test announced and withdraws it
afterwards (DESIGN pattern 8: a cheap per-test reset of a shared lab).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from harness.backends.base import Lab, routes
from harness.bgp.evpn import EvpnRoute, MacIpRoute
from harness.drivers.route_server import FrrRouteServer, RouteServerDriver, driver_for
from harness.errors import DaemonError, InputError, PreconditionFailed, WaitTimeout
from harness.expect import await_tables, missing_reflections, reflectors
from harness.model.base import Family
from harness.model.plan import LabPlan
from harness.model.topology import Node, Role
from harness.observe.route import RouteTable
from harness.observe.wait import await_no_problems, wait_until

if TYPE_CHECKING:
    from harness.bgp.attributes import Attributes

Nlri = str | EvpnRoute
FRR = FrrRouteServer()  # the routers' daemon, whatever the RR pods run
_serial = itertools.count(1)


def evpn_vni(plan: LabPlan) -> int:
    """The VNI crafted EVPN routes belong to: the routers' (topology), so the routers import
    them by its route target (FRR's auto RT, ASN:VNI)."""
    vnis = [r.evpn.vni for r in plan.routers if r.evpn is not None]
    if not vnis:
        raise InputError(f"{plan.topology.name}: no router has a VNI for crafted EVPN routes")
    return vnis[0]


def key_of(route: Nlri) -> str:
    return route if isinstance(route, str) else route.key


def needle(route: Nlri) -> str:
    """How FRR's log names the route (`DENIED` lines): the prefix, or the MAC of an EVPN one."""
    if isinstance(route, str):
        return route
    return getattr(route, "mac", None) or route.key


@dataclass
class Fresh:
    """Routes no other test uses: unique prefixes and MACs, derived from the speaker's address;
    EVPN ones in `vni` (RD `<speaker>:<vni>`, the VNI as label, RFC 8365 §5.1.3)."""

    speaker: Node
    vni: int

    @classmethod
    def of(cls, lab: Lab, speaker: Node) -> Fresh:
        return cls(speaker, evpn_vni(lab.plan))

    def ipv4(self) -> str:
        n = next(_serial)
        return f"10.{66 + n // 250}.{n % 250}.0/24"

    def evpn(self) -> MacIpRoute:
        n = next(_serial)
        octets = self.speaker.interfaces[0].addresses[0].ip.packed[-2:]
        mac = "02:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}".format(
            *octets, n >> 16, (n >> 8) & 255, n & 255
        )
        rd = f"{self.speaker.interfaces[0].addresses[0].ip}:{self.vni}"
        return MacIpRoute(rd=rd, mac=mac, label=self.vni)

    def route(self, family: Family) -> Nlri:
        return self.evpn() if family is Family.L2VPN_EVPN else self.ipv4()


def attributes_for(lab: Lab, speaker: Node, family: Family, **overrides: object) -> Attributes:
    """Well-formed attributes for a route the speaker originates: its own address as next hop
    (the "VTEP" of its EVPN routes, with the VNI's route target and VXLAN encapsulation),
    LOCAL_PREF on iBGP (RFC 4271 §5.1.5: an iBGP UPDATE without it is treated as withdraw)."""
    from harness.bgp.attributes import Attributes  # scapy, where UPDATEs are made (issue 18)

    address = str(speaker.interfaces[0].addresses[0].ip)
    ibgp = speaker.asn == lab.plan.sut.values.asn
    base = Attributes(
        next_hop=address,
        local_pref=100 if ibgp else None,
        as_path=() if ibgp else (speaker.asn,),
        ext_communities=(f"target:{lab.plan.sut.values.asn}:{evpn_vni(lab.plan)}", "encap:vxlan")
        if family is Family.L2VPN_EVPN
        else (),
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


@dataclass
class Injector:
    """Announces through crafted speakers; `withdraw_all()` undoes every announcement."""

    lab: Lab
    sent: list[tuple[str, str | None, Family, Nlri]] = field(default_factory=list)

    def announce(
        self,
        speaker: str,
        family: Family,
        routes: Sequence[Nlri],
        attributes: Attributes,
        peer: str | None = None,
    ) -> None:
        self.lab.speaker(speaker).announce(family, list(routes), attributes, peer)
        self.sent += [(speaker, peer, family, r) for r in routes]

    def reflect(
        self,
        speaker: Node,
        family: Family,
        route: Nlri,
        attributes: Attributes,
        receivers: Sequence[Node],
        *,
        timeout: float,
        what: str = "the route to be reflected through every replica",
        precondition: bool = True,
    ) -> tuple[dict[str, RouteTable], dict[str, str]]:
        """Announce `route` to every RR replica and wait until each receiver holds it through
        each (RFC 4456 §6): the receivers' tables then, and the replicas' names by address.
        The wait is a `precondition` of the check that follows, unless it is the check."""
        via = reflectors(self.lab)
        for rr in via:
            self.announce(speaker.name, family, [route], attributes, peer=rr.name)
        tables = await_tables(
            self.lab,
            list(receivers),
            lambda t: missing_reflections(t, {key_of(route)}, speaker.name, via),
            timeout=timeout,
            what=what,
            precondition=precondition,
        )
        return tables, {rr.address: rr.name for rr in via}

    def withdraw_all(self, timeout: float) -> list[str]:
        """Withdraw everything announced, and wait until no router or peer of the harness holds
        any of it: the next test starts from the lab as it was. Returns what could not be
        withdrawn (a session that is down has taken its routes with it, which is no problem)."""
        problems = []
        gone: dict[Family, set[str]] = {}
        for speaker, peer, family, route in reversed(self.sent):
            try:
                self.lab.speaker(speaker).withdraw(family, [route], peer)
            except DaemonError as exc:
                problems.append(str(exc))
            gone.setdefault(family, set()).add(key_of(route))
        self.sent.clear()
        holders = [
            n
            for n in [*self.lab.plan.routers, *self.lab.plan.peers]
            if n.name not in self.lab.unrealised
        ]

        def still_held() -> list[str]:
            return [
                f"{node.name} still holds {r.key}"
                for node in holders
                for family, keys in gone.items()
                for r in routes(self.lab, node, family)
                if r.key in keys
            ]

        if gone:
            await_no_problems(
                still_held,
                timeout=timeout,
                what="the test's routes to be withdrawn everywhere",
                fail_fast=self.lab.check_alive,
            )
        return problems


def wrong_denial(
    evidence: list[str], reason: str, says: Callable[[str, str], bool] = FRR.refused_for
) -> list[str]:
    """A problem when the node logged refusing the route, but never for `reason` (FRR's wording
    after `DENIED due to:`; `says` reads another implementation's lines): the route was
    dropped, for another rule than the one under test."""
    if not evidence or any(says(line, reason) for line in evidence):
        return []
    return [f"dropped, but not because {reason!r}: {' | '.join(evidence)}"]


def refusal_verdict(
    lab: Lab, node: str, route: Nlri, reason: str, leaks: list[str], *, timeout: float
) -> tuple[list[str], list[str]]:
    """The problems of a check that `node` refuses `route` for `reason`, and the evidence.

    A leak breaks the rule. Without one, the refusal must be witnessed: the sentinel shows the
    route was sent before it, but only the node's own `DENIED due to:` line shows the route was
    processed and refused (it does not rely on the order in which the node sends UPDATEs of
    different prefixes); on an RR pod the SUT's driver reads the log (GoBGP: its debug lines).
    A node that logs updates and writes no such line by the deadline leaves the check
    undecided (`PreconditionFailed`); a line for another reason breaks it."""
    says = _reader(lab, node).refused_for
    if leaks:
        evidence = denial_evidence(lab, node, route)
        return leaks + wrong_denial(evidence, reason, says), evidence
    try:
        evidence = wait_until(
            lambda: denial_evidence(lab, node, route),
            bool,
            timeout=timeout,
            what=f"{node} to log refusing {key_of(route)} (DENIED due to: {reason})",
            describe=lambda _: f"no DENIED line naming {needle(route)}",
        )
    except WaitTimeout as exc:
        raise PreconditionFailed(
            f"{node} did not reflect {key_of(route)}, but its log never says it refused it: "
            f"the refusal is not witnessed ({exc})"
        ) from None
    return wrong_denial(evidence, reason, says), evidence


def denial_evidence(lab: Lab, node: str, route: Nlri) -> list[str]:
    """The node's own account of refusing a route: FRR's `DENIED due to:` lines that name it,
    or the equivalent lines of the SUT's implementation on an RR pod. A router pod the harness
    plays (sut.yaml `harness_routers`) refuses nothing, so it has none."""
    if node in lab.plan.harness_routers:
        return []
    return _reader(lab, node).refusals(lab.frr(node), needle(route))


def _reader(lab: Lab, node: str) -> RouteServerDriver:
    """Who reads a node's log: the SUT's driver on an RR pod; routers run FRR."""
    if lab.pods.get(node).role is Role.ROUTE_REFLECTOR:
        return driver_for(lab.plan)
    return FRR
