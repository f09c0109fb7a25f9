"""Failover on pod reschedule: routes survive an RR pod going away, and redundancy returns.

The design relies on Kubernetes rescheduling RR pods and on the controller re-pointing router
pods at the new pod IPs ("Key Design Decisions" 1-2, "Controller Changes"). Each drill runs
`--repeat` times while every BGP segment at each router pod is captured (netns) and every router
pod is sampled every 10 ms: a route no RR session holds on the wire (or, without a capture,
missing from a sample) is a loss, named with its router and its moment, and the two witnesses
must agree. Measures (detection, loss window, replacement
ready, sessions Established, full redundancy) go into JUnit properties as p50/p95/max, into
failover.json beside the JUnit report, and a timeline figure per drill into failover/.

Clients here are the router pods: the harness's own speakers peer with fixed RR addresses and
cannot follow a rescheduled pod, as no real client outside the controller's reach could.
"""

from __future__ import annotations

import pytest

from harness.cluster.pods import DeletionMode

pytestmark = [
    pytest.mark.disruptive,
    pytest.mark.sut_kind("standalone-rr"),
    pytest.mark.requires("sampling"),
]
MODES = [
    pytest.param(
        mode,
        id=mode.value,
        marks=[pytest.mark.requires("node-partition")] if mode is DeletionMode.SILENT else [],
    )
    for mode in DeletionMode
]


@pytest.mark.parametrize("mode", MODES)
def test_rr_pod_deleted_no_client_loses_a_route(drills, run_drill, mode):
    """Scenario 1 (design, Key Design Decision 2: redundancy by replicas): delete one RR pod
    (graceful; crash; or silent: its node drops off the network and the routers' hold timers
    notice). No router loses any route, as the other replica lives (a SUT with a single replica
    fails here); sessions to the surviving RR never drop; the replacement (a Deployment's: new
    name, new IP, discovered; a DaemonSet's: same node, same address, the routers' static
    neighbor) reaches Established, every route is held via each RR again, and the deleted
    pod's address, when not reused, is gone from every router."""
    run_drill(lambda: drills.rr_deleted(mode))


def test_rolling_restart_loses_nothing(drills, run_drill):
    """Scenario 2 (`kubectl rollout restart` of the RR Deployment, default strategy; of a
    DaemonSet: one node's pod deleted, its successor ready, then the next): every replica is
    replaced one after another, and no router loses any route at any moment."""
    run_drill(drills.rolling_restart)


@pytest.mark.requires("container-restart")
def test_all_rrs_down_then_back(drills, run_drill):
    """Scenario 3 (RFC 4724 §4.2 when `graceful_restart.enabled`): every RR container crashes
    at once and is restarted in place. Without graceful restart, every router withdraws the
    RRs' routes; with it, they are kept as stale (zero loss). Then everything is restored:
    paths via each RR, nothing stale."""
    run_drill(drills.all_rrs_down)


@pytest.mark.parametrize("mode", [DeletionMode.GRACEFUL, DeletionMode.CRASH], ids=str)
def test_every_rr_pod_restarted_costs_what_graceful_restart_says(drills, run_drill, mode):
    """OpenPERouter's merged design (enhancement: "delete an RR router pod"), with a single RR
    as its e2e runs: every RR pod deleted at once, a DaemonSet's successor on the same node with
    the same address, the routers' static neighbors reconnecting to it. RFC 4724 §4.2 with
    `graceful_restart`: the routes kept as stale, nothing lost; without it: withdrawn at once,
    nothing kept stale. Then restored: paths via each RR, nothing stale. The cost is measured."""
    if drills.lab.plan.sut.values.rr_lifecycle != "daemonset":
        pytest.skip(
            "for RR pods replaced on their node with their address (rr_lifecycle: daemonset); "
            "a Deployment's replacement has a new address, and all_rrs_down restarts in place"
        )
    run_drill(lambda: drills.rr_pods_restarted(mode))


@pytest.mark.requires("pod-reschedule")
def test_router_pod_rescheduled_returns_through_listen_range(drills, run_drill):
    """Scenario 4 (design: `bgp listen range` over the pod CIDR; OpenPERouter's merged design:
    over the node subnet): a router pod comes back (with a new IP; a DaemonSet's pod with its
    node's); the RRs accept it with no change to their configuration, and its routes return to
    every other router via each RR."""
    run_drill(drills.router_rescheduled)
