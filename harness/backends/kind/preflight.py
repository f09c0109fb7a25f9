"""What the kind backend needs from the machine, checked before anything starts: one line
naming everything missing, exit status 2 (bad input), never a traceback half-way."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from harness.errors import InputError

ENGINES = ("docker", "podman")
TOOLS = ("kind", "kubectl")  # kubectl: the failover sampler streams through `kubectl exec -i`
ENGINE_TIMEOUT = 15.0


def engine_problem() -> str | None:
    """None when a container engine answers; otherwise what is wrong with the machine's."""
    found = [e for e in ENGINES if shutil.which(e)]
    if not found:
        return f"no {' or '.join(ENGINES)} on PATH"
    problems = []
    for engine in found:
        try:
            done = subprocess.run(
                [engine, "info"],
                capture_output=True,
                text=True,
                timeout=ENGINE_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            problems.append(f"{engine} does not answer ({type(exc).__name__})")
            continue
        if done.returncode == 0:
            return None
        last = (done.stderr or done.stdout).strip().splitlines()
        problems.append(f"{engine} does not answer ({last[-1] if last else 'no output'})")
    return "; ".join(problems)


def check(kubeconfig: Path | None) -> None:
    """With a kubeconfig, an existing cluster is used: that file must exist. Without one, the
    run creates a kind cluster: `kind`, `kubectl` and a working container engine are needed."""
    if kubeconfig is not None:
        if not kubeconfig.is_file():
            raise InputError(f"--kubeconfig {kubeconfig}: no such file")
        return
    missing = [f"no {tool} on PATH" for tool in TOOLS if not shutil.which(tool)]
    engine = engine_problem()
    if engine:
        missing.append(engine)
    if missing:
        raise InputError(
            f"--backend kind: this machine cannot create a kind cluster: {'; '.join(missing)}. "
            "Install kind, kubectl and a container engine, or point at a cluster with "
            "--kubeconfig PATH"
        )
