"""The cluster a run uses: a kind cluster it creates (and deletes), or an existing one named by
`--kubeconfig` (then nothing cluster-wide is created but the run's namespace).

`kind` is driven through its CLI (`kind create cluster --config`), the one interface kind
documents; the kubernetes Python client does everything else.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.backends.kind.cluster_config import KindCluster, as_yaml_dict
from harness.errors import CommandError

CREATE_TIMEOUT = 600.0  # pulling node images on a cold CI runner
DELETE_TIMEOUT = 120.0


@dataclass
class Cluster:
    kubeconfig: Path
    created: KindCluster | None = None  # set when this run created (and so deletes) it

    @classmethod
    def create(cls, config: KindCluster, directory: Path) -> Cluster:
        """`kind create cluster` from the generated config; its kubeconfig in `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        config_file = directory / "kind-config.yaml"
        config_file.write_text(yaml.safe_dump(as_yaml_dict(config), sort_keys=False))
        kubeconfig = directory / "kubeconfig"
        args = ["create", "cluster", "--config", str(config_file), "--wait", "300s"]
        try:
            _kind([*args, "--kubeconfig", str(kubeconfig)], CREATE_TIMEOUT)
        except BaseException:
            delete_cluster(config.name)  # a half-made cluster is still a cluster of the run
            raise
        return cls(kubeconfig, created=config)

    def load_images(self, images: list[str]) -> list[str]:
        """Images built on the runner (`docker build`), made available to the kind nodes. An
        image that is not on the runner (a registry's) is left for the nodes to pull: said in
        the returned notes, not an error."""
        notes = []
        for image in images if self.created is not None else []:
            try:
                _kind(["load", "docker-image", "--name", self.created.name, image], CREATE_TIMEOUT)
            except CommandError as exc:
                notes.append(f"{image} not loaded into the cluster (the nodes will pull it): {exc}")
        return notes

    def api(self) -> Any:
        """An API client for this cluster (the kubernetes package is imported on first use)."""
        from kubernetes import config

        return config.new_client_from_config(config_file=str(self.kubeconfig))

    def delete(self) -> list[str]:
        """Delete the cluster if this run created it; what went wrong, as problems."""
        return [] if self.created is None else delete_cluster(self.created.name)


def delete_cluster(name: str) -> list[str]:
    try:
        _kind(["delete", "cluster", "--name", name], DELETE_TIMEOUT)
    except (CommandError, OSError) as exc:
        return [f"kind cluster {name}: {exc}"]
    return []


def kind_clusters() -> list[str]:
    """`kind get clusters`: every kind cluster of this machine's container engine."""
    return _kind(["get", "clusters"], DELETE_TIMEOUT).split()


def _kind(args: list[str], timeout: float) -> str:
    try:
        done = subprocess.run(
            ["kind", *args], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise CommandError(
            "kind", ["kind", *args], -1, f"no result within {timeout:.0f} s"
        ) from exc
    if done.returncode != 0:
        raise CommandError("kind", ["kind", *args], done.returncode, done.stderr or done.stdout)
    return done.stdout
