"""A run: its id, its tag, its state directory and manifest.

Everything a run creates carries the run id (DESIGN "Patterns to adopt" 2): namespace names
start with `rrh-<id>-`, links carry the ifalias `rr-harness:<id>`, processes carry
`RR_HARNESS_RUN=<id>` in their environment. `rr-harness cleanup` finds leftovers by these tags.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import InputError
from harness.paths import REPORTS_DIR, RUN_STATE_ROOT

NS_PREFIX = "rrh-"
TAG_ENV = "RR_HARNESS_RUN"
RUN_ID_PATTERN = re.compile(r"^[a-z0-9]{4,12}$")


def new_run_id() -> str:
    return secrets.token_hex(3)


def check_run_id(run_id: str) -> str:
    if not RUN_ID_PATTERN.fullmatch(run_id):
        raise InputError(f"--run-id {run_id!r}: expected 4-12 lower-case letters or digits")
    return run_id


def namespace_name(run_id: str, node: str) -> str:
    return f"{NS_PREFIX}{run_id}-{node}"


def link_alias(run_id: str) -> str:
    return f"rr-harness:{run_id}"


@dataclass
class Run:
    """State of one run on this machine: `/run/rr-harness/<id>/`, with `manifest.json`."""

    run_id: str = field(default_factory=new_run_id)
    root: Path = RUN_STATE_ROOT
    reports: Path = REPORTS_DIR  # where the run's report goes (its JUnit file's folder)

    @property
    def directory(self) -> Path:
        return self.root / self.run_id

    @property
    def kept(self) -> Path:
        """The run's folder beside its report: its log, and the configs and daemon logs a
        failed run keeps."""
        return self.reports / self.run_id

    @property
    def manifest(self) -> Path:
        return self.directory / "manifest.json"

    def namespace(self, node: str) -> str:
        return namespace_name(self.run_id, node)

    def environment(self, node: str) -> dict[str, str]:
        """Environment for a process of this run: the tag is how cleanup recognises it."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("RR_HARNESS")}
        env[TAG_ENV] = self.run_id
        env["RR_HARNESS_NODE"] = node
        return env

    def node_dir(self, node: str, owner: str | None = None) -> Path:
        path = self.directory / node
        path.mkdir(parents=True, exist_ok=True)
        if owner:
            shutil.chown(path, owner, owner)
        return path

    def open(self) -> None:
        """Create the state directory and claim it with the owner's PID."""
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            self.directory.mkdir(exist_ok=False)
        except FileExistsError:
            raise InputError(
                f"--run-id {self.run_id}: already in use ({self.directory} exists); "
                "pick another id, or `rr-harness cleanup --run-id` a dead run"
            ) from None
        self.directory.chmod(0o755)
        self.root.chmod(0o755)
        self.manifest.write_text(
            json.dumps({"run_id": self.run_id, "owner_pid": os.getpid(), "started": time.time()})
        )

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def owner_alive(run_dir: Path) -> bool:
    """Whether the process that owns a run's state directory is still running."""
    try:
        pid = int(json.loads((run_dir / "manifest.json").read_text())["owner_pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    from harness.runtime.processes import pid_running

    return pid_running(pid)
