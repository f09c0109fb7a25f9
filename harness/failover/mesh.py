"""meshrr failure drills: a route server of a side, or a whole side, goes away.

Clients peer with their side's anycast address, so each holds one path per route; whether a
client keeps its routes depends on which route server it reached. The drills sample every
router pod (and the route servers, for the mesh) as the failover drills do, and produce the same
`DrillRun`s, measures and figures.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from harness.backends.base import sessions
from harness.cluster.discovery import MeshReconciler
from harness.cluster.pods import DeletionMode, Pod
from harness.errors import WaitTimeout
from harness.failover import measures as m
from harness.failover.drills import DrillRun, Expected
from harness.failover.sampler import Sampler, sampler_for
from harness.model.topology import Node, Role
from harness.observe.samples import Sample
from harness.observe.wait import await_no_problems, wait_until


@dataclass
class MeshDrills:
    lab: Any  # a running meshrr lab (pods, anycast holders, frr)
    mesh: MeshReconciler
    timeout: float

    # -- the lab's state ----------------------------------------------------------------------
    def route_servers(self) -> list[Pod]:
        return [p for p in self.lab.pods.route_reflectors() if p.terminating_at is None]

    def routers(self) -> list[Pod]:
        return [p for p in self.lab.pods.list() if p.role is Role.ROUTER]

    def origin(self, key: str) -> Node | None:
        """The router a route key comes from (its RD holds the router id; a /32 is a VTEP)."""
        for router in self.lab.plan.routers:
            evpn = router.evpn
            if f" rd {router.router_id}:" in key or (evpn and key == f"ipv4 {evpn.vtep}/32"):
                return router
        return None

    def mesh_problems(self) -> list[str]:
        """Every serving route server Established with every other one (the full mesh), and
        no longer configured with any that is gone."""
        servers = self.route_servers()
        serving = {p.ip for p in servers}
        gone = {
            p.ip: p.name
            for p in self.lab.pods.every()
            if p.role is Role.ROUTE_REFLECTOR and p.ip not in serving
        }
        out = []
        for rs in servers:
            states = sessions(self.lab, rs.name)
            out += [
                f"{rs.name}: mesh session to {other.name} ({other.ip}) "
                f"{states.get(other.ip, 'absent')}"
                for other in servers
                if other is not rs and states.get(other.ip) != m.ESTABLISHED
            ]
            out += [
                f"{rs.name}: still configured with {gone[ip]} ({ip}), which is gone"
                for ip in states
                if ip in gone
            ]
        return out

    @property
    def mesh_poll_interval(self) -> float:
        """How often meshrr's peer updater looks for route servers (sut.yaml)."""
        mesh = self.lab.plan.mesh
        assert mesh is not None  # MeshDrills run against a meshrr SUT only
        return float(mesh.poll_interval)

    def await_whole_lab(self) -> Expected:
        """Wait for a whole lab: the full mesh, and every router holding every other router's
        routes; return what each router holds. A precondition, not a verdict (timing out is an
        error): a drill judges what a fault costs and that the lab returns, which it cannot
        decide in a lab that was never whole; the mesh forming and routes crossing it are the
        rules of the mesh and cross-side checks, which judge them on the same lab."""
        expected: dict[str, frozenset[str]] = {}

        def look() -> list[str]:
            problems = self.mesh_problems()
            routers = self.routers()
            for router in routers:
                held = frozenset(self.lab.sampling.take(router.name).paths)
                if held != expected.get(router.name):  # steady: the same in two looks
                    problems.append(f"{router.name}'s routes are still changing")
                expected[router.name] = held
                origins = {o.name for k in held if (o := self.origin(k)) is not None}
                problems += [
                    f"{router.name} holds nothing from {other.spec.name}"
                    for other in routers
                    if other is not router and other.spec.name not in origins
                ]
            return problems

        await_no_problems(
            look,
            timeout=self.timeout,
            what="a whole meshrr lab (full mesh, every route everywhere)",
            fail_fast=self.lab.check_alive,
        )
        return expected

    # -- drills -------------------------------------------------------------------------------
    def side_replica_lost(self, *, holder: bool) -> DrillRun:
        """One side-b route server goes (gracefully): the one answering the anycast address
        (its clients' sessions move to the other replica) or the other one."""
        expected = self.await_whole_lab()
        serving = self.lab.anycast_holders["b"]
        side_b = [p for p in self.route_servers() if p.spec.side == "b"]
        victim = next(p for p in side_b if (p.name == serving) == holder)
        return self._drill(
            "side-replica-lost",
            "anycast holder" if holder else "other replica",
            expected,
            [victim],
            kept=None if holder else expected,
        )

    def side_lost(self, side: str) -> DrillRun:
        """Every route server of a side goes: the other side's clients lose that side's routes
        only, and everything returns once the side's route servers are back."""
        expected = self.await_whole_lab()
        victims = [p for p in self.route_servers() if p.spec.side == side]
        kept = {
            c: frozenset(k for k in keys if (o := self.origin(k)) is None or o.side != side)
            for c, keys in expected.items()
            if self.lab.pods.get(c).spec.side != side
        }
        return self._drill("side-lost", f"side {side}", expected, victims, kept=kept)

    def _drill(
        self,
        scenario: str,
        variant: str,
        expected: Expected,
        victims: list[Pod],
        kept: Expected | None,
    ) -> DrillRun:
        routers = self.routers()
        watched = [*routers, *self.route_servers()]
        gone = {p.ip for p in victims}
        with sampler_for(self.lab.sampling, watched, routers) as sampler:
            t0 = time.monotonic()
            replacements = [self.lab.pods.delete(p.name, DeletionMode.GRACEFUL) for p in victims]
            new = [p for p in replacements if p is not None]
            sampler.add(self.lab.sampling.sockets(new), judged=False)
            unfinished = self._await_return(sampler, expected, routers)
        samples = sampler.snapshot()
        measures = m.Measures(samples=len(samples))
        judged = {c: expected[c] for c in sampler.routers}
        measures.loss_window_ms, losses = m.losses(samples, t0, judged)
        measures.detection_ms = m.first_time(
            samples,
            t0,
            [p.name for p in self.route_servers() if p not in new],
            m.sessions_down(gone),
        )
        # Every route back at every router; never, when the lab was not whole by the deadline
        # (the mesh did not re-form: no full redundancy, whatever the routers hold).
        measures.full_redundancy_ms = (
            None
            if unfinished
            else m.restored_at(
                samples, t0, judged, lambda latest: not self._missing(latest, expected, routers)
            )
        )
        measures.established_ms = m.restored_at(
            samples,
            t0,
            judged,
            lambda latest: all(
                any(state == m.ESTABLISHED for state in s.sessions.values())
                for s in latest.values()
            ),
        )
        ready = [p.ready_at for p in new if p.ready_at is not None]
        measures.replacement_ready_ms = m.ms(max(ready), t0) if ready else None
        measures.resolution_ms, measures.sampler_lateness_ms = m.gaps_ms(
            samples, t0, sampler.interval
        )
        rr_names = {p.ip: p.name for p in self.lab.pods.every() if p.role is Role.ROUTE_REFLECTOR}
        drill_run = DrillRun(scenario, variant, t0, measures, samples, {}, rr_names, judged)
        drill_run.losses = losses
        drill_run.marks = {
            "fault": 0.0,
            "detection": measures.detection_ms,
            "replacement ready": measures.replacement_ready_ms,
            "established": measures.established_ms,
            "full redundancy": measures.full_redundancy_ms,
        }
        drill_run.problems += unfinished
        if kept is not None:
            _, lost = m.losses(samples, t0, kept)
            drill_run.problems += [
                f"{loss} (it did not depend on the lost route server)" for loss in lost
            ]
        return drill_run

    def _await_return(self, sampler: Sampler, expected: Expected, routers: list[Pod]) -> list[str]:
        """Wait for the lab to be whole again: every route back at every router, the mesh
        re-formed with the replacements. That return is the drill's own rule (meshrr's peer
        updater meshes a rescheduled route server, its clients peer with it again), so missing
        the deadline is a finding on the SUT, returned and judged with the drill's others; the
        deadline counts from the end of the harness's emulation of the fault (the pods deleted,
        their replacements started) and covers a hold time, the convergence timeout and two
        looks of meshrr's peer updater."""
        values = self.lab.plan.sut.values
        deadline = values.timers.hold + self.timeout + 2 * self.mesh_poll_interval
        try:
            wait_until(
                lambda: (sampler.latest(), self.mesh_problems()),
                lambda seen: not self._missing(seen[0], expected, routers) and not seen[1],
                timeout=deadline,
                what="every route back at every router, and the mesh whole again",
                describe=lambda seen: "; ".join(
                    (self._missing(seen[0], expected, routers) + seen[1])[:8]
                ),
                fail_fast=self.lab.check_alive,
            )
        except WaitTimeout as exc:
            return [f"not whole again {deadline:.1f} s after the fault: {exc.last}"]
        return []

    @staticmethod
    def _missing(
        latest: dict[str, Sample], expected: Expected, routers: Iterable[Pod]
    ) -> list[str]:
        out = []
        for router in routers:
            sample = latest.get(router.name)
            if sample is None:
                out.append(f"{router.name}: no sample yet")
                continue
            missing = expected[router.name] - set(sample.paths)
            if missing:
                out.append(f"{router.name} misses {len(missing)} route(s): {sorted(missing)[:2]}")
        return out
