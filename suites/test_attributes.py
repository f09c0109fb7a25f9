"""Reflection leaves the path attributes alone (RFC 4456 §10: the RR "MUST NOT modify" NEXT_HOP,
AS_PATH, LOCAL_PREF, MED, nor any other attribute of a reflected route; an unrecognised
optional transitive attribute is passed on with the Partial bit set, RFC 4271 §5 and §9).

The crafted client sends a route with every attribute set to a value no default produces —
ORIGIN EGP or INCOMPLETE, MED, LOCAL_PREF, ATOMIC_AGGREGATE, AGGREGATOR, communities, large
communities, extended communities (route target, encapsulation, router MAC), an unknown
optional transitive attribute — through both replicas, right after a second route whose AS_PATH
holds an AS_SET (RFC 9774 deprecates AS_SET, and FRR 10.7 treats such a route as withdrawn: a
known deviation, judged apart, so it never hides the other attributes). Every other client and
every configured non-client must hold exactly what was sent, as far as its observer can show it:
FRR shows no unrecognised attribute at all, ExaBGP sets Partial on one itself, so the Partial
bit is judged on the wire, at the non-clients (the harness's own decoder).
"""

from __future__ import annotations

import ast

import pytest

from harness.bgp.attribute_codes import PARTIAL
from harness.bgp.attributes import Attributes
from harness.deviations import NEXT_HOP_SELF_TO_NON_CLIENTS, judge
from harness.expect import poll_tables, reflectors
from harness.inject import attributes_for, key_of
from harness.model.actors import Actor
from harness.model.base import Family
from harness.model.topology import Role
from harness.transparency import comparable, differences

pytestmark = [
    pytest.mark.sut_kind("standalone-rr"),
    pytest.mark.actors(Actor.CLIENT, Actor.NON_CLIENT, Actor.OBSERVER),
]

# Unknown optional transitive attributes: a short one, and one that needs Extended Length.
UNKNOWN_TRANSITIVE = (0xC0, 240, bytes.fromhex("5a17a5")), (0xD0, 243, bytes(300))
FLAGS_COMPARED = 0xE0  # optional, transitive, partial: Extended Length is the encoder's choice


def _non_clients(lab) -> list:
    """Configured non-clients the harness plays (its decoder shows every attribute and flag)."""
    names = {n.name for rr in lab.plan.route_reflectors for n in lab.plan.non_clients(rr)}
    return [n for n in lab.plan.peers if n.name in names and n.role is Role.SPEAKER]


AS_SET = ("set", (64603, 64602))


def _next_hop_is_the_rr(non_clients: set[str], rr_names: dict[str, str]):
    """A problem that is a non-client receiving the reflecting RR's own address as NEXT_HOP."""
    own = {name: ip for ip, name in rr_names.items()}

    def matches(problem: str) -> bool:
        where, _, what = problem.partition(": ")
        node, _, rr = where.removeprefix("at ").partition(" via ")
        return node in non_clients and what.startswith(f"next_hop {own.get(rr)!r},")

    return matches


def _everything(lab, client, family: Family, *extra_segments) -> Attributes:
    """Every attribute set, to values no default produces; the EVPN route target stays the one
    the routers import. `extra_segments` follow the AS_SEQUENCE (an AS_SET)."""
    imported = attributes_for(lab, client, family).ext_communities
    return attributes_for(
        lab,
        client,
        family,
        origin="egp" if family is Family.L2VPN_EVPN else "incomplete",
        as_path_segments=(("sequence", (64600, 64601)), *extra_segments),
        local_pref=250,
        med=42,
        atomic_aggregate=True,
        aggregator="64600:10.9.9.9",
        communities=("64514:2", "64514:1"),
        large_communities=("64514:7:8", "64514:1:2"),
        ext_communities=(*imported, "router-mac:02:00:5e:00:53:01")
        if family is Family.L2VPN_EVPN
        else ("target:64514:7",),
        raw=UNKNOWN_TRANSITIVE,
    )


def test_reflected_attributes_equal_what_the_client_sent(
    lab, injector, client, fresh, family, receivers, convergence_timeout, record_property
):
    """RFC 4456 §10, every attribute: ORIGIN, AS_PATH with its segment types, NEXT_HOP, MED,
    LOCAL_PREF, ATOMIC_AGGREGATE, AGGREGATOR, communities, large communities and extended
    communities arrive as the client sent them; the unknown optional transitive attributes
    arrive with their values, and Partial set (RFC 4271 §9). The route with an AS_SET, sent
    just before on the same sessions, arrives with its AS_PATH as sent, AS_SET included (FRR
    10.7 drops it, following RFC 9774: known deviation `as-set-treated-as-withdraw`)."""
    attrs = _everything(lab, client, family)
    route = fresh.route(family)
    with_set, set_attrs = fresh.route(family), _everything(lab, client, family, AS_SET)
    wire = _non_clients(lab)
    refused_before = {rr: len(lines) for rr, lines in _as_set_refusals(lab).items()}
    for rr in reflectors(lab):  # first on each session: `route` arriving means it was processed
        injector.announce(client.name, family, [with_set], set_attrs, peer=rr.name)
    tables, rr_names = injector.reflect(
        client, family, route, attrs, [*receivers, *wire], timeout=convergence_timeout
    )
    sent_unknown = [((f | PARTIAL) & FLAGS_COMPARED, c, v.hex()) for f, c, v in UNKNOWN_TRANSITIVE]
    record_property("attributes_sent", repr(comparable(attrs, sent_unknown)))
    kinds = {n.name: n.role for n in [*receivers, *wire]}
    problems = []
    for node, table in tables.items():
        for path in table.paths(key_of(route)):
            if path.peer not in rr_names:
                continue
            if kinds[node] is Role.ROUTER:  # FRR shows no unrecognised attribute
                got_unknown, want_unknown = [], []
            elif kinds[node] is Role.SPEAKER:  # the wire, flags and all
                got_unknown = [(f & FLAGS_COMPARED, c, v) for f, c, v in path.unknown]
                want_unknown = sent_unknown
            else:  # ExaBGP sets Partial itself: values only
                got_unknown = [(0, c, v) for _, c, v in path.unknown]
                want_unknown = [(0, c, v) for _, c, v in sent_unknown]
            got = comparable(path, got_unknown)
            want = comparable(attrs, want_unknown)
            problems += [
                f"at {node} via {rr_names[path.peer]}: {d}" for d in differences(got, want)
            ]
    # OpenPERouter's merged design sets next-hop-self force towards non-clients (IPv4/IPv6).
    hop_self = _next_hop_is_the_rr({n.name for n in wire}, rr_names)
    judge(
        lab,
        "partial-bit-not-set",
        problems,
        _only_partial_unset,
        also={NEXT_HOP_SELF_TO_NON_CLIENTS: hop_self} if family is Family.IPV4_UNICAST else {},
    )
    _judge_the_as_set(
        lab,
        [*receivers, *wire],
        (with_set, set_attrs),
        rr_names,
        refused_before,
        timeout=convergence_timeout,
        record_property=record_property,
    )


def _judge_the_as_set(
    lab, nodes, sent_route, rr_names, refused_before, *, timeout, record_property
):
    """RFC 4456 §10 for the AS_PATH with an AS_SET: the route sent first on the same sessions,
    so every RR has processed it. It arrives with that AS_PATH, or each RR says it refused it
    (FRR 10.7's log), which only the known deviation may excuse. The other attributes are
    the first route's to show."""
    route, attrs = sent_route
    sent = comparable(attrs)["as_path"]

    def fate(tables) -> list[str]:
        problems = [
            f"at {node} via {rr_names[p.peer]}: as_path {comparable(p)['as_path']!r}, sent {sent!r}"
            for node, table in tables.items()
            for p in table.paths(key_of(route))
            if p.peer in rr_names and comparable(p)["as_path"] != sent
        ]
        return problems + [
            f"at {node} via {rr}: the route with an AS_SET was not reflected"
            for node, table in tables.items()
            for address, rr in rr_names.items()
            if address not in {p.peer for p in table.paths(key_of(route))}
        ]

    def refused() -> dict[str, list[str]]:
        return {
            rr: lines[refused_before.get(rr, 0) :] for rr, lines in _as_set_refusals(lab).items()
        }

    polled = poll_tables(
        lab,
        nodes,
        lambda t: [] if all(refused().values()) else fate(t),
        timeout=timeout,
        what="the route with an AS_SET to be reflected, or refused by every RR",
    )
    evidence = [line for lines in refused().values() for line in lines]
    if evidence:
        record_property("evidence", " | ".join(evidence)[:2000])
    judge(
        lab,
        "as-set-treated-as-withdraw",
        fate(polled.tables),
        lambda p: p.endswith("not reflected") and bool(evidence),
    )


def _as_set_refusals(lab) -> dict[str, list[str]]:
    """Each RR pod's own account of dropping routes for their AS_SET (FRR 10.7 logs
    "`bgp reject-as-sets` is enabled, and AS-path (...) contains AS_SET/AS_CONFED_SET")."""
    return {
        rr.name: [
            line.strip()
            for line in lab.frr(rr.name).log_text().splitlines()
            if "contains AS_SET" in line
        ]
        for rr in reflectors(lab)
    }


def _only_partial_unset(problem: str) -> bool:
    """A problem of the unknown attributes alone, which arrived as sent but for the Partial bit
    left clear (the wording above: `...: unknown [...], sent [...]`)."""
    _, found, rest = problem.partition(": unknown ")
    got, _, sent = rest.partition(", sent ")
    if not found:
        return False
    got_flags, sent_flags = ast.literal_eval(got), ast.literal_eval(sent)
    cleared = [(f & ~PARTIAL, c, v) for f, c, v in sent_flags]
    return got_flags == cleared != sent_flags


def test_a_route_without_med_arrives_without_med(
    lab, injector, client, fresh, family, receivers, convergence_timeout
):
    """RFC 4456 §10: a route sent without MED is reflected without MED. (FRR 8.4 and 10.3 add
    MED 0: a known deviation, harness/deviations.py; any other MED is an RR inventing one.)"""
    attrs = attributes_for(lab, client, family)
    assert attrs.med is None
    route = fresh.route(family)
    tables, rr_names = injector.reflect(
        client, family, route, attrs, receivers, timeout=convergence_timeout
    )
    problems = [
        f"at {node} via {rr_names[p.peer]}: MED {p.med}, sent none"
        for node, t in tables.items()
        for p in t.paths(key_of(route))
        if p.peer in rr_names and p.med is not None
    ]
    judge(lab, "med-zero-added", problems, lambda p: p.endswith(": MED 0, sent none"))
