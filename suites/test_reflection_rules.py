"""Who gets what a route reflector reflects (RFC 4456 §6).

"A route from a client is reflected to all clients and non-clients; a route from a non-client is
reflected to clients only." The topology adds two configured iBGP non-clients of the RRs
(`nonclient-1`, `nonclient-2`) next to the listen-range clients (routers, observer, `client`).
"""

from __future__ import annotations

import pytest

from harness.backends.base import advertised, bgp_identifier
from harness.deviations import judge
from harness.errors import PreconditionFailed
from harness.expect import (
    await_originated,
    await_tables,
    evpn_clients,
    leaked,
    missing_reflections,
    reflectors,
    require_node,
)
from harness.inject import Fresh, attributes_for, key_of
from harness.model.actors import Actor

pytestmark = [
    pytest.mark.sut_kind("standalone-rr"),
    pytest.mark.actors(Actor.CLIENT, Actor.NON_CLIENT, Actor.OBSERVER),
]


def _non_clients(lab):
    return (
        require_node(lab, "nonclient-1", "a configured iBGP non-client of the RRs"),
        require_node(
            lab, "nonclient-2", "a second non-client, to show non-client routes stop there"
        ),
    )


def test_client_routes_reach_non_clients(lab, injector, client, fresh, family, convergence_timeout):
    """§6: a client's route (a router pod's own EVPN routes, and the crafted client's) is
    reflected to the non-clients too, through every replica."""
    non_clients = list(_non_clients(lab))
    via = reflectors(lab)
    route = fresh.route(family)
    for rr in via:
        injector.announce(
            client.name, family, [route], attributes_for(lab, client, family), peer=rr.name
        )
    keys = {key_of(route)}
    router = lab.plan.routers[0]
    if family.value == "l2vpn-evpn":
        keys |= {r.key for r in await_originated(lab, router, convergence_timeout)}
    await_tables(
        lab,
        non_clients,
        lambda t: missing_reflections(t, keys, "a client", via),
        timeout=convergence_timeout,
        what="clients' routes to reach every non-client",
    )


def test_routes_reflected_to_non_clients_carry_originator_id_and_cluster_list(
    lab, injector, client, fresh, family, convergence_timeout
):
    """§8: ORIGINATOR_ID "will be created by an RR in reflecting a route", and "when an RR
    reflects a route, it MUST prepend the local CLUSTER_ID to the CLUSTER_LIST": a client's route
    reflected to a non-client is no exception (a non-client may be another cluster's RR, whose
    loop check needs both)."""
    route = fresh.route(family)
    tables, names = injector.reflect(
        client,
        family,
        route,
        attributes_for(lab, client, family),
        _non_clients(lab),
        timeout=convergence_timeout,
        what="a client's route to reach every non-client",
    )
    want = (bgp_identifier(lab, client), [str(lab.plan.sut.values.cluster_id)])
    problems = [
        f"at {node} via {names[r.peer]}: ORIGINATOR_ID {r.originator_id}, CLUSTER_LIST "
        f"{list(r.cluster_list)}, expected {want[0]}, {want[1]}"
        for node, table in tables.items()
        for r in table.paths(key_of(route))
        if r.peer in names and (r.originator_id, list(r.cluster_list)) != want
    ]
    judge(
        lab,
        "no-reflection-attributes-to-non-clients",
        problems,
        lambda p: ": ORIGINATOR_ID None, CLUSTER_LIST [], expected" in p,
    )


def test_non_client_routes_reach_clients(lab, injector, family, convergence_timeout):
    """§6: a non-client's route is reflected to every client, through every replica."""
    speaker, _ = _non_clients(lab)
    via = reflectors(lab)
    route = Fresh.of(lab, speaker).route(family)
    for rr in via:
        injector.announce(
            speaker.name, family, [route], attributes_for(lab, speaker, family), peer=rr.name
        )
    await_tables(
        lab,
        evpn_clients(lab),
        lambda t: missing_reflections(t, {key_of(route)}, speaker.name, via),
        timeout=convergence_timeout,
        what="a non-client's route to reach every client",
    )


def test_non_client_routes_are_not_reflected_to_other_non_clients(
    lab, injector, client, fresh, family, rr0, convergence_timeout, record_property
):
    """§6: a non-client's route goes to clients only. Once nonclient-1's route reached the
    clients through rr-0 (rr-0 processed it), a sentinel from a client is sent through rr-0.
    When the sentinel reached nonclient-2, two witnesses must lack the route under test:
    nonclient-2's table, and rr-0's Adj-RIB-Out towards nonclient-2, which holds what rr-0
    advertised or is about to — so the proof does not rest on rr-0 sending its UPDATEs in the
    order it processed the routes."""
    speaker, other = _non_clients(lab)
    route = Fresh.of(lab, speaker).route(family)
    injector.announce(
        speaker.name, family, [route], attributes_for(lab, speaker, family), peer=rr0.name
    )
    await_tables(
        lab,
        evpn_clients(lab),
        lambda t: missing_reflections(t, {key_of(route)}, speaker.name, [rr0]),
        timeout=convergence_timeout,
        what=f"{speaker.name}'s route to reach the clients",
        precondition=True,
    )
    sentinel = fresh.route(family)
    injector.announce(
        client.name, family, [sentinel], attributes_for(lab, client, family), peer=rr0.name
    )
    tables = await_tables(
        lab,
        [other],
        lambda t: missing_reflections(t, {key_of(sentinel)}, client.name, [rr0]),
        timeout=convergence_timeout,
        what=f"a client's sentinel to reach {other.name}",
        precondition=True,
    )
    why = f"it came from non-client {speaker.name}"
    problems = leaked(tables, {key_of(route)}, why)
    address = next(
        n.address
        for n in lab.plan.non_clients(lab.plan.topology.node(rr0.name))
        if n.name == other.name
    )
    out = advertised(lab, rr0.name, address, family)
    if out is None:
        record_property("adj_rib_out", f"{rr0.name}'s implementation cannot show it")
    elif key_of(sentinel) not in out:
        raise PreconditionFailed(
            f"{rr0.name}'s Adj-RIB-Out towards {other.name} lacks the sentinel {other.name} "
            "received: it cannot witness the route under test"
        )
    elif key_of(route) in out:
        problems.append(
            f"{key_of(route)} is in {rr0.name}'s Adj-RIB-Out towards {other.name}, but {why}"
        )
    assert not problems, "\n".join(problems)
