"""`rr-harness fuzz`: seeded malformed UPDATEs from the crafted client to the first RR pod, the
invariants checked after every message (issue 15).

Each message (`fuzz.mutant`), in a lab of its own:
1. the client's session with the RR pod is Established (a precondition: after a reset the
   client connects again at once, and the session must come back);
2. the message; once the RR has processed it and kept the session (`probe.processed`), a
   sentinel on the same session: one IPv4 route whose LOCAL_PREF is the message's number (RFC
   4271 §9.1: a changed route is sent again);
3. the outcome: the session ended (NOTIFICATION code/subcode, or closed), or the sentinel with
   that LOCAL_PREF reached a wire witness (a crafted non-client) through the RR, so the message
   was processed; neither within `STEP_TIMEOUT` is a hang;
4. the invariants (`invariants`): the daemons of every FRR pod (RR pods and routers) run with
   their PIDs and left no crash record, every session of the RR pods but the client's with
   that pod is the same Established session, no wire witness got an UPDATE that does not
   decode.
A message that breaks one is saved (`fuzz_files`: hex and pcap) with its seed, number and
mutations; a crash or a hang ends the run (the lab is no longer what the next message needs).
The summary counts messages, messages per second, the distinct outcomes and the findings.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.backends.base import Lab, implementation
from harness.backends.netns.lab import NetnsBackend
from harness.bgp.attributes import Attributes
from harness.bgp.update import build_update
from harness.drivers.route_server import driver_for
from harness.errors import DaemonError, HarnessError, InputError, WaitTimeout
from harness.expect import reflectors
from harness.inject import evpn_vni
from harness.model.base import Family
from harness.model.plan import LabPlan
from harness.model.topology import Node, Role
from harness.observe.refusals import notification_code
from harness.observe.wait import wait_until
from harness.options import ESTABLISH_TIMEOUT
from harness.robustness import invariants
from harness.robustness.fuzz import Mutant, Sender, mutant
from harness.robustness.fuzz_files import Finding, save
from harness.robustness.probe import WireLog, processed, receivers_of
from harness.runtime.run import Run, new_run_id

CLIENT = "client"
STEP_TIMEOUT = 5.0  # seconds for the RR to answer one message (end the session, or pass on)
RECONNECT_TIMEOUT = 10.0
SENTINEL = "10.191.255.0/24"  # outside the fuzzer's own series (fuzz.Sender.route)
PROGRESS_EVERY = 2.0  # seconds between progress lines
FATAL = ("no longer running", "was replaced", "crash record", "hang")


@dataclass
class Step:
    """What one message did: the outcome in words, the invariants it broke."""

    outcome: str
    problems: list[str] = field(default_factory=list)

    @property
    def fatal(self) -> bool:
        return any(word in p for p in self.problems for word in FATAL)


class Fuzzer:
    """The client, the RR pod it sends to, the wire witnesses, the invariants' state."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        try:
            self.client: Node = lab.plan.topology.node(CLIENT)
        except KeyError:
            raise InputError(
                f"--topology: {lab.plan.topology.name} has no crafted client node {CLIENT!r}"
            ) from None
        self.speaker = lab.speaker(CLIENT)
        self.rr = reflectors(lab)[0]
        self.address = str(self.client.interfaces[0].addresses[0].ip)
        self.sender = Sender(self.address, self.client.asn, evpn_vni(lab.plan))
        receivers = receivers_of(lab, self.client)
        witnesses = [n for n in receivers if n.role is Role.SPEAKER]
        if not witnesses:
            raise InputError(f"--topology: {lab.plan.topology.name} has no crafted non-client")
        self.witness = witnesses[0]
        self.wire = WireLog(lab, receivers)
        self.pods = [n.name for n in lab.plan.route_reflectors]
        self.frr_pods = self.pods + [n.name for n in lab.plan.routers]
        self.exempt = [(self.rr.name, self.address)]
        self.count = 0
        self.key = ""

    def send(self, message: bytes, key: str = "") -> Step:
        """One message and its consequences (steps 1-4 of the module's description); `key`:
        the route it carries, as built (the outcome says whether it was reflected)."""
        self.key = key
        self._established()
        self.count += 1
        daemons = invariants.daemons(self.lab, self.frr_pods)
        before = invariants.session_lives(self.lab, self.pods)
        events = len(self.speaker.rib.refresh().events)
        self.wire.mark()
        step = Step("?")
        try:
            self.speaker.send(message, peer=self.rr.name, oversize=True)
            if processed(self.lab, self.exempt[0], before.get(self.exempt[0]), self._ends(events)):
                with contextlib.suppress(DaemonError):  # ended meanwhile: the outcome says so
                    self.speaker.send(self._sentinel(), peer=self.rr.name)
            step.outcome = self._outcome(events)
        except DaemonError as exc:
            step.outcome = "a daemon died"
            step.problems.append(f"a daemon of the lab died: {exc}")
        except WaitTimeout as exc:
            step.outcome = "hang"
            step.problems.append(f"hang: {exc}")
        if step.outcome.startswith(("reset", "closed")) and not self._back():
            step.problems.append(f"the session with {self.rr.name} did not come back")
        step.problems += invariants.daemon_problems(self.lab, daemons)
        try:
            after = invariants.session_lives(self.lab, self.pods)
            step.problems += invariants.flaps(before, after, self.exempt)
        except HarnessError as exc:
            step.problems.append(f"the RR pods' sessions could not be read: {exc}")
        step.problems += self.wire.since()[1]
        return step

    def _ends(self, events: int) -> Callable[[], bool]:
        def ended() -> bool:
            return any(
                e["peer"] == self.rr.address and e.get("state") == "down"
                for e in self.speaker.rib.refresh().events[events:]
            )

        return ended

    def _sentinel(self) -> bytes:
        attributes = Attributes(next_hop=self.address, local_pref=self.count)
        return build_update(Family.IPV4_UNICAST, [SENTINEL], attributes=attributes)

    def _outcome(self, events: int) -> str:
        def look() -> list[dict[str, Any]] | None:
            ended = [
                e
                for e in self.speaker.rib.refresh().events[events:]
                if e["peer"] == self.rr.address and e.get("state") == "down"
            ]
            if ended:
                return ended
            return None if not self._passed_on() else []

        ended = wait_until(
            look,
            lambda seen: seen is not None,
            timeout=STEP_TIMEOUT,
            interval=0.005,
            what=f"{self.rr.name} to end the session or pass the sentinel on to "
            f"{self.witness.name}",
            describe=lambda _: "neither",
            fail_fast=self.lab.frr(self.rr.name).check_alive,
        )
        if not ended:
            if not self.key:  # a replayed message: its route is not known
                return "kept"
            reflected = any(self.key in keys for keys in self.wire.since()[0].values())
            return "kept, reflected" if reflected else "kept, not reflected"
        codes = [
            notification_code(bytes.fromhex(e["hex"]))
            for e in self.speaker.rib.events[events:]
            if e["peer"] == self.rr.address and e["kind"] == "notification"
        ]
        known = [f"{c[0]}/{c[1]}" for c in codes if c]
        if known:
            return f"reset {known[0]}"
        by = next(e.get("closed_by") for e in reversed(ended))  # no NOTIFICATION: who closed
        return f"closed by {'the RR' if by == 'peer' else 'the client'}"

    def _passed_on(self) -> bool:
        rib = self.lab.peer(self.witness.name).rib
        return any(
            r.key == SENTINEL and r.peer == self.rr.address and r.local_pref == self.count
            for r in rib.routes()
        )

    def _established(self) -> None:
        """The client's session with the RR pod up at both ends (RFC 4271 §8.2.2)."""
        driver = driver_for(self.lab.plan)
        wait_until(
            lambda: (
                self.speaker.rib.refresh().sessions.get(self.rr.address),
                driver.sessions(self.lab.frr(self.rr.name)).get(self.address),
            ),
            lambda states: states == ("up", "Established"),
            timeout=RECONNECT_TIMEOUT,
            what=f"{CLIENT}'s session with {self.rr.name} to be Established at both ends",
        )

    def _back(self) -> bool:
        with contextlib.suppress(DaemonError):
            self.speaker.reconnect(self.rr.name)
        try:
            self._established()
        except WaitTimeout:
            return False
        return True


@dataclass
class Summary:
    seed: int
    seconds: float
    messages: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    first_seen: dict[str, int] = field(default_factory=dict)  # outcome -> first message
    findings: list[Finding] = field(default_factory=list)
    elapsed: float = 0.0
    lab: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.messages / self.elapsed if self.elapsed else 0.0

    def line(self) -> str:
        top = ", ".join(f"{k} {v}" for k, v in self.outcomes.most_common(6))
        return (
            f"{self.elapsed:.1f} s: {self.messages} messages ({self.rate:.1f}/s), "
            f"{len(self.findings)} finding(s); outcomes: {top or '-'}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "seconds": self.seconds,
            "elapsed_s": round(self.elapsed, 3),
            "messages": self.messages,
            "messages_per_s": round(self.rate, 2),
            "outcomes": dict(self.outcomes.most_common()),
            "distinct_outcomes": len(self.outcomes),
            "outcome_first_seen": self.first_seen,
            "violations": [asdict(f) for f in self.findings],
            "lab": self.lab,
        }


@contextlib.contextmanager
def fuzz_lab(plan: LabPlan) -> Iterator[tuple[Lab, Fuzzer]]:
    """The lab (every session Established, or a HarnessError naming those that are not)."""
    with NetnsBackend().up(plan, Run(new_run_id()), ESTABLISH_TIMEOUT) as lab:
        if lab.unready:
            raise HarnessError(f"sessions not Established at start-up: {lab.unready}")
        yield lab, Fuzzer(lab)


def fuzz(
    plan: LabPlan,
    *,
    seconds: float,
    seed: int,
    reports: Path,
    say: Callable[[str], None] = print,
) -> Summary:
    """Mutants `0, 1, 2 ...` of `seed` for `seconds` (after the lab is up)."""
    summary = Summary(seed, seconds)
    with fuzz_lab(plan) as (lab, fuzzer):
        summary.lab = _describe(lab, fuzzer)
        started = last = time.monotonic()
        index = 0
        while time.monotonic() - started < seconds:
            m = mutant(seed, index, fuzzer.sender)
            step = fuzzer.send(m.message, m.key)
            summary.messages += 1
            summary.outcomes[step.outcome] += 1
            summary.first_seen.setdefault(step.outcome, index)
            if step.problems:
                summary.findings.append(_keep(reports, m, step, fuzzer))
                say(f"finding at message {index}: {step.problems[0]}")
                if step.fatal:
                    say("the lab is no longer whole: the run stops here")
                    break
            index += 1
            summary.elapsed = time.monotonic() - started
            if time.monotonic() - last >= PROGRESS_EVERY:
                last = time.monotonic()
                say(summary.line())
        summary.elapsed = time.monotonic() - started
    return summary


def replay(plan: LabPlan, messages: list[bytes], say: Callable[[str], None] = print) -> Summary:
    """A saved finding's messages sent again, each judged as a fuzz message."""
    summary = Summary(seed=-1, seconds=0.0)
    with fuzz_lab(plan) as (lab, fuzzer):
        summary.lab = _describe(lab, fuzzer)
        started = time.monotonic()
        for i, message in enumerate(messages):
            step = fuzzer.send(message)
            summary.messages += 1
            summary.outcomes[step.outcome] += 1
            say(f"message {i}: {step.outcome}" + (f"; {step.problems}" if step.problems else ""))
            if step.problems:
                summary.findings.append(Finding(i, "?", (), step.outcome, step.problems))
        summary.elapsed = time.monotonic() - started
    return summary


def _keep(reports: Path, m: Mutant, step: Step, fuzzer: Fuzzer) -> Finding:
    comments = [
        f"rr-harness fuzz --seed {m.seed}: message {m.index} ({m.family}, {m.key})",
        *(f"mutation: {x}" for x in m.mutations),
        f"outcome: {step.outcome}",
        *(f"problem: {p}" for p in step.problems),
        f"replay: rr-harness fuzz --replay {reports / f'seed{m.seed}-{m.index}.hex'}",
    ]
    files = save(
        reports,
        f"seed{m.seed}-{m.index}",
        m.message,
        comments,
        source=fuzzer.address,
        destination=fuzzer.rr.address,
    )
    return Finding(
        m.index, str(m.family), m.mutations, step.outcome, step.problems, [str(f) for f in files]
    )


def _describe(lab: Lab, fuzzer: Fuzzer) -> dict[str, Any]:
    impl, version = implementation(lab)
    return {
        "run_id": lab.run.run_id,
        "sut": lab.plan.sut.values.name,
        "implementation": impl,
        "implementation_version": version,
        "sender": CLIENT,
        "rr": fuzzer.rr.name,
        "wire_witness": fuzzer.witness.name,
    }
