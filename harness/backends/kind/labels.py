"""Labels every object of a run carries, and the selectors built from them."""

from __future__ import annotations

RUN_LABEL = "rr-harness/run"
NODE_LABEL = "rr-harness/node"  # the topology node a pod realises (its spec)
MANAGED_BY = {"app.kubernetes.io/managed-by": "rr-harness"}


def run_labels(run_id: str) -> dict[str, str]:
    """What `rr-harness cleanup` selects on: everything of one run, nothing else."""
    return {RUN_LABEL: run_id, **MANAGED_BY}


def selector(labels: dict[str, str]) -> str:
    """A label selector string (`a=b,c=d`) as the API's list calls take it."""
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def namespace(run_id: str) -> str:
    return f"rrh-{run_id}"
