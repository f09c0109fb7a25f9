"""Two witnesses of "no route lost" that must agree: the wire (primary) and the vty samples.

The wire (`harness.failover.wire`) sees every UPDATE and every session's end, to the µs. The
samples see bgpd's table only when asked, and bgpd's table lags the wire by its processing time
(at most VTY_LAG, measured here). So:
- a wire loss is owed to the samples only if some sample was taken wholly inside it (lag
  included): a shorter loss is beyond their resolution, and not a disagreement;
- a sample missing a route is owed to the wire: a wire loss must overlap that sample's span
  (from its question minus VTY_LAG to its answer).
Each disagreement is reported with both sides' evidence.

The samples can corroborate only if they answered: a sample with an error, or two answers of
one router further apart than GAP_BOUND, inside the fault window, leaves the harness unable to
decide (`WitnessUndecided`): that attempt is no evidence either way, and the suite takes it
again (harness.failover.attempts), at most twice per check; then it is an error, never a pass.
What an attempt had already decided (full redundancy missed by its deadline) stands. GAP_BOUND
is 100 ms: ten sampling intervals, over 1.5 times the largest gap measured on this 2-core host
at the default table size (60 ms, a busy bgpd's answer included), and still far below the
outages the suite looks for (the shortest seen, a rollout without minReadySeconds, 2.7 s).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from harness.backends.netns.capture import Capture
from harness.bgp.stream import UPDATE
from harness.errors import WitnessUndecided
from harness.failover import wire
from harness.observe.route_keys import from_listing
from harness.observe.samples import Sample

GAP_BOUND = 0.100  # seconds: the sample witness's largest allowed gap (see above)
VTY_LAG = 0.250  # seconds: how far bgpd's table may trail the wire (UPDATE or close processed)
MS = 1000.0


def canonical(expected: Mapping[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    """Each router's expected routes under their canonical keys."""
    return {r: frozenset(from_listing(k) for k in keys) for r, keys in expected.items()}


def held_via(sample: Sample, rr_ips: set[str]) -> set[str]:
    """The canonical keys a sample shows held via an RR pod (stale paths included)."""
    return {from_listing(k) for k, peers in sample.paths.items() if peers & rr_ips}


def check_samples(
    samples: Iterable[Sample],
    routers: Iterable[str],
    t0: float,
    end: float,
    bound: float = GAP_BOUND,
) -> None:
    """WitnessUndecided, with the evidence, if a judged router's sample failed or its answers
    were further apart than `bound` (GAP_BOUND) between the fault and `end`."""
    wanted = set(routers)
    evidence: list[str] = []
    last: dict[str, Sample] = {}
    for s in sorted(samples, key=lambda s: s.at):
        if s.client not in wanted:
            continue
        before, last[s.client] = last.get(s.client), s
        if s.at < t0 or s.at > end + bound:
            continue
        if s.error:
            evidence.append(
                f"{s.client}: no answer {(s.at - t0) * MS:.0f} ms after the fault: {s.error}"
            )
        if before is not None and s.at - before.at > bound:
            evidence.append(
                f"{s.client}: no answer for {(s.at - before.at) * MS:.0f} ms, from "
                f"{(before.at - t0) * MS:.0f} ms to {(s.at - t0) * MS:.0f} ms after the fault "
                f"(bound {bound * MS:.0f} ms)"
            )
    evidence += [f"{r}: no sample after the fault" for r in sorted(wanted - set(last))]
    if evidence:
        raise WitnessUndecided(
            "the sampled witness cannot corroborate the wire: " + "; ".join(evidence[:10])
        )


def disagreements(
    found: list[wire.WireLoss],
    samples: Iterable[Sample],
    expected: Mapping[str, frozenset[str]],
    rr_ips: set[str],
    t0: float,
) -> list[str]:
    """Losses one witness shows and the other does not (see the module's rules). `expected`:
    canonical keys per router."""
    by: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for x in found:
        end = float("inf") if x.end_ms is None else t0 + x.end_ms / MS
        by.setdefault((x.router, x.route), []).append((t0 + x.start_ms / MS, end))
    out: list[str] = []
    seen: set[tuple[str, str, str]] = set()
    for s in sorted(samples, key=lambda s: s.at):
        if s.client not in expected or s.error or s.at < t0:
            continue
        since, held = min(s.asked_at, s.at) - VTY_LAG, held_via(s, rr_ips)
        for key in expected[s.client]:
            spans = by.get((s.client, key), [])
            wire_lost = any(a <= since and s.at <= b for a, b in spans)
            wire_overlaps = any(a < s.at and since < b for a, b in spans)
            if key in held and wire_lost and (s.client, key, "wire") not in seen:
                seen.add((s.client, key, "wire"))
                out.append(
                    f"{key} at {s.client}: the wire shows it lost, yet the sample answered "
                    f"{(s.at - t0) * MS:.0f} ms after the fault holds it via the RRs"
                )
            if key not in held and not wire_overlaps and (s.client, key, "vty") not in seen:
                seen.add((s.client, key, "vty"))
                out.append(
                    f"{key} at {s.client}: missing from the sample answered "
                    f"{(s.at - t0) * MS:.0f} ms after the fault, yet held on the wire"
                )
    return out


@dataclass
class WireWitness:
    """Captures at each judged router pod while a drill runs (`with`); then its losses."""

    namespaces: Mapping[str, str]  # router pod -> its network namespace
    addresses: Mapping[str, str]  # router pod -> its pod IP
    seeded: set[str]  # the RR pods every router peers with when the capture starts
    hold: float  # the configured hold time (s), for sessions whose OPENs were not captured
    captures: dict[str, Capture] = field(default_factory=dict)
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def __enter__(self) -> WireWitness:
        try:
            for router, namespace in self.namespaces.items():
                self.captures[router] = self._stack.enter_context(Capture(namespace))
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def last_change(self) -> float | None:
        """The last UPDATE or session end captured at any judged router."""
        moments = [
            at
            for capture in self.captures.values()
            for flow in list(capture.flows.values())
            for at in [
                flow.closed_at(),
                *(at for at, m in flow.messages() if m[18] == UPDATE),
            ]
            if at is not None
        ]
        return max(moments, default=None)

    def losses(
        self,
        expected: Mapping[str, frozenset[str]],
        rr_ips: set[str],
        seeded: set[str],
        t0: float,
        end: float,
    ) -> list[wire.WireLoss]:
        """Every wire loss of an expected (canonical) route at each judged router; `rr_ips`:
        every RR pod seen; `seeded`: the RR pods every router peered with before the fault."""
        out: list[wire.WireLoss] = []
        for router, keys in expected.items():
            capture = self.captures[router]
            found = wire.sessions(capture, self.addresses[router], rr_ips, seeded, self.hold)
            spans = wire.adj_rib_in(router, found, keys)
            out += wire.losses(router, spans, keys, t0, end)
        return sorted(out, key=lambda x: (x.start_ms, x.router, x.route))
