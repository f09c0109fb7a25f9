"""`rr-harness cleanup --backend kind`: what killed kind runs left on a cluster.

Everything a run creates on a cluster is in its namespace (`rrh-<run>`, labelled with the run
id), and a kind cluster the run created is named `rrh-<run>`. Cleanup selects on those labels
and names only, and leaves alone the runs whose owning process on this machine is still
running (unless forced), as the netns cleanup does.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from harness.backends.kind.labels import MANAGED_BY, RUN_LABEL, selector
from harness.paths import RUN_STATE_ROOT
from harness.runtime.run import owner_alive

CLUSTER_PREFIX = "rrh-"


@dataclass
class KindLeftovers:
    namespaces: list[str] = field(default_factory=list)
    clusters: list[str] = field(default_factory=list)
    skipped_live: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.namespaces or self.clusters)

    def describe(self) -> str:
        parts = [f"namespace {n}" for n in self.namespaces]
        parts += [f"kind cluster {c}" for c in self.clusters]
        return ", ".join(parts)


def live_runs(root: Path = RUN_STATE_ROOT) -> set[str]:
    """Runs whose owning process on this machine still runs."""
    if not root.is_dir():
        return set()
    return {d.name for d in root.iterdir() if owner_alive(d)}


def select(
    namespaces: Iterable[tuple[str, Mapping[str, str]]],
    clusters: Iterable[str],
    run_id: str | None,
    live: set[str],
) -> KindLeftovers:
    """From (namespace, labels) and kind cluster names: those of dead runs (or of `run_id`)."""
    out = KindLeftovers()

    def take(rid: str | None) -> bool:
        if rid is None or (run_id is not None and rid != run_id):
            return False
        if rid in live:
            if rid not in out.skipped_live:
                out.skipped_live.append(rid)
            return False
        return True

    for name, labels in namespaces:
        if all(labels.get(k) == v for k, v in MANAGED_BY.items()) and take(labels.get(RUN_LABEL)):
            out.namespaces.append(name)
    for cluster in clusters:
        if cluster.startswith(CLUSTER_PREFIX) and take(cluster.removeprefix(CLUSTER_PREFIX)):
            out.clusters.append(cluster)
    return out


def find(kubeconfig: Path | None, run_id: str | None, *, include_live: bool) -> KindLeftovers:
    """With a kubeconfig: the run namespaces on that cluster. Without: the kind clusters of
    runs (and nothing else: a cluster the harness did not name is never touched)."""
    live = set() if include_live else live_runs()
    namespaces: list[tuple[str, Mapping[str, str]]] = []
    clusters: list[str] = []
    if kubeconfig is not None:
        from kubernetes import client, config

        core = client.CoreV1Api(config.new_client_from_config(config_file=str(kubeconfig)))
        found = core.list_namespace(label_selector=selector(dict(MANAGED_BY)))
        namespaces = [(n.metadata.name, n.metadata.labels or {}) for n in found.items]
    elif shutil.which("kind"):
        from harness.backends.kind.cluster import kind_clusters

        clusters = kind_clusters()
    return select(namespaces, clusters, run_id, live)


def remove(left: KindLeftovers, kubeconfig: Path | None) -> list[str]:
    """Delete what was selected; what could not be deleted, as problems."""
    from harness.backends.kind.cluster import delete_cluster

    problems: list[str] = []
    if left.namespaces and kubeconfig is not None:
        from kubernetes import client, config
        from kubernetes.client.exceptions import ApiException

        core = client.CoreV1Api(config.new_client_from_config(config_file=str(kubeconfig)))
        for name in left.namespaces:
            try:
                core.delete_namespace(name)
            except ApiException as exc:
                problems.append(f"namespace {name}: {exc.status} {exc.reason}")
    for cluster in left.clusters:
        problems += delete_cluster(cluster)
    return problems
