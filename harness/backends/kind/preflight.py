"""What the kind backend needs from the machine, checked before anything starts."""

from __future__ import annotations

import shutil
from pathlib import Path

from harness.errors import InputError

ENGINES = ("docker", "podman")


def check(kubeconfig: Path | None) -> None:
    """With a kubeconfig, an existing cluster is used: that file must exist. Without one, the
    run creates a kind cluster: `kind` and a container engine must be on PATH."""
    if kubeconfig is not None:
        if not kubeconfig.is_file():
            raise InputError(f"--kubeconfig {kubeconfig}: no such file")
        return
    missing = [tool for tool in ("kind",) if shutil.which(tool) is None]
    if not any(shutil.which(engine) for engine in ENGINES):
        missing.append(" or ".join(ENGINES))
    if missing:
        raise InputError(
            f"--backend kind: this machine has no {', no '.join(missing)} on PATH; install them "
            "(kind needs a container engine), or point at a cluster with --kubeconfig PATH"
        )
