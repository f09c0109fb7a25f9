"""Scenario 1, reflection throughput: the generator announces N EVPN type-2 routes to every RR
pod; each RR reflects them to K clients (RFC 4456 §6). Then everything is withdrawn.

Measured in wall-clock time on one machine (every speaker stamps what it receives):
- `first_update`: the generator hands its first UPDATE to the kernel; the clock starts;
- generator completion: its last byte handed to the kernel, for every RR. The UPDATEs are
  encoded before the clock starts, packed with as many NLRI as fit, and the socket's buffer
  holds the whole burst, so the generator's part is a memory copy;
- each client's completion: it holds all N routes from every RR pod (RR redundancy: one copy
  per replica, as router pods hold them);
- throughput = N x K / (last client complete - first UPDATE sent);
- withdraw-all: from the first withdrawal sent until no client holds any of the routes.

A result is marked invalid when the generator took more than 1/5 of the SUT's time: then the
figure measures the harness, not the route reflector.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from harness.backends.netns.lab import NetnsBackend, NetnsLab
from harness.bench.burst import BurstTally, encode, routes
from harness.bench.memory import rss_bytes
from harness.bench.topology import GENERATOR, bench_plan, receiver
from harness.bgp.attributes import Attributes
from harness.errors import LabError
from harness.model.sut import SutProfile
from harness.observe.wait import wait_until
from harness.options import ESTABLISH_TIMEOUT
from harness.runtime.run import Run, new_run_id

VNI = 100
GENERATOR_SHARE = 5  # the generator must be at least this many times faster than the SUT


@dataclass
class Reflection:
    """One burst of N routes through the RRs to K clients."""

    routes: int
    clients: int
    encode_s: float = 0.0
    generator_s: float = 0.0  # first UPDATE handed to the kernel -> last one, every RR
    client_s: dict[str, float] = field(default_factory=dict)  # first UPDATE -> client complete
    withdraw_s: float = 0.0
    rss_before: dict[str, int] = field(default_factory=dict)  # RR pod -> bgpd RSS, bytes
    rss_after: dict[str, int] = field(default_factory=dict)

    @property
    def sut_s(self) -> float:
        return max(self.client_s.values())

    @property
    def throughput(self) -> float:
        """Routes delivered per second: N x K / (last client complete - first UPDATE sent)."""
        return self.routes * self.clients / self.sut_s

    @property
    def valid(self) -> bool:
        return self.generator_s * GENERATOR_SHARE <= self.sut_s


def reflect(sut: SutProfile, count: int, clients: int, timeout: float) -> Reflection:
    """Run one burst in a lab of its own (torn down after, whatever happens)."""
    plan = bench_plan(sut, clients)
    with NetnsBackend().up(plan, Run(new_run_id()), ESTABLISH_TIMEOUT) as lab:
        if lab.unready:
            raise LabError(f"bench lab: sessions still down: {lab.unready}")
        return _burst(lab, count, clients, timeout)


def _burst(lab: NetnsLab, count: int, clients: int, timeout: float) -> Reflection:
    result = Reflection(count, clients)
    generator = lab.speaker(GENERATOR)
    local = IPv4Address(generator.sessions[0].local_address)
    asn = lab.plan.sut.values.asn
    started = time.perf_counter()
    burst = routes(count, rd=f"{local}:{VNI}", vni=VNI)
    attributes = Attributes(
        next_hop=str(local),
        local_pref=100,
        ext_communities=(f"target:{asn}:{VNI}", "encap:vxlan"),
    )
    announce = generator.directory / "announce.bin"
    announce.write_bytes(encode(burst, attributes))
    withdraw = generator.directory / "withdraw.bin"
    withdraw.write_bytes(encode(burst, attributes, withdraw=True))
    result.encode_s = time.perf_counter() - started
    rrs = [n.name for n in lab.plan.route_reflectors]
    rr_ips = [lab.plan.cluster_ip(n) for n in lab.plan.route_reflectors]
    tallies = {
        receiver(i): BurstTally(receiver(i), lab.speaker(receiver(i)).directory / "received.jsonl")
        for i in range(1, clients + 1)
    }
    result.rss_before = {rr: rss_bytes(lab.frr(rr)) for rr in rrs}

    sent = [generator.send_burst(announce, rr) for rr in rrs]
    first = min(s[0] for s in sent)
    result.generator_s = max(s[1] for s in sent) - first
    _await_counts(tallies, rr_ips, count, timeout, "every client to hold every route via each RR")
    result.client_s = {
        c: max(t.last_update[ip] for ip in rr_ips) - first for c, t in tallies.items()
    }
    result.rss_after = {rr: rss_bytes(lab.frr(rr)) for rr in rrs}

    sent = [generator.send_burst(withdraw, rr) for rr in rrs]
    first = min(s[0] for s in sent)
    _await_counts(tallies, rr_ips, 0, timeout, "every client to have lost every route")
    result.withdraw_s = max(t.last_update[ip] for t in tallies.values() for ip in rr_ips) - first
    return result


def _await_counts(
    tallies: dict[str, BurstTally], rr_ips: list[str], want: int, timeout: float, what: str
) -> None:
    wait_until(
        lambda: {c: t.counts() for c, t in tallies.items()},
        lambda seen: all(counts.get(ip, 0) == want for counts in seen.values() for ip in rr_ips),
        timeout=timeout,
        what=what,
        describe=lambda seen: {
            c: {ip: counts.get(ip, 0) for ip in rr_ips} for c, counts in seen.items()
        },
    )
