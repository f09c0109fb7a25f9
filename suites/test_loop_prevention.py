"""Loop prevention by CLUSTER_LIST and ORIGINATOR_ID (RFC 4456 §8), and the shared cluster id of
redundant replicas (§7). Every check runs for EVPN and for IPv4 unicast (`family`).

The crafted client (`client`, an iBGP client of the RRs) sends routes carrying attributes no
well-behaved client would send. Absence is proven by a sentinel route sent afterwards on the same
session (harness/inject.py); FRR's `DENIED due to:` log line is recorded as evidence.
"""

from __future__ import annotations

import pytest

from harness.backends.base import bgp_identifier
from harness.deviations import judge
from harness.errors import PreconditionFailed
from harness.expect import await_tables, leaked, missing_reflections, reflectors
from harness.inject import attributes_for, key_of, refusal_verdict
from harness.model.actors import Actor

pytestmark = [
    pytest.mark.sut_kind("standalone-rr"),
    pytest.mark.actors(Actor.CLIENT, Actor.NON_CLIENT, Actor.OBSERVER),
]

OWN_CLUSTER_TO_NON_CLIENTS = "own-cluster-id-reflected-to-non-clients"  # harness/deviations.py


def _non_clients(lab) -> list:
    """The configured non-clients of the RRs: a route an RR must ignore reaches them neither."""
    names = {n.name for rr in lab.plan.route_reflectors for n in lab.plan.non_clients(rr)}
    return [n for n in lab.plan.peers if n.name in names]


def _reached(nodes):
    """Tells a leak to one of `nodes` (`leaked`'s wording) from any other problem."""
    return lambda problem: any(f" reached {n.name}, but " in problem for n in nodes)


def _sentinel_then_absent(
    lab, injector, client, fresh, family, *, rr, receivers, route, attrs, timeout, why
):
    """Send `route` with `attrs`, then a clean sentinel, both to `rr`; once the sentinel reached
    every receiver through `rr`, return the places the route under test leaked to."""
    sentinel = fresh.route(family)
    injector.announce(client.name, family, [route], attrs, peer=rr.name)
    injector.announce(
        client.name, family, [sentinel], attributes_for(lab, client, family), peer=rr.name
    )
    tables = await_tables(
        lab,
        receivers,
        lambda t: missing_reflections(
            t, {sentinel.key if not isinstance(sentinel, str) else sentinel}, client.name, [rr]
        ),
        timeout=timeout,
        what=f"sentinel sent after the route under test to reach every client via {rr.name}",
        precondition=True,
    )
    key = key_of(route)
    return leaked(tables, {key}, why)


def test_route_with_own_cluster_id_is_not_reflected(
    lab, injector, client, fresh, family, rr0, receivers, convergence_timeout, record_property
):
    """RFC 4456 §8: "a RR SHOULD ignore a route received with its CLUSTER_ID in CLUSTER_LIST":
    it reaches no client and no configured non-client."""
    cluster = str(lab.plan.sut.values.cluster_id)
    route = fresh.route(family)
    non_clients = _non_clients(lab)
    problems = _sentinel_then_absent(
        lab,
        injector,
        client,
        fresh,
        family,
        rr=rr0,
        receivers=[*receivers, *non_clients],
        route=route,
        attrs=attributes_for(lab, client, family, cluster_list=(cluster,)),
        timeout=convergence_timeout,
        why=f"its CLUSTER_LIST already held {rr0.name}'s cluster id {cluster}",
    )
    problems, evidence = refusal_verdict(
        lab,
        rr0.name,
        route,
        "reflected from the same cluster",
        problems,
        timeout=convergence_timeout,
    )
    record_property("evidence", " | ".join(evidence) or "(no DENIED line)")
    judge(lab, OWN_CLUSTER_TO_NON_CLIENTS, problems, _reached(non_clients))


def test_route_with_foreign_cluster_id_is_reflected_with_own_prepended(
    lab, injector, client, fresh, family, rr0, receivers, convergence_timeout
):
    """RFC 4456 §8: the RR "MUST prepend its own CLUSTER_ID to the CLUSTER_LIST" of a route it
    reflects, keeping the ids already there."""
    cluster = str(lab.plan.sut.values.cluster_id)
    foreign = "9.9.9.9"
    route = fresh.route(family)
    key = key_of(route)
    injector.announce(
        client.name,
        family,
        [route],
        attributes_for(lab, client, family, cluster_list=(foreign,)),
        peer=rr0.name,
    )
    tables = await_tables(
        lab,
        receivers,
        lambda t: missing_reflections(t, {key}, client.name, [rr0]),
        timeout=convergence_timeout,
        what=f"a route with CLUSTER_LIST [{foreign}] to be reflected",
    )
    problems = [
        f"at {node}: CLUSTER_LIST {list(r.cluster_list)}, expected {[cluster, foreign]}"
        for node, t in tables.items()
        for r in t.paths(key)
        if r.peer == rr0.address and r.cluster_list != (cluster, foreign)
    ]
    assert not problems, "\n".join(problems)


def test_client_rejects_route_with_its_own_originator_id(
    lab, injector, client, fresh, family, rr0, convergence_timeout, record_property
):
    """RFC 4456 §8: a router that recognises its own ROUTER_ID as ORIGINATOR_ID "SHOULD ignore"
    the route. The client sends the RR one route per router, each carrying that router's BGP
    identifier (as the RRs saw it) as ORIGINATOR_ID, then a sentinel: every router must drop its
    own and keep the others'. The others' copies show what each router was sent: an RR that
    replaced the ORIGINATOR_ID (the check of §8 on the RR says so) leaves this rule of the
    routers undecided."""
    routers = list(lab.plan.routers)
    if len(routers) < 2:
        pytest.skip("the topology has one router: no other router shows what the RR sent it")
    identifiers = {r.name: bgp_identifier(lab, r) for r in routers}
    own = {r.name: fresh.route(family) for r in routers}
    keys = {name: key_of(route) for name, route in own.items()}
    for name, route in own.items():
        attrs = attributes_for(lab, client, family, originator_id=identifiers[name])
        injector.announce(client.name, family, [route], attrs, peer=rr0.name)
    sentinel = fresh.route(family)
    injector.announce(
        client.name, family, [sentinel], attributes_for(lab, client, family), peer=rr0.name
    )

    def unsettled(tables) -> list[str]:
        out = missing_reflections(tables, {key_of(sentinel)}, client.name, [rr0])
        for name, table in tables.items():
            others = {k for n, k in keys.items() if n != name}
            out += missing_reflections({name: table}, others, client.name, [rr0])
        return out

    tables = await_tables(
        lab,
        routers,
        unsettled,
        timeout=convergence_timeout,
        what=f"the sentinel sent after the routes under test, and each router's route at every "
        f"other router (it shows what the RR sent), to arrive via {rr0.name}",
        precondition=True,
    )
    for name, key in keys.items():
        sent = {
            p.originator_id
            for other, table in tables.items()
            if other != name
            for p in table.paths(key)
            if p.peer == rr0.address
        }
        if sent != {identifiers[name]}:
            raise PreconditionFailed(
                f"{rr0.name} reflected {key} with ORIGINATOR_ID {sorted(map(str, sent))} (as the "
                f"other routers hold it), not {name}'s identifier {identifiers[name]} as the "
                f"client sent it: {name} was never sent its own identifier"
            )
    problems, evidence = [], []
    for name, route in own.items():
        why = f"its ORIGINATOR_ID is {name}'s own router-id"
        leaks = leaked({name: tables[name]}, {keys[name]}, why)
        found, seen = refusal_verdict(
            lab, name, route, "originator is us", leaks, timeout=convergence_timeout
        )
        problems += found
        evidence += [f"{name}: {line}" for line in seen]
    record_property("evidence", " | ".join(evidence) or "(no DENIED line)")
    assert not problems, "\n".join(problems)


def test_rr_sets_originator_id_only_when_absent(
    lab, injector, client, fresh, family, rr0, receivers, convergence_timeout
):
    """RFC 4456 §8: ORIGINATOR_ID is "created by an RR", set to the originator's BGP identifier,
    and an RR "SHOULD NOT" replace one that is already there."""
    kept, created = fresh.route(family), fresh.route(family)
    keys = {k if isinstance(k, str) else k.key for k in (kept, created)}
    injector.announce(
        client.name,
        family,
        [kept],
        attributes_for(lab, client, family, originator_id="10.9.9.9"),
        peer=rr0.name,
    )
    injector.announce(
        client.name, family, [created], attributes_for(lab, client, family), peer=rr0.name
    )
    tables = await_tables(
        lab,
        receivers,
        lambda t: missing_reflections(t, keys, client.name, [rr0]),
        timeout=convergence_timeout,
        what="both routes to be reflected",
        precondition=True,
    )
    want = {
        (kept if isinstance(kept, str) else kept.key): "10.9.9.9",
        (created if isinstance(created, str) else created.key): bgp_identifier(lab, client),
    }
    problems = [
        f"at {node}: {r.key} has ORIGINATOR_ID {r.originator_id}, expected {want[r.key]}"
        for node, t in tables.items()
        for k in keys
        for r in t.paths(k)
        if r.peer == rr0.address and r.originator_id != want[r.key]
    ]
    assert not problems, "\n".join(problems)


def test_replicas_reflect_with_the_same_cluster_list(
    lab, injector, client, fresh, family, receivers, convergence_timeout
):
    """RFC 4456 §7 / design (one `clusterID` for the Deployment): the paths a client receives via
    each replica carry the same CLUSTER_LIST, [cluster id]."""
    via = reflectors(lab)
    if len(via) < 2:
        pytest.skip("the SUT runs a single RR replica")
    route = fresh.route(family)
    key = key_of(route)
    tables, _ = injector.reflect(
        client,
        family,
        route,
        attributes_for(lab, client, family),
        receivers,
        timeout=convergence_timeout,
    )
    cluster = (str(lab.plan.sut.values.cluster_id),)
    problems = []
    for node, t in tables.items():
        lists = {r.peer: r.cluster_list for r in t.paths(key)}
        if len(set(lists.values())) != 1 or cluster not in lists.values():
            problems.append(f"at {node}: CLUSTER_LIST by replica {lists}, expected {list(cluster)}")
    assert not problems, "\n".join(problems)


def test_route_reflected_by_one_replica_is_dropped_by_the_other(
    lab, injector, client, fresh, family, receivers, convergence_timeout, record_property
):
    """RFC 4456 §7-§8: replicas sharing a cluster id drop what another replica of the cluster
    already reflected. The client offers the second replica a route shaped exactly as the first
    replica's reflection of router-1's route would be (ORIGINATOR_ID router-1, CLUSTER_LIST
    [cluster id]); the second replica must reflect it to no one. (The first replica is not made
    to reflect it: the route under test is built, so the check does not depend on it.)"""
    via = reflectors(lab)
    if len(via) < 2:
        pytest.skip("the SUT runs a single RR replica")
    second = via[1]
    originator = lab.plan.routers[0]
    route = fresh.route(family)
    non_clients = _non_clients(lab)
    problems = _sentinel_then_absent(
        lab,
        injector,
        client,
        fresh,
        family,
        rr=second,
        receivers=[*(n for n in receivers if n.name != originator.name), *non_clients],
        route=route,
        attrs=attributes_for(
            lab,
            client,
            family,
            originator_id=bgp_identifier(lab, originator),
            cluster_list=(str(lab.plan.sut.values.cluster_id),),
        ),
        timeout=convergence_timeout,
        why=f"{via[0].name} of the same cluster had already reflected it",
    )
    problems, evidence = refusal_verdict(
        lab,
        second.name,
        route,
        "reflected from the same cluster",
        problems,
        timeout=convergence_timeout,
    )
    record_property("evidence", " | ".join(evidence) or "(no DENIED line)")
    judge(lab, OWN_CLUSTER_TO_NON_CLIENTS, problems, _reached(non_clients))
