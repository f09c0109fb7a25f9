"""Reflection leaves the path attributes alone (RFC 4456 §10: "the RR MUST NOT modify" NEXT_HOP,
AS_PATH, LOCAL_PREF, MED; the communities and extended communities of an EVPN route — route
target, encapsulation, router MAC (RFC 4360, RFC 9012, RFC 9135) — travel unchanged too).

The crafted client sends a route with every one of them set, through both replicas; every other
client must receive exactly what was sent.
"""

from __future__ import annotations

import pytest

from harness.expect import await_tables, missing_reflections, reflectors
from harness.inject import attributes_for, key_of

pytestmark = pytest.mark.sut_kind("standalone-rr")

FIELDS = ("next_hop", "as_path", "local_pref", "med", "communities", "ext_communities")


def _reflect(lab, injector, client, route, family, attrs, receivers, timeout):
    via = reflectors(lab)
    for rr in via:
        injector.announce(client.name, family, [route], attrs, peer=rr.name)
    tables = await_tables(
        lab,
        receivers,
        lambda t: missing_reflections(t, {key_of(route)}, client.name, via),
        timeout=timeout,
        what="the route to be reflected through every replica",
    )
    return tables, {rr.address: rr.name for rr in via}


def test_reflected_attributes_equal_what_the_client_sent(
    lab, injector, client, fresh, family, receivers, convergence_timeout, record_property
):
    """RFC 4456 §10: NEXT_HOP, AS_PATH, LOCAL_PREF, MED, communities and extended communities
    arrive as the client sent them."""
    # Values no default would produce; the EVPN route target stays the one the routers import.
    imported = attributes_for(lab, client, family).ext_communities
    attrs = attributes_for(
        lab,
        client,
        family,
        as_path=(64600, 64601),
        local_pref=250,
        med=42,
        communities=("64514:1", "64514:2"),
        ext_communities=(*imported, "router-mac:02:00:5e:00:53:01")
        if family.value == "l2vpn-evpn"
        else ("target:64514:7",),
    )
    route = fresh.route(family)
    tables, rr_names = _reflect(
        lab, injector, client, route, family, attrs, receivers, convergence_timeout
    )
    sent = {
        "next_hop": attrs.next_hop,
        "as_path": attrs.as_path,
        "local_pref": attrs.local_pref,
        "med": attrs.med,
        "communities": tuple(sorted(attrs.communities)),
        "ext_communities": tuple(sorted(attrs.ext_communities)),
    }
    record_property("attributes_sent", repr(sent))
    problems = []
    for node, table in tables.items():
        for path in table.paths(key_of(route)):
            if path.peer not in rr_names:
                continue
            got = {f: getattr(path, f) for f in FIELDS}
            got["communities"] = tuple(sorted(got["communities"]))
            for f in FIELDS:
                if got[f] != sent[f]:
                    problems.append(
                        f"at {node} via {rr_names[path.peer]}: {f} {got[f]!r}, sent {sent[f]!r}"
                    )
    assert not problems, "\n".join(problems)


def test_a_route_without_med_gets_no_med_but_frr_s_zero(
    lab, injector, client, fresh, family, receivers, convergence_timeout
):
    """RFC 4456 §10 would have a route without MED arrive without MED. FRR 8.4 reflects it with
    MED 0 (LAB-NOTES: "reflected updates carry MED 0 when none was sent"); MED 0 is also what
    RFC 4271 §9.1.2.2 assumes for a missing MED, so this is accepted, and only this: any other
    value is an RR that invented a MED."""
    attrs = attributes_for(lab, client, family)
    assert attrs.med is None
    route = fresh.route(family)
    tables, rr_names = _reflect(
        lab, injector, client, route, family, attrs, receivers, convergence_timeout
    )
    problems = [
        f"at {node} via {rr_names[p.peer]}: MED {p.med}, sent none"
        for node, t in tables.items()
        for p in t.paths(key_of(route))
        if p.peer in rr_names and p.med not in (None, 0)
    ]
    assert not problems, "\n".join(problems)
