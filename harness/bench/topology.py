"""The bench's lab: the SUT's route reflector pods, one generator client announcing the burst,
and K receiving clients, all crafted speakers on the cluster network (iBGP clients of every
RR pod through its listen range, as router pods are)."""

from __future__ import annotations

from ipaddress import IPv4Network

from harness.model.plan import LabPlan
from harness.model.sut import SutProfile
from harness.model.topology import Topology

GENERATOR = "generator"


def receiver(i: int) -> str:
    return f"client-{i}"


def bench_plan(sut: SutProfile, clients: int) -> LabPlan:
    """RR pods at .10, .11 ... of the pod CIDR, the generator at .20, clients from .30."""
    values = sut.values
    cidr: IPv4Network = values.pod_cidr
    base = cidr.network_address

    def at(host: int) -> str:
        return f"{base + host}/{cidr.prefixlen}"

    rrs = [f"rr-{i}" for i in range(values.replicas)]
    nodes = [
        {
            "name": name,
            "role": "route-reflector",
            "asn": values.asn,
            "labels": {
                "app.kubernetes.io/name": "openperouter-rr",
                "app.kubernetes.io/component": "route-reflector",
            },
            "interfaces": [{"segment": "cluster", "addresses": [at(10 + i)]}],
        }
        for i, name in enumerate(rrs)
    ]
    speakers = [(GENERATOR, 20)] + [(receiver(i), 30 + i) for i in range(1, clients + 1)]
    nodes += [
        {
            "name": name,
            "role": "crafted-speaker",
            "asn": values.asn,
            "router_id": str(base + host),
            "interfaces": [{"segment": "cluster", "addresses": [at(host)]}],
            "families": ["l2vpn-evpn"],
            "peers": rrs,
        }
        for name, host in speakers
    ]
    topology = Topology.model_validate(
        {
            "name": "bench",
            "description": "route reflector pods, a generator and receiving clients",
            "segments": [{"name": "cluster", "kind": "cluster-network", "subnets": [str(cidr)]}],
            "nodes": nodes,
        }
    )
    return LabPlan(topology, sut, source="bench topology")
