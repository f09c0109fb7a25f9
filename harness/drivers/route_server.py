"""The route reflector (or route server) implementation, behind one small interface.

Suites and drills never speak to a route server directly: they ask `routes(lab, node)` and
`sessions(lab, node)` (harness.backends.base), the pods layer asks the driver to create the
daemon of a new pod, and checks of configured neighbors ask `neighbors`. FRR is the driver built
here (the design's RR pods run FRR, and meshrr's cRPD is played by FRR), and GoBGP
(harness/drivers/gobgp.py), and the harness's own RR, broken on purpose for the mutation proof
(harness/drivers/harness_rr.py). Another implementation (cRPD, BIRD) is one more class in DRIVERS,
with its configuration template in its SUT profile: no suite changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from harness.cluster.frr_reload import neighbors as configured
from harness.drivers.gobgp import GobgpRouteServer
from harness.drivers.harness_rr import HarnessRouteServer
from harness.errors import InputError
from harness.model.base import Family
from harness.observe import frr
from harness.observe.route import Route
from harness.observe.sessions import SessionLife

if TYPE_CHECKING:
    from harness.model.plan import LabPlan


class RouteServerDriver(Protocol):
    name: str

    def create(self, lab: Any, pod: str, config: str) -> Any:
        """Register (not start) the daemon of an RR pod with `config`; `start()` runs it."""
        ...

    def routes(self, instance: Any, family: Family) -> list[Route]: ...
    def sessions(self, instance: Any) -> dict[str, str]: ...
    def session_lives(self, instance: Any) -> dict[str, SessionLife]:
        """Peer address -> its session's life: what tells one Established session from the
        next (harness.observe.sessions)."""
        ...

    def identifiers(self, instance: Any) -> dict[str, str]:
        """Peer address -> the BGP identifier in that peer's OPEN (RFC 4271 §4.2)."""
        ...

    def version(self, instance: Any) -> str:
        """The running daemon's version (`8.4.4`)."""
        ...

    def neighbors(self, instance: Any) -> set[str]:
        """Addresses of the neighbors configured now (not dynamic ones)."""
        ...

    def advertised(self, instance: Any, peer: str, family: Family) -> set[str] | None:
        """Keys of the routes in the Adj-RIB-Out towards `peer` (RFC 4271 §3.2), or None when
        the implementation cannot show it."""
        ...

    def configuration(self, instance: Any) -> str:
        """The running configuration as the daemon shows it (dynamic neighbors never in it)."""
        ...

    def refusals(self, instance: Any, needle: str) -> list[str]:
        """The daemon's own log lines saying it refused (or did not reflect) a route naming
        `needle` (its prefix, or the MAC of an EVPN route)."""
        ...

    def refused_for(self, line: str, reason: str) -> bool:
        """Whether a refusal line gives `reason` (FRR's words: `reflected from the same
        cluster`, `originator is us`)."""
        ...

    def require(self) -> None:
        """Raise DaemonError when the implementation is not installed on this machine."""
        ...

    def rejects(self, config: str) -> str | None:
        """Why the implementation refuses a rendered RR config, checked before anything starts
        (None: it takes it). FRR's configs are checked line by line in harness/inputs.py."""
        ...


class FrrRouteServer:
    """FRR's bgpd alone (`-Z`: no zebra), configured and read over its vty."""

    name = "frr"

    def create(self, lab: Any, pod: str, config: str) -> Any:
        return lab.register_frr(pod, config, with_zebra=False)

    def routes(self, instance: Any, family: Family) -> list[Route]:
        return frr.read_routes(instance, family)

    def sessions(self, instance: Any) -> dict[str, str]:
        return frr.session_states(instance.query(frr.SUMMARY))

    def session_lives(self, instance: Any) -> dict[str, SessionLife]:
        return frr.session_lives(instance.query(frr.NEIGHBORS))

    def identifiers(self, instance: Any) -> dict[str, str]:
        return frr.peer_identifiers(instance.query(frr.NEIGHBORS))

    def version(self, instance: Any) -> str:
        return frr.version(instance.query_text("show version"))

    def neighbors(self, instance: Any) -> set[str]:
        return configured(instance.query_text("show running-config"))

    def advertised(self, instance: Any, peer: str, family: Family) -> set[str] | None:
        return frr.advertised_keys(instance.query(frr.advertised_listing(family, peer)), family)

    def configuration(self, instance: Any) -> str:
        return str(instance.query_text("show running-config"))

    def refusals(self, instance: Any, needle: str) -> list[str]:
        return [
            line.strip()
            for line in instance.log_text().splitlines()
            if "DENIED due to" in line and needle in line
        ]

    def refused_for(self, line: str, reason: str) -> bool:
        return f"DENIED due to: {reason}" in line

    def require(self) -> None:
        """Nothing more to ask: the RR pods run the lab's FRR runtime, resolved with the plan
        (harness.daemons.frr_runtime: the host's FRR checked, or a tree built)."""

    def rejects(self, config: str) -> str | None:
        return None


DRIVERS: dict[str, RouteServerDriver] = {
    d.name: d for d in (FrrRouteServer(), GobgpRouteServer(), HarnessRouteServer())
}


def driver_for(plan: LabPlan) -> RouteServerDriver:
    name = plan.sut.values.implementation
    if name not in DRIVERS:
        raise InputError(
            f"{plan.sut.directory}/sut.yaml: implementation: {name!r} has no driver "
            f"(known: {', '.join(sorted(DRIVERS))})"
        )
    return DRIVERS[name]
