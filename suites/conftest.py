"""Fixtures shared by the conformance suites (the lab itself comes from the harness's plugin)."""

from __future__ import annotations

import pytest

from harness.expect import evpn_clients, reflectors, require_node
from harness.inject import Fresh
from harness.model.base import Family


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
def fresh(client):
    return Fresh(client)


@pytest.fixture
def rr0(lab):
    return reflectors(lab)[0]


@pytest.fixture
def receivers(lab):
    """Every client that should receive what the crafted client sends: routers, observers."""
    return evpn_clients(lab)
