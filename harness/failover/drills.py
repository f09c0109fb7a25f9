"""The failover drills: a fault, sampled from just before it until every client is whole again.

Each drill waits for a whole lab (every RR pod ready, every router pointed at exactly the
ready RR pods, every route held via each of them), samples every router pod while it acts, and
returns a `DrillRun`: the samples, the measures and what went wrong. The drills act through the
pod operations (delete, rollout restart, container crash, reschedule) and leave the discovery
loop to do what OpenPERouter's controller would (design, "Controller Changes").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.cluster.discovery import DiscoveryReconciler
from harness.cluster.pods import DeletionMode, HarnessStep, Pod
from harness.drivers.route_server import driver_for
from harness.errors import WaitTimeout, WitnessUndecided
from harness.failover import measures as m
from harness.failover.sampler import Sampler, sampler_for
from harness.failover.wire import WireLoss, window_ms
from harness.failover.witness import WireWitness, canonical, check_samples, disagreements
from harness.model.topology import Role
from harness.observe.route_keys import from_listing
from harness.observe.samples import Sample
from harness.observe.wait import await_no_problems, wait_until

Expected = Mapping[str, frozenset[str]]  # client -> route keys it must hold


@dataclass
class DrillRun:
    """One run of one drill."""

    scenario: str
    variant: str
    t0: float
    measures: m.Measures
    samples: list[Sample]
    marks: dict[str, float | None]  # moment -> ms after the fault (for the figure)
    rr_names: dict[str, str]  # RR pod IP -> pod name, for every RR pod seen
    expected: Expected = field(default_factory=dict)  # routes each router held before
    losses: list[m.Loss] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    stale_kept: int = 0  # routes seen kept as stale (RFC 4724) after the fault
    wire_losses: list[WireLoss] = field(default_factory=list)  # the primary witness's
    disagreements: list[str] = field(default_factory=list)  # between the two witnesses
    harness_ms: dict[str, float] = field(default_factory=dict)  # emulation step -> ms spent
    wire: bool = False  # the wire witness ran (netns); otherwise the samples are the witness

    @property
    def judged_losses(self) -> list[WireLoss] | list[m.Loss]:
        """The losses the verdict names: the wire's, or the samples' where there is no wire."""
        return self.wire_losses if self.wire else self.losses


@dataclass
class Drills:
    lab: Any  # a running lab with `pods` (NetnsPods) and `frr(name)`
    reconciler: DiscoveryReconciler
    timeout: float  # deadline for convergence after a fault (beyond hold timers)
    first_seen: dict[str, frozenset[str]] = field(default_factory=dict)  # per topology router
    unfinished: list[str] = field(default_factory=list)  # the last drill's missed deadline

    # -- the lab's state ----------------------------------------------------------------------
    @property
    def pods(self) -> Any:
        return self.lab.pods

    def rr_pods(self) -> list[Pod]:
        return list(self.pods.route_reflectors())

    def routers(self) -> list[Pod]:
        return [p for p in self.pods.list() if p.role is Role.ROUTER and p.terminating_at is None]

    def hold(self) -> float:
        return float(self.lab.plan.sut.values.timers.hold)

    def await_whole_lab(self) -> Expected:
        """Wait for a whole lab; return the routes each router holds via the RRs."""
        expected: dict[str, frozenset[str]] = {}

        def look() -> list[str]:
            problems: list[str] = []
            rr_ips = {p.ip for p in self.rr_pods()}
            problems += [f"{p.name} not ready" for p in self.rr_pods() if not p.ready]
            for router in self.routers():
                instance = self.lab.frr(router.name)
                wanted = self.lab.plan.render_router(
                    router.spec, self.reconciler.rr_addresses(router)
                )
                if instance.config != wanted:
                    problems.append(f"{router.name} not yet pointed at the ready RR pods")
                sample = self.lab.sampling.take(router.name)
                held = frozenset(k for k, peers in sample.paths.items() if peers & rr_ips)
                if not held:
                    problems.append(f"{router.name} holds no route via the RRs")
                problems += [f"{router.name}: {p}" for p in whole(sample, held, rr_ips, set())]
                expected[router.name] = held
            if problems:
                return problems
            # Every drill ends whole; a route missing now was lost by an earlier drill.
            for router in self.routers():
                first = self.first_seen.setdefault(router.spec.name, expected[router.name])
                problems += [
                    f"{router.name}: {k} gone since the first drill"
                    for k in sorted(first - expected[router.name])
                ]
            return problems

        await_no_problems(
            look,
            timeout=self.timeout,
            what="a whole lab (every route held via every ready RR pod) before the fault",
            fail_fast=self.lab.check_alive,
        )
        return expected

    # -- the drills ---------------------------------------------------------------------------
    def rr_deleted(self, mode: DeletionMode) -> DrillRun:
        """Scenario 1: the oldest RR pod is deleted; the Deployment replaces it."""
        expected = self.await_whole_lab()
        victim, *survivors = self.rr_pods()
        clients = self.routers()
        with self._wire(clients) as wire, self._sampling(clients) as sampler:
            if mode is DeletionMode.SILENT:
                # A lost node: the API learns nothing until the node is evicted, which on a
                # real cluster takes minutes; the lab evicts once every hold timer expired.
                t0 = self.pods.partition(victim.name)
                self._await(
                    sampler,
                    lambda latest: [
                        f"{c} still Established with {victim.ip}"
                        for c, s in latest.items()
                        if s.sessions.get(victim.ip) == m.ESTABLISHED
                    ],
                    f"every router's hold timer for {victim.name} to expire",
                    self.hold() + self.timeout,
                )
            else:
                t0 = time.monotonic()
            replacement = self.pods.delete(victim.name, mode)
            assert replacement is not None
            final = {p.ip for p in self.rr_pods()}
            # A DaemonSet's replacement keeps the node's address: nothing is gone then.
            gone = {victim.ip} - final
            self._await_whole(sampler, expected, final, gone)
        drill_run = self._drill_run(
            "rr-deleted",
            variant=mode.value,
            t0=t0,
            sampler=sampler,
            expected=expected,
            final=final,
            wire=wire,
        )
        self._detected(drill_run, [victim.ip])
        self._ready_mark(drill_run, replacement)
        # Redundancy is the design's answer to a lost RR pod (Key Design Decision 2): with no
        # other replica alive, every loss is still a loss, and the check says why.
        why = "" if survivors else " (no other RR replica: the SUT runs a single one)"
        drill_run.problems += [f"{loss}{why}" for loss in drill_run.judged_losses]
        drill_run.problems += self._sessions_dropped(drill_run, {p.ip for p in survivors})
        drill_run.problems += self._stale_neighbors(gone)
        return drill_run

    def rolling_restart(self) -> DrillRun:
        """Scenario 2: `kubectl rollout restart` of the RR Deployment."""
        expected = self.await_whole_lab()
        old = {p.ip for p in self.rr_pods()}
        clients = self.routers()
        with self._wire(clients) as wire, self._sampling(clients) as sampler:
            t0 = time.monotonic()
            steps = list(self.pods.rollout_restart(self.timeout))
            final = {p.ip for p in self.rr_pods()}
            self._await_whole(sampler, expected, final, old - final)
        drill_run = self._drill_run(
            "rolling-restart",
            variant="all replicas",
            t0=t0,
            sampler=sampler,
            expected=expected,
            final=final,
            wire=wire,
        )
        self._detected(drill_run, [steps[0][0].ip])
        self._ready_mark(drill_run, steps[-1][1])
        drill_run.problems += [str(loss) for loss in drill_run.judged_losses]
        drill_run.problems += self._stale_neighbors(old - final)
        return drill_run

    def all_rrs_down(self) -> DrillRun:
        """Scenario 3: the FRR container of every RR pod crashes at once; the kubelet restarts
        them in place once every router has reacted (withdrawn, or kept stale with RFC 4724)."""
        graceful_restart = self.lab.plan.sut.values.graceful_restart.enabled
        expected = self.await_whole_lab()
        rrs = self.rr_pods()
        ips = {p.ip for p in rrs}
        with self._wire(self.routers()) as wire, self._sampling(self.routers()) as sampler:
            t0 = self.pods.kill_containers([p.name for p in rrs])
            # Wait until every router has reacted: no route via an RR is fresh any more (kept
            # stale with graceful restart, withdrawn without), then let the kubelet restart them.
            self._await(
                sampler,
                lambda latest: [
                    f"{c}: {len(fresh)} route(s) neither stale nor withdrawn"
                    for c, s in latest.items()
                    if (fresh := (expected[c] & s.paths.keys()) - s.stale)
                ],
                "every router to react to the loss of every RR",
                self.hold() + self.timeout,
            )
            self.pods.restart_containers([p.name for p in rrs])
            self._await_whole(sampler, expected, ips, set())
        variant = "graceful restart" if graceful_restart else "no graceful restart"
        drill_run = self._drill_run(
            "all-rrs-down",
            variant=variant,
            t0=t0,
            sampler=sampler,
            expected=expected,
            final=ips,
            wire=wire,
        )
        self._detected(drill_run, ips)
        restarted = [e.at for e in self.pods.events if e.what == "restarted" and e.at >= t0]
        drill_run.measures.replacement_ready_ms = m.ms(max(restarted), t0) if restarted else None
        drill_run.marks["replacement ready"] = drill_run.measures.replacement_ready_ms
        return self._judged_restart(drill_run)

    def rr_pods_restarted(self, mode: DeletionMode) -> DrillRun:
        """Every RR pod deleted at once (with a single RR: the RR restarted); a DaemonSet
        brings each back on its node with its address, and the routers' static neighbors
        reconnect to it. Judged as `all_rrs_down`: the routes withdrawn, or kept as stale with
        graceful restart (RFC 4724 §4.2), then restored. What it costs is the measure."""
        graceful_restart = self.lab.plan.sut.values.graceful_restart.enabled
        expected = self.await_whole_lab()
        rrs = self.rr_pods()
        ips = {p.ip for p in rrs}
        with self._wire(self.routers()) as wire, self._sampling(self.routers()) as sampler:
            t0 = time.monotonic()
            back = [self.pods.delete(p.name, mode) for p in rrs]
            self._await_whole(sampler, expected, ips, set())
        variant = "graceful restart" if graceful_restart else "no graceful restart"
        drill_run = self._drill_run(
            "rr-pods-restarted",
            variant=f"{mode.value}, {variant}",
            t0=t0,
            sampler=sampler,
            expected=expected,
            final=ips,
            wire=wire,
        )
        self._detected(drill_run, ips)
        if back and back[-1] is not None:
            self._ready_mark(drill_run, back[-1])
        return self._judged_restart(drill_run)

    def _judged_restart(self, drill_run: DrillRun) -> DrillRun:
        """Every RR gone and back: with graceful restart nothing is lost (kept as stale), and
        without it nothing is kept as stale (withdrawn at once)."""
        graceful_restart = self.lab.plan.sut.values.graceful_restart.enabled
        t0 = drill_run.t0
        kept = sorted({k for smp in drill_run.samples if smp.at >= t0 for k in smp.stale})
        drill_run.stale_kept = len(kept)
        if graceful_restart:  # RFC 4724 §4.2: the helper keeps the routes, marked stale
            # Whether a router kept a route as stale is in its own RIB, which only the samples
            # see: the wire shows what the RRs sent, and keeps what the OPENs promise to keep.
            drill_run.problems += [
                f"{loss} (graceful restart is enabled: it should have been kept as stale)"
                for loss in drill_run.losses
            ]
        else:  # without graceful restart the routes go at once (RFC 4271 §8.2.2, §9.1.2)
            drill_run.problems += [f"{k} kept as stale without graceful restart" for k in kept]
        return drill_run

    def router_rescheduled(self) -> DrillRun:
        """Scenario 4: a router pod comes back with a new IP; the RRs accept it through their
        listen range, unchanged."""
        expected = self.await_whole_lab()
        victim = next(
            (r for r in self.routers() if not self.lab.plan.external_neighbors(r.spec)),
            self.routers()[-1],
        )
        others = [r for r in self.routers() if r is not victim]
        rrs = self.rr_pods()
        ips = {p.ip for p in rrs}
        before = {p.name: self._rr_config(p) for p in rrs}
        with self._wire(others) as wire, self._sampling([*others, *rrs], routers=others) as sampler:
            t0 = time.monotonic()
            replacement = self.pods.reschedule_router(victim.name)
            sampler.add(self.lab.sampling.sockets([replacement]), judged=False)
            self._await_whole(sampler, expected, ips, set(), also=replacement)
        drill_run = self._drill_run(
            "router-rescheduled",
            variant=victim.spec.name,
            t0=t0,
            sampler=sampler,
            expected=expected,
            final=ips,
            wire=wire,
        )
        # Every other router keeps every route that does not come from the rescheduled one:
        # those it held, and the rescheduled router did not hold via the RRs (its own).
        own = canonical({"v": frozenset(k for r in others for k in expected[r.name])})["v"]
        own -= canonical({"v": expected[victim.name]})["v"]
        drill_run.problems += [
            f"{loss} (it does not come from the rescheduled router)"
            for loss in drill_run.judged_losses
            # the samples name routes as FRR lists them; the wire, canonically
            if (loss.route if drill_run.wire else from_listing(loss.route)) not in own
        ]
        self._detected(drill_run, [victim.ip], clients=[p.name for p in rrs])
        # Established: the rescheduled router's sessions with every RR, through the listen range.
        drill_run.measures.established_ms = m.restored_at(
            drill_run.samples,
            t0,
            [replacement.name],
            m.sessions_up(ips),
        )
        drill_run.marks["established"] = drill_run.measures.established_ms
        self._ready_mark(drill_run, replacement)
        drill_run.problems += [
            f"{name}: configuration changed for the rescheduled router"
            for name, config in before.items()
            if self._rr_config(self.pods.get(name)) != config
        ]
        return drill_run

    # -- helpers ------------------------------------------------------------------------------
    def _wire(self, routers: list[Pod]) -> WireWitness:
        """The primary witness: every BGP segment at each judged router pod, kernel-stamped
        (on a backend that can capture there: the netns one; elsewhere none is taken)."""
        capture = bool(self.lab.wire_capture)
        return WireWitness(
            {p.name: self.lab.run.namespace(p.name) for p in routers if capture},
            {p.name: p.ip for p in routers},
            {p.ip for p in self.rr_pods()},
            self.hold(),
        )

    def _sampling(self, pods: list[Pod], routers: list[Pod] | None = None) -> Sampler:
        return sampler_for(self.lab.sampling, pods, routers)

    def harness_steps(self, since: float) -> list[HarnessStep]:
        """The harness's own emulation work that ended after `since`: pods deleted and created,
        containers killed and restarted, readiness probes, the reconciler's applies."""
        steps = [s for s in getattr(self.pods, "steps", []) if s.ended >= since]
        steps += [
            HarnessStep("reconciler-apply", r.pod, r.started, r.at)
            for r in self.reconciler.history
            if r.at >= since and r.started
        ]
        return sorted(steps, key=lambda s: s.ended)

    def _await(
        self,
        sampler: Sampler,
        problems: Callable[[dict[str, Sample]], list[str]],
        what: str,
        timeout: float,
    ) -> None:
        """Wait for `what`; the deadline is `timeout` after the harness last finished a step of
        its own emulation (so a slow host is never charged to the SUT), at most `timeout`
        beyond the first deadline (an emulation that keeps working does not stretch the wait
        for ever), and each wait says what it saw last. Readiness probes are the kubelet's
        routine, not a step of the fault: they move no deadline."""
        since = time.monotonic()
        cap = since + 2 * timeout

        def emulation_done() -> float:
            steps = [s for s in self.harness_steps(since) if s.what != "readiness-probe"]
            return max((s.ended for s in steps), default=since)

        while True:
            done = emulation_done()
            remaining = min(done + timeout, cap) - time.monotonic()
            try:
                wait_until(
                    lambda: {c: s for c, s in sampler.latest().items() if c in sampler.routers},
                    lambda latest: len(latest) == len(sampler.routers) and not problems(latest),
                    timeout=max(remaining, 0.05),
                    what=what,
                    describe=lambda latest: "; ".join(problems(latest)[:8]) or "no samples yet",
                    fail_fast=self.lab.check_alive,
                )
                return
            except WaitTimeout:
                if emulation_done() <= done or time.monotonic() >= cap:
                    raise  # the harness did nothing more (or enough): the SUT had its time

    def _await_whole(
        self,
        sampler: Sampler,
        expected: Expected,
        rr_ips: set[str],
        gone: set[str],
        also: Pod | None = None,
    ) -> None:
        """Wait until every router holds every route via each RR in `rr_ips` (and none via a
        gone one), all sessions Established: full redundancy."""

        def problems(latest: dict[str, Sample]) -> list[str]:
            out = [
                f"{c}: {p}" for c, s in latest.items() for p in whole(s, expected[c], rr_ips, gone)
            ]
            if also is not None:
                sample = self.lab.sampling.take(also.name)
                held = {k for k, peers in sample.paths.items() if peers & rr_ips}
                if not held:
                    out.append(f"{also.name} holds no route via the RRs yet")
                out += [f"{also.name}: {p}" for p in whole(sample, frozenset(held), rr_ips, gone)]
            return out

        # The deadline counts from the harness's last emulation step (`_await`): missing it is
        # the SUT's failure, judged with the drill's other findings, not an error of the run.
        try:
            self._await(
                sampler,
                problems,
                "full redundancy: every route via each RR pod",
                self.hold() + self.timeout,
            )
        except WaitTimeout as exc:
            self.unfinished.append(f"no full redundancy by the deadline: {exc}")

    def _drill_run(
        self,
        scenario: str,
        *,
        variant: str,
        t0: float,
        sampler: Sampler,
        expected: Expected,
        final: set[str],
        wire: WireWitness,
    ) -> DrillRun:
        samples = sampler.snapshot()
        routers = {c: expected[c] for c in sampler.routers}
        measures = m.Measures(samples=len(samples))
        measures.loss_window_ms, found = m.losses(samples, t0, routers)
        measures.established_ms = m.restored_at(
            samples,
            t0,
            routers,
            m.sessions_up(final),
        )
        measures.full_redundancy_ms = m.restored_at(
            samples,
            t0,
            routers,
            lambda latest: all(not whole(s, routers[c], final, set()) for c, s in latest.items()),
        )
        measures.resolution_ms, measures.sampler_lateness_ms = m.gaps_ms(
            samples, t0, sampler.interval
        )
        rr_names = {p.ip: p.name for p in self.pods.every() if p.role is Role.ROUTE_REFLECTOR}
        drill_run = DrillRun(scenario, variant, t0, measures, samples, {}, rr_names, routers, found)
        drill_run.problems += self.unfinished
        self.unfinished = []
        self._witnesses(drill_run, wire, sampler, seeded=set(wire.seeded))
        self._harness_time(drill_run)
        replicas = self.lab.plan.sut.values.replicas
        if len(self.rr_pods()) != replicas:  # the Deployment's invariant, whatever happened
            drill_run.problems.append(
                f"{len(self.rr_pods())} RR pods after the drill, not replicas: {replicas}: "
                f"{', '.join(p.name for p in self.rr_pods())}"
            )
        drill_run.marks = {
            "fault": 0.0,
            "established": measures.established_ms,
            "full redundancy": measures.full_redundancy_ms,
        }
        return drill_run

    def _harness_time(self, drill_run: DrillRun) -> None:
        """The harness's emulation steps since the fault, per kind (ms), and when it last
        finished one before full redundancy: the SUT's share is what follows."""
        t0, measures = drill_run.t0, drill_run.measures
        steps = self.harness_steps(t0 - 1.0)
        for step in steps:
            if step.started >= t0 - 1.0:  # the fault's own step may begin just before t0
                drill_run.harness_ms[step.what] = drill_run.harness_ms.get(step.what, 0) + step.ms
        drill_run.harness_ms = {k: round(v, 1) for k, v in sorted(drill_run.harness_ms.items())}
        if measures.full_redundancy_ms is not None:
            whole = t0 + measures.full_redundancy_ms / 1000.0
            done = max((s.ended for s in steps if s.ended <= whole), default=t0)
            measures.harness_done_ms = max(m.ms(done, t0), 0.0)
            measures.sut_full_redundancy_ms = measures.full_redundancy_ms - measures.harness_done_ms

    def _witnesses(
        self, drill_run: DrillRun, wire: WireWitness, sampler: Sampler, seeded: set[str]
    ) -> None:
        """The wire's losses, the samples' fitness to corroborate them, and the comparison."""
        samples, t0 = drill_run.samples, drill_run.t0
        if not wire.namespaces:  # no capture on this backend: the samples are the witness
            return
        drill_run.wire = True
        end = max((s.at for s in samples if s.client in sampler.routers), default=t0)
        # The fault window the samples must cover: until full redundancy, or, when it never
        # came, until the last change the wire saw (a SUT waiting out its deadline changes
        # nothing that the samples would have to corroborate).
        full = drill_run.measures.full_redundancy_ms
        window = t0 + full / 1000.0 if full is not None else (wire.last_change() or t0)
        try:
            check_samples(samples, sampler.routers, t0, min(end, max(window, t0)))
        except WitnessUndecided as gap:
            # What the attempt already decided stands (full redundancy missed by the deadline
            # is the latest samples' word): a gap earlier in the window does not undo it.
            if not drill_run.problems:
                raise
            drill_run.problems.append(f"(the samples could not corroborate the wire: {gap})")
            return
        expected = canonical(drill_run.expected)
        rr_ips = set(drill_run.rr_names)
        drill_run.wire_losses = wire.losses(expected, rr_ips, seeded, t0, end)
        drill_run.measures.wire_loss_window_ms = window_ms(drill_run.wire_losses, (end - t0) * 1e3)
        drill_run.disagreements = disagreements(
            drill_run.wire_losses, samples, expected, rr_ips, t0
        )
        drill_run.problems += [f"witnesses disagree: {d}" for d in drill_run.disagreements]

    @staticmethod
    def _detected(
        drill_run: DrillRun, lost: Iterable[str], clients: Iterable[str] | None = None
    ) -> None:
        """Detection: the first moment every client (default: the judged routers) has its
        session to each lost RR pod down."""
        drill_run.measures.detection_ms = m.first_time(
            drill_run.samples,
            drill_run.t0,
            drill_run.expected if clients is None else clients,
            m.sessions_down(list(lost)),
        )

    def _ready_mark(self, drill_run: DrillRun, pod: Pod) -> None:
        ready = pod.ready_at
        drill_run.measures.replacement_ready_ms = m.ms(ready, drill_run.t0) if ready else None
        drill_run.marks["replacement ready"] = drill_run.measures.replacement_ready_ms
        drill_run.marks["detection"] = drill_run.measures.detection_ms

    @staticmethod
    def _sessions_dropped(drill_run: DrillRun, survivors: set[str]) -> list[str]:
        drops = {}
        for s in drill_run.samples:
            if s.at < drill_run.t0 or s.error:
                continue
            for ip in survivors:
                state = s.sessions.get(ip, "absent")
                if state != m.ESTABLISHED:
                    drops.setdefault((s.client, ip), (m.ms(s.at, drill_run.t0), state))
        return [
            f"{client}: session to surviving RR {ip} was {state} {at:.0f} ms after the fault"
            for (client, ip), (at, state) in sorted(drops.items())
        ]

    def _stale_neighbors(self, gone: set[str]) -> list[str]:
        out = []
        for router in self.routers():
            running = self.lab.frr(router.name).query_text("show running-config")
            out += [
                f"{router.name} still has neighbor {ip} (a deleted RR pod)"
                for ip in sorted(gone)
                if f"neighbor {ip} " in running
            ]
        return out

    def _rr_config(self, pod: Pod) -> str:
        """The RR's running configuration (dynamic neighbors never appear in it), as the SUT's
        implementation shows it."""
        return driver_for(self.lab.plan).configuration(self.lab.frr(pod.name))


def whole(sample: Sample, expected: frozenset[str], rr_ips: set[str], gone: set[str]) -> list[str]:
    """What keeps one router from full redundancy: a session to an RR not Established, a route
    missing a path via some RR, a path via a gone RR, a stale path."""
    if sample.error:
        return [f"no answer: {sample.error}"]
    out = [
        f"session to {ip} {sample.sessions.get(ip, 'absent')}"
        for ip in sorted(rr_ips)
        if sample.sessions.get(ip) != m.ESTABLISHED
    ]
    for key in sorted(expected):
        peers = sample.paths.get(key, frozenset())
        if not rr_ips <= peers:
            out.append(f"{key} not via {', '.join(sorted(rr_ips - peers))}")
        if peers & gone:
            out.append(f"{key} still via gone {', '.join(sorted(peers & gone))}")
        if key in sample.stale:
            out.append(f"{key} stale")
    return out
