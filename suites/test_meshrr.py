"""meshrr: fully-meshed route servers in redundancy groups, with anycast peering
(meshrr's design: fully meshed route servers in redundancy groups).

Route servers (FRR here; the route server is whatever the SUT profile's template configures)
form an iBGP full mesh from discovery, which a stand-in for meshrr's peer updater keeps, polling
every `meshrr.poll_interval`. Each side's clients (router pods and an ExaBGP DC router) peer with
the side's anycast address, answered by one ready route server of that side.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from ipaddress import IPv4Address

import pytest

from harness.backends.base import bgp_identifier, routes
from harness.cluster.discovery import MeshReconciler
from harness.drivers.route_server import driver_for
from harness.errors import PreconditionFailed, WaitTimeout
from harness.expect import without_rd
from harness.failover.mesh import MeshDrills
from harness.model.base import Family
from harness.observe.route import LOCAL
from harness.observe.wait import await_no_problems, wait_until

pytestmark = [pytest.mark.disruptive, pytest.mark.sut_kind("meshrr")]


@pytest.fixture(scope="module")
def mesh_drills(lab, convergence_timeout) -> Iterator[MeshDrills]:
    """meshrr's peer updater (stand-in) running for the whole module."""
    mesh = MeshReconciler(lab.plan, lab.pods, lab.frr)
    with mesh.running(every=lab.plan.mesh.poll_interval):
        yield MeshDrills(lab, mesh, convergence_timeout)
    assert not mesh.errors, mesh.errors


def _await_mesh(drills: MeshDrills, timeout: float, what: str) -> float:
    """Wait for the full mesh; return how long it took, in ms. A mesh that does not form is
    the rule of the mesh check broken (an assertion): callers that only need a mesh turn it
    into a precondition."""
    started = time.monotonic()
    try:
        await_no_problems(
            drills.mesh_problems, timeout=timeout, what=what, fail_fast=drills.lab.check_alive
        )
    except WaitTimeout as exc:
        raise AssertionError(f"meshrr's full mesh did not form: {exc}") from None
    return round((time.monotonic() - started) * 1000, 1)


def _clients(lab, side: str):
    """The nodes that peer with a side's anycast address (routers and DC routers)."""
    return [n for n in (*lab.plan.routers, *lab.plan.peers) if n.side == side]


def test_the_mesh_is_complete_and_reforms_when_a_side_scales(
    lab, mesh_drills, convergence_timeout, record_property
):
    """Every route server peers with every other one: N route servers, N·(N-1)/2 sessions, all
    Established; scaling side b up by one and back down re-forms the mesh (meshrr's peer
    updater: "automatically forming full-mesh iBGP peerings between route servers"). A mesh
    that forms at start-up but does not take in the new route server fails here (the
    deadline covers two looks of the peer updater); side b is scaled back in any case."""
    servers = mesh_drills.route_servers()
    _await_mesh(mesh_drills, convergence_timeout, "the mesh")
    established = lab.timings.get("established_s")  # lab start -> every session, mesh included
    record_property("mesh_formed_at_start_ms", round(established * 1000) if established else None)
    record_property("mesh_sessions", len(servers) * (len(servers) - 1) // 2)
    side_b = len([p for p in servers if p.spec.side == "b"])
    deadline = convergence_timeout + 2 * lab.plan.mesh.poll_interval

    created, _ = lab.pods.scale("b", side_b + 1)
    try:
        record_property(
            "mesh_reformed_after_scale_up_ms",
            _await_mesh(mesh_drills, deadline, "the mesh with one more"),
        )
        assert len(mesh_drills.route_servers()) == len(servers) + 1
    finally:  # side b back to its size whatever the verdict: the next checks start from it
        _, deleted = lab.pods.scale("b", side_b)
    record_property(
        "mesh_reformed_after_scale_down_ms", _await_mesh(mesh_drills, deadline, "the mesh again")
    )
    gone = {p.ip for p in deleted}
    assert gone == {p.ip for p in created}
    driver = driver_for(lab.plan)
    for rs in mesh_drills.route_servers():
        left = sorted(gone & driver.neighbors(lab.frr(rs.name)))
        assert not left, f"{rs.name} still peers with the removed route server(s) {left}"


def test_routes_cross_sides_with_cluster_list_and_originator_id(
    lab, mesh_drills, convergence_timeout, record_property
):
    """A route from a side-a client reaches every side-b client and vice versa (RFC 4456 §6):
    ORIGINATOR_ID is the originating router's id (§8) and CLUSTER_LIST names, newest first, the
    route server that reflected it to the client, then the one its originator peers with (§7).
    The mesh is a precondition; the routes crossing it are the rule, waited for here."""
    try:
        _await_mesh(mesh_drills, convergence_timeout, "the full mesh")
    except AssertionError as exc:
        raise PreconditionFailed(f"no full mesh to carry routes across: {exc}") from None
    cluster_id = {p.name: _cluster_id(lab, p) for p in mesh_drills.route_servers()}
    holders = lab.anycast_holders
    identifiers = {origin.name: bgp_identifier(lab, origin) for origin in lab.plan.routers}

    def problems() -> list[str]:
        found = []
        for origin in lab.plan.routers:
            other = "b" if origin.side == "a" else "a"
            want = (cluster_id[holders[other]], cluster_id[holders[origin.side]])
            own = {r.key for r in routes(lab, origin) if r.peer == LOCAL}
            origin_id = identifiers[origin.name]
            for client in _clients(lab, other):
                got = [r for r in routes(lab, client) if r.key in own]
                if {r.key for r in got} != own:
                    found.append(f"{client.name} misses {sorted(own - {r.key for r in got})}")
                found += [
                    f"{client.name}: {r.key}: ORIGINATOR_ID {r.originator_id}, CLUSTER_LIST "
                    f"{list(r.cluster_list)} (expected {origin_id}, {list(want)})"
                    for r in got
                    if r.originator_id != origin_id or r.cluster_list != want
                ]
        return found

    try:
        await_no_problems(
            problems,
            timeout=convergence_timeout,
            what="every router's routes at every client of the other side",
            fail_fast=lab.check_alive,
        )
    except WaitTimeout as exc:
        raise AssertionError(f"routes do not cross the sides as they must: {exc.last}") from None
    record_property("cross_side_propagation_ms", _propagation_ms(lab, convergence_timeout))


def test_mesh_learned_routes_go_to_clients_only_and_each_client_holds_one_path(
    lab, mesh_drills, record_property
):
    """RFC 4456 §6 across the mesh: a route learned from a mesh peer (a non-client) is
    reflected to clients only, never to another mesh peer, so at every route server each route
    of another route server's client arrives once, straight from that route server (a
    one-entry CLUSTER_LIST); and a client, with one session to its side's anycast address,
    holds exactly one path per route: no duplicates, no loops."""
    mesh_drills.await_whole_lab()
    by_ip = {p.ip: p.name for p in mesh_drills.route_servers()}
    problems = []
    for rs in mesh_drills.route_servers():
        table = routes(lab, rs.name, family=None)
        for key in {r.key for r in table}:
            paths = [r for r in table if r.key == key]
            if any(r.peer == LOCAL or r.peer not in by_ip for r in paths):
                continue  # learned from its own client: not a mesh route
            if len(paths) != 1 or len(paths[0].cluster_list) != 1:
                problems.append(
                    f"{rs.name}: {key}: {len(paths)} path(s) via "
                    f"{[by_ip.get(r.peer, r.peer) for r in paths]}, CLUSTER_LISTs "
                    f"{[list(r.cluster_list) for r in paths]} (reflected between mesh peers)"
                )
    for client in (*lab.plan.routers, *lab.plan.peers):
        table = routes(lab, client, family=None)
        keys = [r.key for r in table if r.peer != LOCAL]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            problems.append(f"{client.name} holds several paths for {dupes[:3]}")
    record_property("route_servers", len(by_ip))
    assert not problems, "\n".join(problems[:30])


@pytest.mark.parametrize("holder", [False, True], ids=["other-replica", "anycast-holder"])
def test_losing_a_side_b_replica(mesh_drills, run_mesh_drill, holder):
    """Failure of one side-b replica. Losing the replica that does not answer for the anycast
    address costs side-b clients nothing (zero loss, sampled every 10 ms). Losing the one that
    does moves the address to the other replica: the clients' sessions (one each, to the
    anycast address) re-form there and every route returns; the loss window that costs is
    measured and reported, as no single session survives its server without graceful
    restart. Either way the replica's replacement joins the mesh (meshrr's peer updater): a
    lab not whole again by the deadline fails the drill. The whole lab before the fault is a
    precondition (an error when missing): the mesh and cross-side checks judge it."""
    run_mesh_drill(lambda: mesh_drills.side_replica_lost(holder=holder))


def test_losing_a_whole_side_costs_only_that_sides_routes(mesh_drills, run_mesh_drill):
    """Loss of a whole side (side a's only route server): the other side's clients lose only
    the lost side's routes and keep their own throughout; once the side's route server is back
    (rescheduled), the mesh takes it in again, its clients return and every route is
    everywhere again by the deadline (else the drill fails). The whole lab before the fault is
    a precondition, as in the replica drill."""
    run_mesh_drill(lambda: mesh_drills.side_lost("a"))


def _cluster_id(lab, pod) -> str:
    """The cluster id the SUT declares for a route server: its pod IP, or its side's."""
    mesh = lab.plan.mesh
    if mesh.cluster_id_scope == "side":
        return str(mesh.sides[pod.spec.side].cluster_id)
    return pod.ip


def _propagation_ms(lab, timeout: float) -> float:
    """A new host on the first side-a router: ms until every side-b client holds it (then it
    is removed, and gone from every one of them before the next test)."""
    origin = next(r for r in lab.plan.routers if r.side == "a")
    mac, ip = "02:00:00:0a:ee:01", IPv4Address("10.100.0.250")

    def await_host(present: bool) -> None:
        def wrong() -> list[str]:  # side-b clients where the host is not (or still) there
            return [
                c.name
                for c in _clients(lab, "b")
                if present
                != any(
                    without_rd(r.key).endswith(f"mac {mac}")
                    for r in routes(lab, c, family=Family.L2VPN_EVPN)
                )
            ]

        wait_until(
            wrong,
            lambda clients: not clients,
            timeout=timeout,
            what=f"host {mac} of {origin.name} to be {'at' if present else 'gone from'} every "
            "side-b client",
            describe=str,
            fail_fast=lab.check_alive,
        )

    started = time.monotonic()
    lab.set_evpn_host(origin.name, mac, ip, present=True)
    try:
        await_host(present=True)
        return round((time.monotonic() - started) * 1000, 1)
    finally:
        lab.set_evpn_host(origin.name, mac, ip, present=False)
        await_host(present=False)
