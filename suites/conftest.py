"""Fixtures shared by the conformance suites (the lab itself comes from the harness's plugin)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.backends.base import software
from harness.expect import evpn_clients, reflectors, require_node
from harness.inject import Fresh
from harness.model.base import Family
from harness.paths import REPORTS_DIR

if TYPE_CHECKING:  # the failover machinery is imported by the suites that run it (issue 18)
    from harness.failover.drills import DrillRun, Drills
    from harness.failover.report import FailoverReport


@pytest.fixture(params=[Family.L2VPN_EVPN, Family.IPV4_UNICAST], ids=["evpn", "ipv4"])
def family(request, lab):
    """Both families the loop-prevention rules are checked in; IPv4 only where the SUT's RRs
    reflect it (`families` in sut.yaml)."""
    if request.param not in lab.plan.sut.values.families:
        pytest.skip(f"the SUT's route reflectors do not reflect {request.param}")
    return request.param


@pytest.fixture(params=[Family.L2VPN_EVPN, Family.IPV4_UNICAST], ids=["evpn", "ipv4"])
def session_family(request):
    """Both families of a router's own sessions (ToR, RR), whatever the RRs reflect."""
    return request.param


@pytest.fixture
def client(lab):
    return require_node(lab, "client", "a crafted iBGP client of the route reflectors")


@pytest.fixture
def fresh(lab, client):
    return Fresh.of(lab, client)


@pytest.fixture
def rr0(lab):
    return reflectors(lab)[0]


@pytest.fixture
def receivers(lab):
    """Every client that should receive what the crafted client sends: routers, observers."""
    return evpn_clients(lab)


# -- failover (issue 4) ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def drills(lab, convergence_timeout, pytestconfig) -> Iterator[Drills]:
    """The discovery loop running (the controller's stand-in), extra routes in place."""
    from harness.cluster.discovery import DiscoveryReconciler
    from harness.failover.drills import Drills

    routes = int(pytestconfig.getoption("--routes"))
    first = lab.plan.routers[0].name
    extra = [
        f"02:fe:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}:01" for i in range(routes)
    ]
    for mac in extra:
        lab.set_evpn_host(first, mac, None, present=True)
    reconciler = DiscoveryReconciler(lab.plan, lab.pods, lab.frr)
    with reconciler.running():
        yield Drills(lab, reconciler, convergence_timeout)
    assert not reconciler.errors, reconciler.errors


@pytest.fixture(scope="session")
def failover_report(pytestconfig, lab) -> FailoverReport:
    from harness.failover.report import FailoverReport

    junit = Path(pytestconfig.option.xmlpath or REPORTS_DIR / "junit.xml")
    return FailoverReport(
        junit,
        run_id=lab.run.run_id,
        routes_added=int(pytestconfig.getoption("--routes")),
        software=software(lab),
    )


def _run_repeated(request, pytestconfig, failover_report, record_property, drill, errors):
    """Run a drill `--repeat` times (an undecided attempt taken again: harness.failover.
    attempts); record its figures; fail on any run's problems."""
    from harness.errors import WitnessUndecided
    from harness.failover.attempts import take

    try:
        attempts = take(drill, int(pytestconfig.getoption("--repeat")), request.node.name)
    except WitnessUndecided as exc:  # every retake undecided: on the record, then the error
        record_property("undecided_attempts", str(exc))
        raise
    runs = attempts.runs
    if attempts.undecided:
        record_property("undecided_attempts", "; ".join(attempts.undecided))
    for key, value in failover_report.add(request.node.name, runs).items():
        record_property(key, value)
    problems = [f"run {i + 1}: {p}" for i, o in enumerate(runs) for p in o.problems]
    problems += [f"reconciler: {e}" for e in errors]
    measured = [_figures(i + 1, o) for i, o in enumerate(runs)]
    assert not problems, "\n".join([*measured, *problems[:30]])
    return runs


def _figures(run: int, o: DrillRun) -> str:
    """One run's loss and recovery figures: the wire's where it was captured (netns failover
    drills), else the samples' alone (meshrr's drills, the kind backend), said as such."""
    sampled = f"{o.measures.loss_window_ms:.0f} ms, {len(o.losses)} route loss(es) sampled"
    loss = (
        f"{o.measures.wire_loss_window_ms:.3f} ms, {len(o.wire_losses)} route loss(es) on the "
        f"wire ({sampled})"
        if o.wire
        else f"{sampled} (no wire witness)"
    )
    return (
        f"run {run}: loss window {loss}; full redundancy after {o.measures.full_redundancy_ms} "
        f"ms ({o.measures.sut_full_redundancy_ms} ms after the harness's last emulation step), "
        f"harness time {o.harness_ms}"
    )


@pytest.fixture
def run_drill(request, pytestconfig, failover_report, record_property, drills):
    """Run a failover drill `--repeat` times (see _run_repeated)."""
    return lambda drill: _run_repeated(
        request, pytestconfig, failover_report, record_property, drill, drills.reconciler.errors
    )


@pytest.fixture
def run_mesh_drill(request, pytestconfig, failover_report, record_property, mesh_drills):
    """Run a meshrr drill `--repeat` times (see _run_repeated)."""
    return lambda drill: _run_repeated(
        request, pytestconfig, failover_report, record_property, drill, mesh_drills.mesh.errors
    )
