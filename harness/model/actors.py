"""A lab shaped by what runs (issue 18): each suite declares the actors its checks need, and a
run builds only those nodes of the topology.

An actor is what a node is to the SUT, read from the topology (never from its name): the route
reflector and router pods (always built: they are the system under test and the pods the
design has), and the harness's speakers around them: the observer (an ExaBGP client of the
RRs, receiving EVPN), the ToR (an eBGP peer of a router, with EVPN) and the cloud router (one
without), crafted clients, configured non-clients, would-be clients the RRs must refuse, and a
stand-in RR replica. A suite says `pytestmark = pytest.mark.actors(Actor.OBSERVER, ...)`; a
suite without the marker needs every actor, so the whole topology is what a run of every suite
builds. A meshrr lab is built whole: its side clients are what the mesh drills move.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from harness.model.base import Family
from harness.model.plan import LabPlan
from harness.model.topology import Node, Role

MARKER = "actors"


class Actor(StrEnum):
    ROUTE_REFLECTOR = "route-reflector"
    ROUTER = "router"
    OBSERVER = "observer"
    TOR = "tor"
    CLOUD_ROUTER = "cloud-router"
    CLIENT = "client"
    NON_CLIENT = "non-client"
    WOULD_BE_CLIENT = "would-be-client"
    STAND_IN_RR = "stand-in-rr"


CORE = frozenset({Actor.ROUTE_REFLECTOR, Actor.ROUTER})  # built whatever runs
EVERY = frozenset(Actor)


def actor_of(plan: LabPlan, node: Node) -> Actor:
    """What a node is to the SUT (the module docstring), from its role, sessions and families."""
    if node.role is Role.ROUTE_REFLECTOR:
        return Actor.ROUTE_REFLECTOR
    if node.role is Role.ROUTER:
        return Actor.ROUTER
    if node.stands_in_for:
        return Actor.STAND_IN_RR
    if node.expected_session == "refused":
        return Actor.WOULD_BE_CLIENT
    routers = {n.name for n in plan.routers}
    if routers & set(node.peers):  # an eBGP speaker of the world outside the cluster
        return Actor.TOR if Family.L2VPN_EVPN in node.families else Actor.CLOUD_ROUTER
    if not node.reflector_client:
        return Actor.NON_CLIENT
    if node.role is Role.EXABGP_PEER and Family.L2VPN_EVPN in node.families:
        return Actor.OBSERVER
    return Actor.CLIENT


def needed(declared: Iterable[Iterable[Actor] | None]) -> frozenset[Actor]:
    """The actors of a run: the union of what each selected check declares (None: a check that
    declares nothing needs every actor), and the core pods."""
    out = set(CORE)
    for actors in declared:
        if actors is None:
            return EVERY
        out |= set(actors)
    return frozenset(out)


def shaped(plan: LabPlan, actors: frozenset[Actor]) -> LabPlan:
    """The plan of a lab with only the nodes of these actors (the same plan when that is every
    node): configs, sessions and expectations follow from the smaller topology."""
    if plan.mesh is not None or actors >= EVERY:
        return plan
    kept = tuple(n for n in plan.topology.nodes if actor_of(plan, n) in actors)
    if len(kept) == len(plan.topology.nodes):
        return plan
    topology = plan.topology.model_copy(update={"nodes": kept})
    return LabPlan(topology, plan.sut, plan.source)


def left_out(full: LabPlan, lab: LabPlan) -> list[str]:
    """Names of the topology's nodes a shaped lab does not build."""
    built = {n.name for n in lab.topology.nodes}
    return [n.name for n in full.topology.nodes if n.name not in built]
