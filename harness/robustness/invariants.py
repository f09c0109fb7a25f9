"""What must hold after every malformed message, whatever the rule asks of it (issue 15):

- every daemon of the RR pods still runs with the PID it had before (a restart in place, by
  watchfrr or a kubelet, is a crash too) and left no crash record: FRR writes `crashlog` under
  `/var/tmp/frr/<daemon>.<pid>/` when it dies of a signal (measured on 8.4: a SIGSEGV leaves
  the backtrace there); a core file counts too;
- every session of the RR pods but the one under test is as it was: still Established, and
  the same session (not one that went down and came back in between: `SessionLife`);
- no receiver got an UPDATE the harness's strict codec refuses (`probe.WireLog`).

`daemons` and `daemon_problems` know nothing of robustness: any check that must show "the
daemon still runs with the PID it started with, and left no crash record" takes a snapshot with
the first and judges with the second.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.backends.base import Lab
from harness.drivers.route_server import driver_for
from harness.observe.sessions import SessionLife
from harness.runtime.crashes import crash_records
from harness.runtime.processes import pid_running


@dataclass(frozen=True)
class Daemon:
    """One daemon process of a pod, as it ran when looked at."""

    node: str
    name: str
    pid: int
    directory: Path  # the pod's state directory

    def __str__(self) -> str:
        return f"{self.node} {self.name} (PID {self.pid})"


def daemons(lab: Lab, nodes: Iterable[str]) -> list[Daemon]:
    """Every daemon process the lab runs for `nodes` (FRR's bgpd, zebra...; gobgpd), by PID."""
    out = []
    for node in nodes:
        instance = lab.frr(node)
        for process in getattr(instance, "processes", []):
            if process.popen is not None:
                out.append(Daemon(node, process.name, process.pid, Path(instance.directory)))
    return out


def daemon_problems(lab: Lab, before: Iterable[Daemon]) -> list[str]:
    """Each daemon of `before` still running with the same PID, and no crash record: one line
    per problem, with the crash record's first lines as evidence."""
    now = {(d.node, d.name): d.pid for d in daemons(lab, {d.node for d in before})}
    problems = []
    for daemon in before:
        pid = now.get((daemon.node, daemon.name))
        if not pid_running(daemon.pid):
            problems.append(f"{daemon} is no longer running")
        elif pid != daemon.pid:
            problems.append(f"{daemon} was replaced by PID {pid}")
        for record in crash_records(daemon.name, daemon.pid, daemon.directory):
            problems.append(f"{daemon} left a crash record {record}: {_head(record)}")
    return problems


def _head(path: Path, lines: int = 3) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").splitlines()[:lines])
    except OSError as exc:
        return f"(unreadable: {exc})"


SessionKey = tuple[str, str]  # (RR pod, peer address)
Lives = dict[SessionKey, SessionLife]


def session_lives(lab: Lab, pods: Iterable[str]) -> Lives:
    """Every session of the pods: (state, when Established, counters a flap moves)."""
    driver = driver_for(lab.plan)
    return {
        (pod, peer): life
        for pod in pods
        for peer, life in driver.session_lives(lab.frr(pod)).items()
    }


def flaps(before: Lives, after: Lives, exempt: Iterable[SessionKey] = ()) -> list[str]:
    """Sessions that were Established before and are not the same Established session now
    (down, gone, or down and back in between: `SessionLife.same_session_as`), but for the
    `exempt` ones."""
    skip = set(exempt)
    problems = []
    for key, life in sorted(before.items()):
        if key in skip or life.state != "Established":
            continue
        now = after.get(key)
        pod, peer = key
        if now is None:
            problems.append(f"{pod}'s session with {peer} is gone")
        elif now.state != "Established":
            problems.append(f"{pod}'s session with {peer} is {now.state}")
        elif not now.same_session_as(life):
            problems.append(
                f"{pod}'s session with {peer} went down and came back (before: {life}; now: {now})"
            )
    return problems


@dataclass
class Baseline:
    """What the invariants compare with: the RR pods' daemons and sessions before the message."""

    daemons: list[Daemon]
    lives: Lives


def baseline(lab: Lab, pods: list[str]) -> Baseline:
    return Baseline(daemons(lab, pods), session_lives(lab, pods))


def violations(lab: Lab, before: Baseline, *, exempt: Iterable[SessionKey]) -> list[str]:
    """Every invariant broken since `before`: a daemon gone, replaced or crashed; a session but
    the `exempt` ones no longer the same Established session."""
    problems = daemon_problems(lab, before.daemons)
    pods = sorted({d.node for d in before.daemons} | {pod for pod, _ in before.lives})
    try:
        problems += flaps(before.lives, session_lives(lab, pods), exempt)
    except Exception as exc:  # a dead daemon does not answer: said above, and here
        problems.append(f"the RR pods' sessions could not be read: {exc}")
    return problems
