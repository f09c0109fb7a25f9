"""Scenario 2, failover vs table size: the failover suite's first drill (one RR pod deleted,
the replacement discovered and peered) with N EVPN routes per client, timed to full redundancy.

The routes are real: N workloads (static fdb entries, added in one `bridge -batch`) behind the
first router's VNI, which zebra and bgpd turn into N type-2 routes (RFC 7432 §7.2). Every other
router is a judged client. At 100k routes a full table takes FRR seconds to render, so the
sampler asks each router only for its per-peer route counts (`show bgp l2vpn evpn summary
json`, the same cost at any size), every 10 ms, in its own process as in the suite:
- `detection`: every client's session to the deleted pod is down;
- `full redundancy`: every client holds, from each final RR pod, as many routes as it held
  from each before the fault, sessions Established, for good;
- `min routes held`: the fewest routes any client held from its best RR at any sample after
  the fault (less than before: a loss; counted, not named, at this size);
- `resolution`: the largest gap between two samples of one client.

bgpd answers only between two of its work items, so while the replacement's routes are being
processed the samples come far apart. The wire is timed too
(`harness/backends/netns/capture.py`): each client's BGP segments, stamped by the kernel on
arrival, give when the deleted pod's session closed and when the replacement's UPDATEs added
up to every route held before, to the µs.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from dataclasses import dataclass

from harness.backends.netns.capture import Capture, Flow
from harness.backends.netns.lab import NetnsBackend, NetnsLab
from harness.bench.wire import routes_complete_at
from harness.bgp.stream import UPDATE
from harness.cluster.discovery import DiscoveryReconciler
from harness.cluster.pods import DeletionMode
from harness.errors import LabError
from harness.failover import measures as m
from harness.failover.sampler import SAMPLE_INTERVAL, Sampler
from harness.model.plan import LabPlan
from harness.observe.samples import Sample, take_counts
from harness.observe.wait import await_no_problems
from harness.options import ESTABLISH_TIMEOUT
from harness.runtime.run import Run, new_run_id

ESTABLISHED = "Established"


@dataclass
class ScaledFailover:
    routes: int
    hosts_added_s: float
    held_s: float  # hosts added -> every client holds every route via each RR
    held: dict[str, int]  # client -> routes it held from each RR before the fault
    detection_ms: float | None
    full_redundancy_ms: float | None
    wire_detection_ms: float | None  # every client's session to the deleted pod closed (FIN/RST)
    wire_complete_ms: float | None  # the replacement's UPDATEs complete at every client
    wire_max_message: int | None  # the replacement's sessions' maximum size, from their OPENs
    wire_largest_update: int  # octets: the largest UPDATE the replacement sent a client
    min_held: int
    resolution_ms: float
    lateness_ms: float
    samples: int


def failover_at(plan: LabPlan, routes: int, timeout: float) -> ScaledFailover:
    """One drill with `routes` extra routes, in a lab of its own."""
    with NetnsBackend().up(plan, Run(new_run_id()), ESTABLISH_TIMEOUT) as lab:
        if lab.unready:
            raise LabError(f"bench lab: sessions still down: {lab.unready}")
        source = plan.routers[0]
        started = time.monotonic()
        add_hosts(lab, source.name, routes)
        added = time.monotonic() - started
        clients = [p for p in lab.pods.list() if p.spec in plan.routers[1:]]
        reconciler = DiscoveryReconciler(lab.plan, lab.pods, lab.frr)
        with reconciler.running():
            held = _await_held(lab, [c.name for c in clients], routes, timeout)
            all_held = time.monotonic() - started - added
            victim = lab.pods.route_reflectors()[0]
            sockets = lab.sampling.sockets(clients)
            captures = {c.name: Capture(lab.run.namespace(c.name)) for c in clients}
            with contextlib.ExitStack() as stack:
                for capture in captures.values():
                    stack.enter_context(capture)
                sampler = stack.enter_context(Sampler(sockets, set(sockets), mode="counts"))
                t0 = time.monotonic()
                replacement = lab.pods.delete(victim.name, DeletionMode.GRACEFUL)
                assert replacement is not None
                final = {p.ip for p in lab.pods.route_reflectors()}
                _await_whole(lab, sampler, held, final, timeout)
            samples = sampler.snapshot()
        if reconciler.errors:
            raise LabError(f"discovery loop: {reconciler.errors[-1]}")
    names = list(held)
    flows = [f for c in names for f in captures[c].from_peer(replacement.ip)]
    resolution, lateness = m.gaps_ms(samples, t0, SAMPLE_INTERVAL)
    after = [s for s in samples if s.at >= t0 and not s.error]
    return ScaledFailover(
        routes=routes,
        hosts_added_s=added,
        held_s=all_held,
        held=held,
        detection_ms=m.first_time(samples, t0, names, m.sessions_down([victim.ip])),
        full_redundancy_ms=m.restored_at(
            samples, t0, names, lambda latest: not _missing(latest, held, final)
        ),
        wire_detection_ms=_latest_ms([_ended(captures[c].from_peer(victim.ip)) for c in names], t0),
        wire_complete_ms=_latest_ms(
            [routes_complete_at(captures[c].from_peer(replacement.ip), held[c]) for c in names],
            t0,
        ),
        wire_max_message=_negotiated(flows),
        wire_largest_update=max(
            (len(m) for f in flows for _, m in f.messages() if m[18] == UPDATE), default=0
        ),
        min_held=min((max(s.received.values(), default=0) for s in after), default=0),
        resolution_ms=resolution,
        lateness_ms=lateness,
        samples=len(samples),
    )


def _negotiated(flows: list[Flow]) -> int | None:
    """The maximum message size of the sessions (RFC 8654 §4, from their captured OPENs) when
    they all agree; None when they do not or it is not known. A connection that carried no OPEN
    either way (refused before the pod listened) is no session."""
    sizes = {
        f.max_message_size
        for f in flows
        if f.open_message() is not None or (f.reverse and f.reverse.open_message() is not None)
    }
    return sizes.pop() if len(sizes) == 1 else None


def _ended(flows: list[Flow]) -> float | None:
    ends = [f.ended_at() for f in flows]
    return min((e for e in ends if e is not None), default=None)


def _latest_ms(moments: list[float | None], t0: float) -> float | None:
    """ms from t0 to the last of the moments (None if any never came)."""
    if not moments or any(m is None for m in moments):
        return None
    return (max(moments) - t0) * 1000  # type: ignore[type-var]


def add_hosts(lab: NetnsLab, router: str, count: int) -> None:
    """`count` workloads behind the router's VNI: static fdb entries on its host port, in one
    `bridge -batch` inside the router's namespace (netlink one by one takes minutes at 100k)."""
    evpn = lab.plan.topology.node(router).evpn
    if evpn is None:
        raise LabError(f"{router} has no VNI")
    lines = "".join(
        f"fdb replace 02:c0:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}:01 "
        f"dev hp{evpn.vni} master static\n"
        for i in range(count)
    )
    done = subprocess.run(
        ["ip", "netns", "exec", lab.run.namespace(router), "bridge", "-batch", "-"],
        input=lines.encode(),
        capture_output=True,
        check=False,
        timeout=300,
    )
    if done.returncode:
        raise LabError(f"{router}: bridge -batch failed: {done.stderr.decode()[-500:]}")


def _await_held(lab: NetnsLab, clients: list[str], routes: int, timeout: float) -> dict[str, int]:
    """Wait until each client holds the same count, at least `routes`, from every RR pod, and
    the same as at the previous look (the first router's other routes arrive too)."""
    rr_ips = {p.ip for p in lab.pods.route_reflectors()}
    held: dict[str, int] = {}

    def look() -> list[str]:
        problems = []
        for client in clients:
            sample = take_counts(lab.frr(client).vty, client)
            got = {ip: n for ip, n in sample.received.items() if ip in rr_ips}
            count = min(got.values(), default=0)
            if set(got) != rr_ips or len(set(got.values())) != 1 or count < routes:
                problems.append(f"{client}: {got}")
            elif held.get(client) != count:
                problems.append(f"{client}: {count} routes, still changing")
            held[client] = count
        return problems

    await_no_problems(
        look, timeout=timeout, what=f"{routes} routes via each RR pod at every client"
    )
    return held


def _missing(latest: dict[str, Sample], held: dict[str, int], rr_ips: set[str]) -> list[str]:
    return [
        f"{c}: {ip} {s.sessions.get(ip, 'absent')} with {s.received.get(ip, 0)} routes"
        for c, s in latest.items()
        for ip in sorted(rr_ips)
        if s.sessions.get(ip) != ESTABLISHED or s.received.get(ip, 0) < held[c]
    ]


def _await_whole(
    lab: NetnsLab, sampler: Sampler, held: dict[str, int], rr_ips: set[str], timeout: float
) -> None:
    await_no_problems(
        lambda: (
            _missing(sampler.latest(), held, rr_ips)
            if len(sampler.latest()) == len(held)
            else ["no samples yet"]
        ),
        timeout=float(lab.plan.sut.values.timers.hold) + timeout,
        what="full redundancy: every route via each RR pod",
        fail_fast=lab.check_alive,
    )
