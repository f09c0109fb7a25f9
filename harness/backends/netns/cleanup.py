"""Find and remove what runs left behind, recognised only by their tags.

A namespace is a run's when its name starts with `rrh-<id>-`; a process when its environment
holds `RR_HARNESS_RUN=<id>` (munet's way: scan process environments for the tag). Runs whose
owner is still alive are left alone unless asked, so `cleanup` never pulls a live lab away.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from pyroute2 import netns

from harness.backends.netns.fabric import remove_namespaces
from harness.daemons.frr import forget_daemon_tmp
from harness.paths import RUN_STATE_ROOT
from harness.runtime.processes import pid_running, process_name, process_tag, terminate_tagged
from harness.runtime.run import NS_PREFIX, RUN_ID_PATTERN, TAG_ENV, owner_alive


@dataclass
class Leftovers:
    namespaces: list[str] = field(default_factory=list)
    pids: dict[int, str] = field(default_factory=dict)  # pid -> run id
    run_dirs: list[Path] = field(default_factory=list)
    skipped_live: list[str] = field(default_factory=list)  # run ids whose owner is alive

    @property
    def empty(self) -> bool:
        return not (self.namespaces or self.pids or self.run_dirs)

    def describe(self) -> str:
        parts = []
        if self.namespaces:
            parts.append(f"namespaces {self.namespaces}")
        if self.pids:
            parts.append(f"processes {sorted(self.pids)}")
        if self.run_dirs:
            parts.append(f"state dirs {[str(d) for d in self.run_dirs]}")
        return ", ".join(parts) or "nothing"


def _run_of_namespace(name: str) -> str | None:
    if not name.startswith(NS_PREFIX):
        return None
    run_id = name[len(NS_PREFIX) :].split("-", 1)[0]
    return run_id if RUN_ID_PATTERN.fullmatch(run_id) else None


def tagged_pids() -> dict[int, str]:
    """Every running process carrying a run tag, with its run id (our own process excluded)."""
    found = {}
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        tag = process_tag(int(entry.name), TAG_ENV)
        if tag and pid_running(int(entry.name)):
            found[int(entry.name)] = tag
    return found


def find_leftovers(
    run_id: str | None = None, *, include_live: bool = False, root: Path = RUN_STATE_ROOT
) -> Leftovers:
    def wanted(rid: str | None) -> bool:
        return rid is not None and (run_id is None or rid == run_id)

    out = Leftovers()
    live: set[str] = set()
    if root.is_dir():
        for d in sorted(root.iterdir()):
            if wanted(d.name):
                if not include_live and owner_alive(d):
                    live.add(d.name)
                else:
                    out.run_dirs.append(d)
    out.namespaces = sorted(
        n
        for n in netns.listnetns()
        if wanted(_run_of_namespace(n)) and _run_of_namespace(n) not in live
    )
    out.pids = {pid: rid for pid, rid in tagged_pids().items() if wanted(rid) and rid not in live}
    out.skipped_live = sorted(live)
    return out


def remove_leftovers(left: Leftovers) -> list[str]:
    """Processes first (a namespace lives on while a process is in it), then names, then state."""
    problems = []
    names = {pid: process_name(pid) for pid in left.pids}
    stubborn = terminate_tagged(left.pids, TAG_ENV)
    for pid, name in names.items():
        if name in ("bgpd", "zebra") and pid not in stubborn:
            forget_daemon_tmp(name, pid)
    if stubborn:
        problems.append(f"processes still running after SIGKILL: {stubborn}")
    problems += remove_namespaces(left.namespaces)
    for d in left.run_dirs:
        try:
            shutil.rmtree(d)
        except FileNotFoundError:
            pass
        except OSError as exc:
            problems.append(f"state directory {d}: {exc}")
    return problems
