"""The kind cluster a run creates: a control plane and enough workers for RR pods and router
pods to land on different nodes (the design's anti-affinity), with the SUT's pod CIDR.

`KindCluster` models the part of kind's configuration schema (kind.x-k8s.io/v1alpha4, `Cluster`)
the harness writes, with unknown fields rejected, so a typo or a shape kind would refuse fails
here, in the project's tests, not in a user's CI.
"""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Literal

from pydantic import Field

from harness.model.base import Frozen
from harness.model.plan import LabPlan

KIND_API = "kind.x-k8s.io/v1alpha4"


class KindNode(Frozen):
    role: Literal["control-plane", "worker"]
    image: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class KindNetworking(Frozen):
    ipFamily: Literal["ipv4", "ipv6", "dual"] = "ipv4"  # kind's own field names
    podSubnet: IPv4Network | None = None
    serviceSubnet: IPv4Network | None = None
    disableDefaultCNI: bool = False


class KindCluster(Frozen):
    kind: Literal["Cluster"] = "Cluster"
    apiVersion: Literal["kind.x-k8s.io/v1alpha4"] = KIND_API
    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=50)
    nodes: tuple[KindNode, ...] = Field(min_length=1)
    networking: KindNetworking = KindNetworking()


def cluster_config(plan: LabPlan, run_id: str, node_image: str | None = None) -> KindCluster:
    """One control plane, and one worker per RR replica plus one for the router pods."""
    workers = plan.sut.values.replicas + 1
    return KindCluster(
        name=f"rrh-{run_id}",
        nodes=(
            KindNode(role="control-plane", image=node_image),
            *(KindNode(role="worker", image=node_image) for _ in range(workers)),
        ),
        networking=KindNetworking(podSubnet=plan.sut.values.pod_cidr),
    )


def as_yaml_dict(config: KindCluster) -> dict[str, object]:
    """What `kind create cluster --config` reads (None fields left out)."""
    return config.model_dump(mode="json", exclude_none=True)
