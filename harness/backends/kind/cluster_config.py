"""The kind cluster a run creates: a control plane and enough workers for RR pods and router
pods to land on different nodes (the design's anti-affinity), with the SUT's pod CIDR.

`KindCluster` models the part of kind's configuration schema (kind.x-k8s.io/v1alpha4, `Cluster`)
the harness writes, with unknown fields rejected, so a typo or a shape kind would refuse fails
here, in the project's tests, not in a user's CI.
"""

from __future__ import annotations

from ipaddress import ip_network
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from harness.backends.kind.realise import IPV6_POD_SUBNET, needs_ipv6
from harness.model.base import Frozen
from harness.model.plan import LabPlan

KIND_API = "kind.x-k8s.io/v1alpha4"


class KindNode(Frozen):
    role: Literal["control-plane", "worker"]
    image: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)


def _subnets(text: str | None) -> str | None:
    """kind takes one CIDR, or two comma-separated (IPv4 and IPv6) for a dual-stack cluster."""
    if text is not None:
        for part in text.split(","):
            ip_network(part.strip())  # ValueError names the bad part
    return text


Subnets = Annotated[str | None, AfterValidator(_subnets)]


class KindNetworking(Frozen):
    ipFamily: Literal["ipv4", "ipv6", "dual"] = "ipv4"  # kind's own field names
    podSubnet: Subnets = None
    serviceSubnet: Subnets = None
    disableDefaultCNI: bool = False


class KindCluster(Frozen):
    kind: Literal["Cluster"] = "Cluster"
    apiVersion: Literal["kind.x-k8s.io/v1alpha4"] = KIND_API
    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=50)
    nodes: tuple[KindNode, ...] = Field(min_length=1)
    networking: KindNetworking = KindNetworking()


def cluster_config(plan: LabPlan, run_id: str, node_image: str | None = None) -> KindCluster:
    """One control plane, and one worker per RR replica plus one for the router pods. Dual
    stack when the topology has IPv6 (the cloud router's IPv6 routes need an IPv6 next hop)."""
    workers = plan.sut.values.replicas + 1
    v4 = str(plan.sut.values.pod_cidr)
    networking = (
        KindNetworking(ipFamily="dual", podSubnet=f"{v4},{IPV6_POD_SUBNET}")
        if needs_ipv6(plan)
        else KindNetworking(podSubnet=v4)
    )
    return KindCluster(
        name=f"rrh-{run_id}",
        nodes=(
            KindNode(role="control-plane", image=node_image),
            *(KindNode(role="worker", image=node_image) for _ in range(workers)),
        ),
        networking=networking,
    )


def as_yaml_dict(config: KindCluster) -> dict[str, object]:
    """What `kind create cluster --config` reads (None fields left out)."""
    return config.model_dump(mode="json", exclude_none=True)
